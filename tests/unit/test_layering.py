"""The package's import structure: no cycles, pytest only in the glue, arrows downwards.

Every module of ``pytest_llmfunnel`` is parsed with :mod:`ast` (nothing is
imported), so the rules hold for imports inside functions and under
``TYPE_CHECKING`` as well. Each failure names the module, the line and the
import, and says what to do.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

PACKAGE = "pytest_llmfunnel"
ROOT = Path(__file__).resolve().parents[2] / PACKAGE

# Folders and top-level modules ("units"), highest first. A unit may import
# itself and any unit of a LOWER tier, never one of its own tier or above.
# "pytest_llmfunnel" is the package's own __init__ (the public API).
TIERS: tuple[frozenset[str], ...] = tuple(
    frozenset(tier.split())
    for tier in (
        "plugin cli testing",
        "hookspecs",
        "shards",
        "pytest_glue",
        "ledger",
        "report",
        "variants",
        "review",
        "gate",
        "endpoint",
        "store",
        "pytest_llmfunnel",
        "funnel",
        "dataset",
        "record flip completeness config tallies",
        "config_options",
        "record_json",
        "models stats escape redact atomic cache_mode",
        "output",
        "wording display jsontypes",
    )
)
# Only these import pytest (never _pytest): the entry point, its hook
# specifications and the glue package.
PYTEST_ALLOWED = ("plugin", "hookspecs", "pytest_glue")
# A function-level import of a package module must be a start-up choice, and
# say so in a comment on its line or right above it (its block of imports).
LAZY_COMMENT = re.compile(r"start-?up|lazy|lazily", re.IGNORECASE)

# Known exceptions, each to be fixed where it lives and then removed here (the
# tests fail on an entry that no longer applies, so the lists only shrink).
# Cycles, as the modules in each (the fix: move what both need a level down).
KNOWN_CYCLES: frozenset[frozenset[str]] = frozenset()
# Imports against the layer order: (importing module, imported module).
KNOWN_UPWARD: frozenset[tuple[str, str]] = frozenset()
# Function-level imports that do not say why they are lazy: each is either a
# start-up choice to comment as such, or an import to move to the module's top.
KNOWN_UNEXPLAINED: frozenset[tuple[str, str]] = frozenset()


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, dotted
    target: str  # the imported package module, dotted
    line: int
    text: str  # the import statement as written
    in_function: bool
    type_only: bool  # under ``if TYPE_CHECKING:``
    explained: bool  # a start-up comment on its line or right above its block

    def where(self) -> str:
        path = module_paths()[self.module].relative_to(ROOT.parent).as_posix()
        return f"{path}:{self.line}: {self.text}"


@cache
def module_paths() -> dict[str, Path]:
    found = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def unit_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else PACKAGE


def _resolve(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module.split(".")
    if module_paths()[module].name != "__init__.py":
        package.pop()
    package = package[: len(package) - node.level + 1]
    return ".".join(package + ([node.module] if node.module else []))


def _explained(lines: list[str], node: ast.stmt, block_start: int) -> bool:
    """A start-up comment on the import's lines, or in the comment lines above its block."""
    end = node.end_lineno or node.lineno
    if any(LAZY_COMMENT.search(lines[n - 1].partition("#")[2]) for n in range(node.lineno, end + 1)
           if "#" in lines[n - 1]):
        return True
    n = block_start - 1
    while n >= 1 and lines[n - 1].strip().startswith("#"):
        if LAZY_COMMENT.search(lines[n - 1]):
            return True
        n -= 1
    return False


class _Visitor:
    """Collects the imports of one module, noting where each one sits."""

    def __init__(self, module: str, lines: list[str]) -> None:
        self.module = module
        self.lines = lines
        self.found: list[Import] = []
        self.pytest_imports: list[tuple[str, int, str]] = []

    def targets(self, node: ast.stmt) -> list[str]:
        """The package modules ``node`` imports; notes an import of pytest."""
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
            if any(n.split(".")[0] in ("pytest", "_pytest") for n in names):
                self.pytest_imports.append((self.module, node.lineno, ast.unparse(node)))
            return [n for n in names if n.split(".")[0] == PACKAGE]
        if isinstance(node, ast.ImportFrom):
            base = _resolve(self.module, node)
            if base.split(".")[0] in ("pytest", "_pytest"):
                self.pytest_imports.append((self.module, node.lineno, ast.unparse(node)))
            if base.split(".")[0] != PACKAGE:
                return []
            modules = module_paths()
            return sorted({
                f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base
                for a in node.names
            })
        return []

    def visit(self, node: ast.AST, in_function: bool, type_only: bool) -> None:
        block_start = 0
        previous_was_import = False
        for child in ast.iter_child_nodes(node):
            is_import = isinstance(child, (ast.Import, ast.ImportFrom))
            if is_import and not previous_was_import:
                block_start = child.lineno  # type: ignore[attr-defined]
            previous_was_import = is_import
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                explained = _explained(self.lines, child, block_start)
                for target in self.targets(child):
                    self.found.append(Import(
                        self.module, target, child.lineno, ast.unparse(child), in_function,
                        type_only, explained,
                    ))
            nested_type_only = type_only or (
                isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test)
            )
            nested_function = in_function or isinstance(
                child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
            )
            self.visit(child, nested_function, nested_type_only)


@cache
def all_imports() -> tuple[tuple[Import, ...], tuple[tuple[str, int, str], ...]]:
    """Every import of a package module; and every import of pytest (module, line, text)."""
    found: list[Import] = []
    pytest_imports: list[tuple[str, int, str]] = []
    for module, path in module_paths().items():
        source = path.read_text(encoding="utf-8")
        visitor = _Visitor(module, source.splitlines())
        visitor.visit(ast.parse(source, filename=str(path)), False, False)
        found += visitor.found
        pytest_imports += visitor.pytest_imports
    return tuple(found), tuple(pytest_imports)


def _tier(unit: str) -> int:
    for index, tier in enumerate(TIERS):
        if unit in tier:
            return index
    raise AssertionError(f"{unit!r} is in no tier of TIERS in {Path(__file__).name}: place it")


def test_every_unit_has_a_tier() -> None:
    units = {unit_of(m) for m in module_paths()}
    placed = set().union(*TIERS)
    assert not units - placed, f"place these in TIERS: {sorted(units - placed)}"
    assert not placed - units, f"TIERS names what does not exist: {sorted(placed - units)}"


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            connect(node)
    return found


def test_no_import_cycle() -> None:
    """No cycle between modules, counting imports inside functions and for typing only."""
    imports, _ = all_imports()
    edges: dict[str, set[str]] = {}
    for imp in imports:
        # A package's __init__ is not a dependency of its own modules' imports of siblings.
        if imp.target != imp.module and not imp.module.startswith(imp.target + "."):
            edges.setdefault(imp.module, set()).add(imp.target)
    problems = []
    found = _cycles(edges)
    for component in found:
        members = set(component)
        if frozenset(members) in KNOWN_CYCLES:
            continue
        links = [imp.where() for imp in imports
                 if imp.module in members and imp.target in members and imp.module != imp.target]
        problems.append("cycle between " + ", ".join(component) + ":\n    " + "\n    ".join(links))
    assert not problems, "import cycles (move the shared part down a level):\n  " + "\n  ".join(
        problems
    )
    stale = [sorted(c) for c in KNOWN_CYCLES if sorted(c) not in found]
    assert not stale, f"no longer a cycle, so remove from KNOWN_CYCLES: {stale}"


def test_pytest_only_in_the_glue() -> None:
    _, pytest_imports = all_imports()
    wrong = [
        f"{module}:{line}: {text}"
        for module, line, text in pytest_imports
        if unit_of(module) not in PYTEST_ALLOWED or "_pytest" in text.split()[1]
    ]
    assert not wrong, (
        "only plugin.py, hookspecs.py and pytest_glue/ import pytest, and never _pytest "
        "(use the public pytest API):\n  " + "\n  ".join(wrong)
    )


def test_imports_point_downwards() -> None:
    imports, _ = all_imports()
    wrong = []
    upward = set()
    for imp in imports:
        src, dst = unit_of(imp.module), unit_of(imp.target)
        if src == dst or _tier(dst) > _tier(src):
            continue
        upward.add((imp.module, imp.target))
        if (imp.module, imp.target) not in KNOWN_UPWARD:
            wrong.append(f"{imp.where()}  ({src} must not import {dst})")
    order = " > ".join("(" + ", ".join(sorted(t)) + ")" if len(t) > 1 else next(iter(t))
                       for t in TIERS)
    assert not wrong, f"imports against the layer order {order}:\n  " + "\n  ".join(wrong)
    stale = sorted(KNOWN_UPWARD - upward)
    assert not stale, f"fixed, so remove from KNOWN_UPWARD: {stale}"


def test_function_level_imports_are_start_up_choices() -> None:
    imports, _ = all_imports()
    unexplained = [imp for imp in imports
                   if imp.in_function and not imp.type_only and not imp.explained]
    new = [imp for imp in unexplained if (imp.module, imp.target) not in KNOWN_UNEXPLAINED]
    assert not new, (
        "imports inside functions must be start-up choices commented as such (a comment "
        "with 'start-up' or 'lazy' on the line or right above the import block); "
        "otherwise import at the module's top:\n  " + "\n  ".join(i.where() for i in new)
    )
    seen = {(i.module, i.target) for i in unexplained}
    stale = sorted(KNOWN_UNEXPLAINED - seen)
    assert not stale, f"fixed, so remove from KNOWN_UNEXPLAINED: {stale}"


def test_cycle_finder_finds_a_cycle_through_three_modules() -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set()}
    assert _cycles(edges) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []

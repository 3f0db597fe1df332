"""The test tree keeps its own rules: where a test lives, what it imports, how it treats time."""

from __future__ import annotations

import ast
import itertools
from collections.abc import Iterator
from pathlib import Path

from tests.support.paths import TESTS

CLOCKS = {"monotonic", "perf_counter", "time", "process_time_ns", "monotonic_ns"}
HEAVY = {"pytester", "JudgeServer", "judge_server", "subprocess", "plugin_args"}


def modules(*folders: str) -> Iterator[Path]:
    for folder in folders or ("",):
        yield from sorted((TESTS / folder).rglob("*.py"))


def parsed(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def imported(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def test_no_test_module_imports_conftest_or_another_test_module() -> None:
    found = [
        f"{path.relative_to(TESTS)}: {name}"
        for path in modules()
        for name in imported(parsed(path))
        if name.split(".")[0] == "conftest" or name.split(".")[-1].startswith("test_")
    ]
    assert found == [], "shared helpers belong in tests/support/"


def test_unit_tests_use_no_pytester_server_or_subprocess() -> None:
    found = []
    for path in modules("unit"):
        tree = parsed(path)
        used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        used |= {a.arg for n in ast.walk(tree) if isinstance(n, ast.arguments)
                 for a in (*n.args, *n.kwonlyargs)}
        used |= {name.split(".")[0] for name in imported(tree)}
        used |= {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
        found += [f"{path.relative_to(TESTS)}: {name}" for name in sorted(used & HEAVY)]
    assert found == [], "move these to tests/integration/"


def reads_the_clock(node: ast.AST) -> bool:
    """Whether ``node`` calls ``time.monotonic()`` and the like, or names a measured time."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and sub.id in ("elapsed", "started"):
            return True
        if (
            isinstance(sub, ast.Call)
            and isinstance(sub.func, ast.Attribute)
            and isinstance(sub.func.value, ast.Name)
            and sub.func.value.id == "time"
            and sub.func.attr in CLOCKS
        ):
            return True
    return False


def upper_bounds_on_time(tree: ast.Module) -> Iterator[int]:
    """Lines asserting that measured time stays below a limit (``elapsed < 2``).

    A loop's ``deadline`` (a safety net that ends a wait) is not a measure.
    """
    for node in ast.walk(tree):
        if not isinstance(node, ast.Assert):
            continue
        for compare in (n for n in ast.walk(node.test) if isinstance(n, ast.Compare)):
            pairs = itertools.pairwise([compare.left, *compare.comparators])
            for op, (left, right) in zip(compare.ops, pairs, strict=True):
                if isinstance(op, (ast.Lt, ast.LtE)):
                    small, big = left, right
                elif isinstance(op, (ast.Gt, ast.GtE)):
                    small, big = right, left
                else:
                    continue
                deadline = isinstance(big, ast.Name) and big.id == "deadline"
                if reads_the_clock(small) and not deadline:
                    yield node.lineno


def test_no_test_asserts_that_wall_clock_time_stays_below_a_limit() -> None:
    # Under load every such limit is eventually missed: inject the clock and the sleep
    # (tests.support.clock) and assert the waits, or assert order and counts.
    found = [
        f"{path.relative_to(TESTS)}:{line}"
        for path in modules()
        for line in upper_bounds_on_time(parsed(path))
    ]
    assert found == []

"""One helper of each kind: no module cuts text or shortens a path its own way.

The package is read as source (``ast``), so a new hand-made cut such as
``text[:39] + "…"`` or a new ``path.relative_to(root)`` for display fails here
with the file and line, and the fix is to call :mod:`pytest_llmfunnel.display`.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest_llmfunnel

PACKAGE = Path(pytest_llmfunnel.__file__).parent
DISPLAY = PACKAGE / "display.py"


def _modules() -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        if path != DISPLAY:
            name = path.relative_to(PACKAGE).as_posix()
            yield name, ast.parse(path.read_text(encoding="utf-8"), filename=name)


def _is_cut(node: ast.expr) -> bool:
    """``x[:n]`` or ``x[: n - 1]``: a slice from the start."""
    return (
        isinstance(node, ast.Subscript)
        and isinstance(node.slice, ast.Slice)
        and node.slice.lower is None
        and node.slice.upper is not None
    )


def _is_ellipsis(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value.startswith(("…", "..."))
    return isinstance(node, ast.Name) and node.id == "ELLIPSIS"


def test_no_module_cuts_text_and_appends_an_ellipsis_itself() -> None:
    found = [
        f"{name}:{node.lineno}"
        for name, tree in _modules()
        for node in ast.walk(tree)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add)
        and _is_cut(node.left) and _is_ellipsis(node.right)
    ]
    assert found == [], f"use pytest_llmfunnel.display.truncate at {found}"


def test_no_module_shortens_a_path_for_display_itself() -> None:
    found = [
        f"{name}:{node.lineno}"
        for name, tree in _modules()
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
        and node.func.attr == "relative_to"
    ]
    assert found == [], f"use pytest_llmfunnel.display.shown_path at {found}"


def test_the_scan_finds_what_it_looks_for() -> None:
    tree = ast.parse('a = text[: limit - 1] + "…"\nb = path.relative_to(root)\n')
    cuts = [n for n in ast.walk(tree) if isinstance(n, ast.BinOp)
            and _is_cut(n.left) and _is_ellipsis(n.right)]
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)
             and isinstance(n.func, ast.Attribute) and n.func.attr == "relative_to"]
    assert len(cuts) == 1 and len(calls) == 1

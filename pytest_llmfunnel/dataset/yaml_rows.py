"""Reading a YAML dataset with PyYAML's safe loader, within limits it does not set itself.

The safe loader builds no Python objects from tags, but it lets aliases
repeat anchors without limit: a 1 KB file of nested anchors ("billion
laughs") expands to billions of values, and everything that walks the loaded
data then runs for minutes. It also keeps the last of two equal keys and
raises bare errors for recursive aliases, deep nesting and huge integers.
So the node tree is checked before anything is built from it, in one pass
that visits each node once: aliases may add at most ``ALIAS_FACTOR`` times the
values the file itself holds (plus ``ALIAS_ALLOWANCE``), which keeps the cost
of loading proportional to the file's size while letting every case share a
context block. PyYAML is imported only when a YAML file is read, so it stays
an optional extra.
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import Any

from pytest_llmfunnel.dataset.json_rows import MAX_DEPTH, MAX_INT_DIGITS, deeper_than
from pytest_llmfunnel.dataset.raw import DatasetError, RawRow, kind, read_text

__all__ = ["ALIAS_ALLOWANCE", "ALIAS_FACTOR", "read_yaml"]

_YAML_HINT = 'reading YAML datasets needs PyYAML: pip install "pytest-llmfunnel[yaml]"'
#: Aliases may expand the file to this many times the values it holds ...
ALIAS_FACTOR = 10
#: ... plus this many: 500 cases sharing a 200-item context block stay well inside.
ALIAS_ALLOWANCE = 100_000
_MERGE = "tag:yaml.org,2002:merge"
_INT = "tag:yaml.org,2002:int"


def read_yaml(path: Path) -> Generator[RawRow, None, None]:
    """Yield each case of a YAML file (a list, or a mapping with a ``cases:`` list)."""
    try:
        import yaml
    except ImportError:
        raise DatasetError(path, _YAML_HINT) from None
    # Composing the node tree first gives every list item its source line for free.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(read_text(path))
    try:
        root = loader.get_single_node()
        if root is not None:
            _check_nodes(path, root, yaml)
        data = None if root is None else loader.construct_document(root)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        context, start = getattr(exc, "context", None), getattr(exc, "context_mark", None)
        if context and start is not None:
            problem += f" ({context} on line {start.line + 1})"
        line = None if mark is None else mark.line + 1
        raise DatasetError(path, f"not valid YAML: {problem}", line=line) from None
    except RecursionError:  # the pure-Python composer recurses once per nesting level
        message = f"lists and mappings nested more than {MAX_DEPTH} levels deep; flatten them"
        raise DatasetError(path, message) from None
    finally:
        loader.dispose()
    if root is None:
        return
    nodes: list[Any] = root.value if isinstance(root, yaml.SequenceNode) else []
    if isinstance(data, dict) and isinstance(data.get("cases"), list):
        nodes = next(v.value for k, v in root.value if k.value == "cases")
        data = data["cases"]
    if not isinstance(data, list):
        keys = ", ".join(map(str, data)) if isinstance(data, dict) else ""
        raise DatasetError(
            path,
            "the top level must be a list of cases or a mapping with a 'cases:' list; found "
            + (f"a mapping with keys {keys}" if keys else kind(data)),
            line=root.start_mark.line + 1,
        )
    for index, item in enumerate(data):
        line = nodes[index].start_mark.line + 1 if index < len(nodes) else None
        if not isinstance(item, dict):
            message = f"each case must be a mapping, got {kind(item)}"
            raise DatasetError(path, message, line=line, item=index)
        for key, value in item.items():
            if deeper_than(value, MAX_DEPTH - 1):
                message = f"lists and mappings nested more than {MAX_DEPTH} levels deep"
                raise DatasetError(path, message + "; flatten the value", line, str(key), index)
        yield line, index, item, False


def _check_nodes(path: Path, root: Any, yaml: Any) -> None:
    """One pass over the node graph, each node once: refuse recursive aliases, expansion
    beyond the limit, duplicate keys and integers too long to convert."""
    size: dict[int, int] = {}  # node -> values it stands for once aliases are expanded
    on_path: set[int] = set()
    reused: tuple[int, Any] = (0, None)  # the largest node reached more than once
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        children = _children(node, yaml)
        if done:
            on_path.discard(key)
            size[key] = 1 + sum(size[id(child)] for child in children)
            continue
        if key in size:
            if size[key] > reused[0]:
                reused = (size[key], node)
            continue
        if key in on_path:
            message = "an alias refers to itself or to a value that contains it; remove the loop"
            raise DatasetError(path, message, line=node.start_mark.line + 1)
        if isinstance(node, yaml.ScalarNode):
            _check_scalar(path, node)
            size[key] = 1
            continue
        if isinstance(node, yaml.MappingNode):
            _check_keys(path, node, yaml)
        on_path.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in reversed(children))
    distinct, expanded = len(size), size[id(root)]
    limit = ALIAS_FACTOR * distinct + ALIAS_ALLOWANCE
    if expanded > limit:
        anchor = reused[1]
        message = (
            f"aliases would expand this file to {expanded:,} values, from the {distinct:,} it "
            f"holds (at most {limit:,} are allowed: {ALIAS_FACTOR} times the file's own plus "
            f"{ALIAS_ALLOWANCE:,}); the anchor on this line stands for {reused[0]:,} values "
            "and aliases repeat it: use fewer aliases of large anchors"
        )
        raise DatasetError(path, message, line=anchor.start_mark.line + 1)


def _children(node: Any, yaml: Any) -> list[Any]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _check_keys(path: Path, node: Any, yaml: Any) -> None:
    seen: dict[tuple[str, str], int] = {}
    for key, _ in node.value:
        if not isinstance(key, yaml.ScalarNode) or key.tag == _MERGE:
            continue
        line = key.start_mark.line + 1
        first = seen.get((key.tag, key.value))
        seen.setdefault((key.tag, key.value), line)
        if first is not None:
            message = (
                f"duplicate key {key.value!r} in one mapping (first on line {first}); YAML "
                "readers keep only one of them: remove or rename one"
            )
            raise DatasetError(path, message, line=line)


def _check_scalar(path: Path, node: Any) -> None:
    if node.tag == _INT:
        digits = sum(char.isalnum() for char in node.value.lower().removeprefix("0x"))
        if digits > MAX_INT_DIGITS:
            message = (
                f"integer with {digits} digits (at most {MAX_INT_DIGITS}); quote it to keep "
                "it as a string"
            )
            raise DatasetError(path, message, line=node.start_mark.line + 1)

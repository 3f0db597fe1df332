"""The user documentation stays true to the code.

Every option of ``config.OPTIONS`` is in the configuration table with its
spellings; every flag, ini key and environment variable any page names
exists; every relative link (and its anchor) resolves; the CI workflow parses
and carries the report's real marker; code blocks compile; and the getting
started walk-through produces the output it shows.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from pytest_llmfunnel.config import OPTIONS
from pytest_llmfunnel.pytest_glue.end_of_run import STEP_SUMMARY
from pytest_llmfunnel.report.markdown import MARKER
from tests.support.paths import REPO

ROOT = REPO
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))
# Pages the docs promise; the link test then covers each of them.
GUIDES = (
    "getting-started.md", "concepts.md", "configuration.md", "judges.md", "cache.md",
    "gate.md", "ci.md", "comparison.md",
)
REFERENCE = ("calibration.md", "json-schema.md", "reliability.md", "sample-report.md")

# A backtick fence's info string holds no backtick (CommonMark), so ```` `x` ```` is no fence.
FENCE = re.compile(r"^(```+|~~~+)[ \t]*([\w+-]*)[^\n`]*\n(.*?)^\1[ \t]*$", re.S | re.M)
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1", re.S)
HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$", re.M)


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def code_blocks(text: str, language: str | None = None) -> list[str]:
    """The fenced code blocks of a Markdown text, optionally of one language."""
    return [body for _, lang, body in FENCE.findall(text) if language in (None, lang)]


def prose(text: str) -> str:
    """The text outside fenced code blocks and inline code spans."""
    return INLINE_CODE.sub("", FENCE.sub("", text))


def prose_lines(text: str) -> list[str]:
    """The lines outside fenced code blocks (inline code kept: tables contain it)."""
    return FENCE.sub("", text).splitlines()


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to dashes."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link keeps its text
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading anchor of a Markdown file, with GitHub's -1, -2 for repeats."""
    seen: dict[str, int] = {}
    out = set()
    for _, title in HEADING.findall(FENCE.sub("", read(path))):
        base = slug(title)
        count = seen.get(base, 0)
        seen[base] = count + 1
        out.add(base if count == 0 else f"{base}-{count}")
    return out


def test_the_promised_pages_exist() -> None:
    missing = [name for name in ("index.md", *GUIDES, *REFERENCE) if not (DOCS / name).is_file()]
    assert not missing


def test_the_index_links_every_guide_and_reference_page() -> None:
    linked = {target.split("#")[0] for target in LINK.findall(prose(read(DOCS / "index.md")))}
    missing = [name for name in (*GUIDES, *REFERENCE) if name not in linked]
    assert not missing, f"docs/index.md does not link {missing}"


# --- (a) every option is documented with all its spellings ------------------------


def option_rows() -> dict[str, str]:
    """Table rows of docs/configuration.md, keyed by the flag in their first cell."""
    rows = {}
    for line in read(DOCS / "configuration.md").splitlines():
        match = re.match(r"\|\s*`(--llm-funnel[a-z-]*)`\s*\|", line)
        if match:
            rows[match.group(1)] = line
    return rows


@pytest.mark.parametrize("option", OPTIONS, ids=[o.name for o in OPTIONS])
def test_every_option_has_a_row_with_its_flag_ini_key_and_env_var(option: Any) -> None:
    row = option_rows().get(option.flag)
    assert row is not None, f"{option.flag} has no row in docs/configuration.md"
    assert f"`{option.env}`" in row
    if option.ini:
        assert f"`{option.ini_key}`" in row
    else:
        assert option.ini_key not in row, f"{option.ini_key} is not an ini key"
        assert "not in ini files" in row


def test_the_configuration_table_has_no_row_for_an_unknown_flag() -> None:
    known = {o.flag for o in OPTIONS} | {"--llm-funnel"}
    assert set(option_rows()) - known == set()


def test_every_flag_ini_key_and_env_var_the_docs_name_exists() -> None:
    flags = {o.flag for o in OPTIONS} | {"--llm-funnel"}
    ini_keys = {o.ini_key for o in OPTIONS if o.ini}
    env_vars = {o.env for o in OPTIONS} | {"LLM_FUNNEL", "LLM_FUNNEL_API_KEY"}
    unknown = set()
    for page in PAGES:
        text = read(page)
        unknown |= {f"{page.name}: {f}" for f in re.findall(r"--llm-funnel(?:-[a-z]+)*", text)
                    if f not in flags}
        # An ini key is written llm_funnel_<name> (a JUnit property is llm_funnel.<stage>).
        unknown |= {f"{page.name}: {k}" for k in re.findall(r"\bllm_funnel_[a-z_]*[a-z]", text)
                    if k not in ini_keys}
        unknown |= {f"{page.name}: {e}" for e in re.findall(r"\bLLM_FUNNEL(?:_[A-Z]+)*", text)
                    if e not in env_vars}
    assert not unknown, sorted(unknown)


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_every_table_row_has_as_many_cells_as_its_header(page: Path) -> None:
    """GitHub splits a table row at every unescaped pipe, even inside a code span."""
    problems = []
    table: list[str] = []
    for line in [*prose_lines(read(page)), ""]:
        if line.startswith("|"):
            table.append(line)
            continue
        widths = [len(re.findall(r"(?<!\\)\|", row)) for row in table]
        problems += [row for row, width in zip(table, widths, strict=True) if width != widths[0]]
        table = []
    assert not problems, problems


# --- (b) links ----------------------------------------------------------------------


def relative_links() -> list[tuple[str, str]]:
    out = []
    for page in PAGES:
        for target in LINK.findall(prose(read(page))):
            if not re.match(r"[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto: ...
                out.append((page.name, target))
    return out


def test_the_docs_have_relative_links_to_check() -> None:
    assert len(relative_links()) >= 30


@pytest.mark.parametrize(("page", "target"), relative_links())
def test_every_relative_link_resolves(page: str, target: str) -> None:
    path, _, anchor = target.partition("#")
    resolved = (DOCS / path).resolve() if path else DOCS / page
    assert resolved.exists(), f"docs/{page} links {target!r}: no such file"
    if anchor and resolved.suffix == ".md":
        assert anchor in anchors(resolved), (
            f"docs/{page} links {target!r}: {resolved.name} has no heading with that anchor"
        )


def test_slugs_follow_github() -> None:
    assert slug("The `llm_dataset` marker") == "the-llm_dataset-marker"
    assert slug("The lockfile: verdicts a repository can commit") == (
        "the-lockfile-verdicts-a-repository-can-commit"
    )
    assert slug("Why did it miss? `--llm-funnel-explain-cache`") == (
        "why-did-it-miss---llm-funnel-explain-cache"
    )


# --- (c) the CI workflow ----------------------------------------------------------


def workflow() -> tuple[str, dict[Any, Any]]:
    """The GitHub Actions workflow block of docs/ci.md, as text and parsed."""
    yaml = pytest.importorskip("yaml")
    blocks = [b for b in code_blocks(read(DOCS / "ci.md"), "yaml")
              if "runs-on:" in b and "--llm-funnel-shard" not in b]  # the sharded one aside
    assert len(blocks) == 1, "docs/ci.md should hold exactly one GitHub Actions workflow"
    parsed = yaml.safe_load(blocks[0])
    assert isinstance(parsed, dict)
    return blocks[0], parsed


def test_every_yaml_block_in_the_ci_guide_parses() -> None:
    yaml = pytest.importorskip("yaml")
    blocks = code_blocks(read(DOCS / "ci.md"), "yaml")
    assert len(blocks) >= 3
    for block in blocks:
        assert yaml.safe_load(block) is not None


def test_the_workflow_posts_the_report_under_the_plugins_own_marker() -> None:
    text, parsed = workflow()
    assert MARKER in text
    steps = parsed["jobs"]["evals"]["steps"]
    script = next(s["with"]["script"] for s in steps if "github-script" in s.get("uses", ""))
    assert MARKER in script
    assert "updateComment" in script and "createComment" in script


def test_the_workflow_runs_the_evals_and_keeps_the_cache() -> None:
    _, parsed = workflow()
    triggers = parsed.get("on", parsed.get(True))  # YAML 1.1 reads the key on: as True
    assert isinstance(triggers, dict) and "pull_request" in triggers
    steps = parsed["jobs"]["evals"]["steps"]
    runs = " ".join(s.get("run", "") for s in steps)
    for flag in ("--llm-funnel", "--llm-funnel-report=llm-report.md",
                 "--llm-funnel-json=llm-results.json"):
        assert flag in runs
    # The plugin appends the report to the job summary itself; the doc says so.
    assert STEP_SUMMARY not in runs
    assert f"${STEP_SUMMARY}" in read(DOCS / "ci.md")
    uses = [s for s in steps if "actions/cache" in s.get("uses", "")]
    cache_steps = {s["uses"].split("@")[0]: s for s in uses}
    assert set(cache_steps) == {"actions/cache/restore", "actions/cache/save"}
    assert all(s["with"]["path"] == ".llmfunnel/cache" for s in cache_steps.values())
    assert cache_steps["actions/cache/save"]["if"] == "always()"


# --- (d) code blocks ----------------------------------------------------------------


PYTHON_BLOCKS = [
    (page.name, index, block)
    for page in PAGES
    for index, block in enumerate(code_blocks(read(page), "python"))
]


def test_getting_started_has_python_blocks() -> None:
    assert any(page == "getting-started.md" for page, _, _ in PYTHON_BLOCKS)


@pytest.mark.parametrize(
    ("page", "index", "block"), PYTHON_BLOCKS, ids=[f"{p}-{i}" for p, i, _ in PYTHON_BLOCKS]
)
def test_python_blocks_compile(page: str, index: int, block: str) -> None:
    compile(block, f"docs/{page} block {index}", "exec")


# --- the walk-through does what it says ---------------------------------------------

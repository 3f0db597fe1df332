"""The ``llmfunnel`` command: cache housekeeping, exit codes, and the on-demand modules."""

from __future__ import annotations

import io
import json
import shutil
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from pytest_llmfunnel import cli
from pytest_llmfunnel.store.verdict_cache import VerdictStore
from tests.support.judge_requests import cli_request, fill_cache


def verdicts_in(directory: Path) -> int:
    with VerdictStore(directory, mode="read-only") as store:
        return store.stats().verdicts


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(cli.CACHE_DIR_ENV, raising=False)
    monkeypatch.delenv(cli.CACHE_MODE_ENV, raising=False)


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    directory = tmp_path / "cache"
    fill_cache(directory, 3)
    return directory


def test_stats_counts_verdicts_and_reports_mode_and_size(
    cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["cache", "stats", "--cache-dir", str(cache)]) == 0
    out = capsys.readouterr().out
    rows = dict(line.split(":", 1) for line in out.splitlines())
    assert rows["verdicts"].strip() == "3"
    assert rows["mode"].strip() == "read-write"
    assert rows["size"].strip().endswith("KiB")


def test_stats_default_dir_is_under_the_current_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fill_cache(tmp_path / ".llmfunnel" / "cache", 2)
    assert cli.main(["cache", "stats"]) == 0
    assert "verdicts: 2" in capsys.readouterr().out


def test_from_a_subfolder_the_default_is_the_nearest_cache_above(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fill_cache(tmp_path / ".llmfunnel" / "cache", 2)
    fill_cache(tmp_path / "pkg" / ".llmfunnel" / "cache", 5)
    deep = tmp_path / "pkg" / "tests" / "evals"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    assert cli.main(["cache", "stats"]) == 0
    out = capsys.readouterr().out
    assert "verdicts: 5" in out
    assert str(tmp_path / "pkg" / ".llmfunnel" / "cache") in out
    monkeypatch.chdir(tmp_path / "pkg" / "tests")
    shutil.rmtree(tmp_path / "pkg" / ".llmfunnel")
    assert cli.main(["cache", "stats"]) == 0
    assert "verdicts: 2" in capsys.readouterr().out


def test_without_a_cache_anywhere_import_creates_it_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "source"
    fill_cache(source, 3)
    lockfile = tmp_path / "verdicts.jsonl"
    assert cli.main(["cache", "export", str(lockfile), "--cache-dir", str(source)]) == 0
    here = tmp_path / "project"
    here.mkdir()
    monkeypatch.chdir(here)
    assert cli.main(["cache", "import", str(lockfile)]) == 0
    assert verdicts_in(here / ".llmfunnel" / "cache") == 3
    sub = here / "sub"
    sub.mkdir()
    monkeypatch.chdir(sub)
    assert cli.main(["cache", "import", str(lockfile)]) == 0
    assert not (sub / ".llmfunnel").exists()
    assert verdicts_in(here / ".llmfunnel" / "cache") == 3


def test_stats_reads_dir_and_mode_from_the_environment(
    cache: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(cli.CACHE_DIR_ENV, str(cache))
    monkeypatch.setenv(cli.CACHE_MODE_ENV, "replay-only")
    assert cli.main(["cache", "stats"]) == 0
    out = capsys.readouterr().out
    assert "verdicts: 3" in out and "mode:     replay-only" in out


def test_stats_of_a_missing_cache_creates_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["cache", "stats", "--cache-dir", "nowhere"]) == 0
    assert "verdicts: 0" in capsys.readouterr().out
    assert not (tmp_path / "nowhere").exists()


def test_a_bad_mode_in_the_environment_is_a_usage_error(
    cache: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(cli.CACHE_MODE_ENV, "sometimes")
    assert cli.main(["cache", "stats", "--cache-dir", str(cache)]) == 2
    err = capsys.readouterr().err
    assert "LLM_FUNNEL_CACHE" in err and "'sometimes'" in err and "Traceback" not in err


def test_export_then_import_into_a_fresh_cache_replays_every_verdict(
    cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lockfile = tmp_path / "verdicts.jsonl"
    assert cli.main(["cache", "export", str(lockfile), "--cache-dir", str(cache)]) == 0
    assert "exported 3 verdicts" in capsys.readouterr().out
    lines = lockfile.read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[0])["lockfile"] == "pytest-llmfunnel verdicts"
    assert sorted(json.loads(line)["case_id"] for line in lines[1:]) == [
        "case-0", "case-1", "case-2",
    ]

    fresh = tmp_path / "fresh"
    assert cli.main(["cache", "import", str(lockfile), "--cache-dir", str(fresh)]) == 0
    assert "imported 3 verdicts" in capsys.readouterr().out
    with VerdictStore(fresh, mode="replay-only") as store:
        got = store.get(cli_request("case 2"), case_id="case-2", stage="relevance")
    assert got is not None and got.score == 3.0


def test_export_of_a_missing_cache_is_an_input_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(["cache", "export", "out.jsonl", "--cache-dir", "absent"])
    assert code == 1
    assert "no verdict cache at absent" in capsys.readouterr().err
    assert not (tmp_path / "out.jsonl").exists() and not (tmp_path / "absent").exists()


def test_a_corrupted_lockfile_names_file_and_line_and_imports_nothing(
    cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lockfile = tmp_path / "verdicts.jsonl"
    cli.main(["cache", "export", str(lockfile), "--cache-dir", str(cache)])
    lines = lockfile.read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2][: len(lines[2]) // 2]  # cut mid-line, as a bad merge would
    lockfile.write_text("\n".join(lines) + "\n", encoding="utf-8")
    capsys.readouterr()

    fresh = tmp_path / "fresh"
    assert cli.main(["cache", "import", str(lockfile), "--cache-dir", str(fresh)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"llmfunnel: error: {lockfile}:3: not valid JSON")
    assert "Traceback" not in err and len(err.splitlines()) == 1
    assert not fresh.exists() or verdicts_in(fresh) == 0


def test_import_of_a_missing_lockfile_says_how_to_make_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["cache", "import", "missing.jsonl"]) == 1
    assert "llmfunnel cache export" in capsys.readouterr().err


def test_clear_with_yes_forgets_every_verdict(
    cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["cache", "clear", "--yes", "--cache-dir", str(cache)]) == 0
    assert "cleared 3 verdicts" in capsys.readouterr().out
    assert verdicts_in(cache) == 0


def test_clear_without_yes_refuses_when_stdin_is_not_a_terminal(
    cache: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("y\n"))
    assert cli.main(["cache", "clear", "--cache-dir", str(cache)]) == 2
    assert "pass --yes" in capsys.readouterr().err
    assert verdicts_in(cache) == 3


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("answer", "code", "left"), [("y\n", 0, 0), ("\n", 1, 3), ("no\n", 1, 3)])
def test_clear_asks_on_a_terminal(
    cache: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    answer: str, code: int, left: int,
) -> None:
    monkeypatch.setattr(sys, "stdin", _Terminal(answer))
    assert cli.main(["cache", "clear", "--cache-dir", str(cache)]) == code
    assert "Delete 3 cached verdicts" in capsys.readouterr().out
    assert verdicts_in(cache) == left


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == 2
    assert cli.main(["cache"]) == 2
    assert cli.main(["nonsense"]) == 2
    assert cli.main(["report", "r.json", "--format", "html"]) == 2
    assert "invalid choice" in capsys.readouterr().err


def _stub(monkeypatch: pytest.MonkeyPatch, name: str, **functions: Any) -> None:
    module = types.ModuleType(name)
    for attr, function in functions.items():
        setattr(module, attr, function)
    monkeypatch.setitem(sys.modules, name, module)


def test_report_loads_results_and_renders_them(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    calls: list[Any] = []

    def render_markdown(results: Any, baseline: Path | None) -> str:
        calls.append((results, baseline))
        return "# md"

    _stub(monkeypatch, "pytest_llmfunnel.report.results_json",
          load_results=lambda path: ("loaded", path))
    _stub(monkeypatch, "pytest_llmfunnel.report.markdown", render_markdown=render_markdown)
    _stub(monkeypatch, "pytest_llmfunnel.report.terminal_text",
          render_text=lambda results, baseline, **kw: "plain")
    _stub(monkeypatch, "pytest_llmfunnel.report.pr_report",
          document_report=lambda results: f"# whole {results[0]}")
    _stub(monkeypatch, "pytest_llmfunnel.report.terminal",
          document_text=lambda results, **kw: f"whole {results[0]} {kw['width']}")

    assert cli.main(["report", "r.json", "--baseline", "b.json"]) == 0
    assert capsys.readouterr().out == "# md\n"
    assert calls == [(("loaded", Path("r.json")), Path("b.json"))]
    # Without a baseline: the run's whole report, with what its end added.
    assert cli.main(["report", "r.json"]) == 0
    assert capsys.readouterr().out == "# whole loaded\n"
    assert cli.main(["report", "r.json", "--format", "text", "-o", "out.txt"]) == 0
    assert (tmp_path / "out.txt").read_text(encoding="utf-8") == "whole loaded None"
    assert cli.main(["report", "r.json", "--format", "text", "--baseline", "b.json",
                     "-o", "out.txt"]) == 0
    assert (tmp_path / "out.txt").read_text(encoding="utf-8") == "plain"


def test_review_commands_call_export_from_results_and_import_review(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: dict[str, Any] = {}

    def export_from_results(results: Any, path: Path, **options: Any) -> int:
        seen["export"] = (results, path, options)
        return 7

    def import_review(labels: Path, results: Any) -> str:
        seen["import"] = (labels, results)
        return "kappa 0.81"

    _stub(monkeypatch, "pytest_llmfunnel.report.results_json", load_results=lambda path: "R")
    _stub(monkeypatch, "pytest_llmfunnel.review.label_files",
          export_from_results=export_from_results)
    _stub(monkeypatch, "pytest_llmfunnel.report.review_import", import_review=import_review)
    argv = ["review", "export", "r.json", "-o", "s.csv", "--budget", "20", "--seed", "3"]
    assert cli.main(argv) == 0
    assert seen["export"] == (
        "R", Path("s.csv"), {"budget": 20.0, "seed": 3, "show_verdicts": False},
    )
    assert "exported 7 cases for review to s.csv" in capsys.readouterr().out
    assert cli.main(["review", "import", "l.csv", "--results", "r.json"]) == 0
    assert seen["import"] == (Path("l.csv"), "R")
    assert capsys.readouterr().out == "kappa 0.81\n"


@pytest.mark.parametrize(
    ("size", "text"), [(0, "0 B"), (1023, "1023 B"), (1536, "1.5 KiB"), (3 * 2**30, "3.0 GiB")]
)
def test_human_size(size: int, text: str) -> None:
    assert cli.human_size(size) == text

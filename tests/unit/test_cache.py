"""The verdict cache: keys, modes, explanations, durability and secrets."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import diskcache
import pytest

from pytest_llmfunnel.cache_mode import CACHE_MODES, parse_cache_mode
from pytest_llmfunnel.funnel.backend import AnswerStore, CachedAnswer, CacheMissError, JudgeRequest
from pytest_llmfunnel.models import Case, Verdict, canonical_json
from pytest_llmfunnel.store.lockfile import export_lockfile
from pytest_llmfunnel.store.plain_disk import UnsafeCacheEntryWarning
from pytest_llmfunnel.store.verdict_cache import OutputStore, VerdictStore
from pytest_llmfunnel.testing import find_secret
from tests.support.judge_requests import BASE, answer, body, request


@pytest.fixture
def store(tmp_path: Path) -> Iterator[VerdictStore]:
    with VerdictStore(tmp_path / "cache") as opened:
        yield opened


# -- keys ---------------------------------------------------------------------------------


def test_put_then_get_hits_with_the_same_answer(store: VerdictStore) -> None:
    as_contract: AnswerStore = store  # mypy checks the protocol is satisfied
    as_contract.put(request(), answer(), case_id="c1", stage="polite")
    assert as_contract.get(request(), case_id="c1", stage="polite") == answer()


def test_changing_one_word_of_the_body_misses(store: VerdictStore) -> None:
    store.put(request("Is the answer polite?"), answer(), case_id="c1", stage="polite")
    assert store.get(request("Is the answer rude?"), case_id="c1", stage="polite") is None


def test_repeat_and_base_url_are_part_of_the_key(store: VerdictStore) -> None:
    store.put(request(repeat=0), answer(), case_id="c1", stage="polite")
    assert store.get(request(repeat=1), case_id="c1", stage="polite") is None
    elsewhere = JudgeRequest(body=body(), base_url="http://localhost:8000/v1")
    assert store.get(elsewhere, case_id="c1", stage="polite") is None


def test_renaming_the_case_or_stage_keeps_the_verdict(store: VerdictStore) -> None:
    store.put(request(), answer(), case_id="tests/a.jsonl::c1", stage="polite")
    assert store.get(request(), case_id="moved/b.jsonl::c1", stage="politeness") == answer()


def test_a_new_store_on_the_same_directory_sees_stored_verdicts(tmp_path: Path) -> None:
    with VerdictStore(tmp_path / "cache") as first:
        first.put(request(), answer(), case_id="c1", stage="polite")
    with VerdictStore(tmp_path / "cache") as second:
        assert second.get(request(), case_id="c1", stage="polite") == answer()


def test_an_unreadable_entry_counts_as_a_miss(store: VerdictStore) -> None:
    store.put(request(), answer(), case_id="c1", stage="polite")
    store.cache.set(f"verdict:{request().cache_key()}", "{not json")
    assert store.get(request(), case_id="c1", stage="polite") is None


# -- what is stored -----------------------------------------------------------------------


def test_pass_fail_is_not_stored_only_the_score(store: VerdictStore) -> None:
    store.put(request(), answer(score=2.0), case_id="c1", stage="polite")
    raw = json.loads(store.cache.get(f"verdict:{request().cache_key()}"))
    assert raw["answer"]["score"] == 2.0
    assert "passed" not in json.dumps(raw)
    assert raw["case_id"] == "c1" and raw["stage"] == "polite"
    assert raw["body"] == body() and raw["base_url"] == BASE and raw["repeat"] == 0
    assert raw["created"].endswith("+00:00")


def test_a_judge_error_is_never_stored_so_the_next_run_retries(store: VerdictStore) -> None:
    failed = Verdict(criterion="polite", judge="j", error="timeout after 3 retries")
    with pytest.raises(TypeError, match="judge errors are never stored"):
        store.put(request(), failed, case_id="c1", stage="polite")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="non-finite"):
        store.put(request(), answer(score=float("nan")), case_id="c1", stage="polite")
    assert store.get(request(), case_id="c1", stage="polite") is None
    assert store.stats().verdicts == 0
    assert store.writes == {}


def test_gitignore_is_written_into_the_cache_directory(tmp_path: Path) -> None:
    with VerdictStore(tmp_path / ".llmfunnel" / "cache") as opened:
        opened.put(request(), answer(), case_id="c1", stage="polite")
    assert (tmp_path / ".llmfunnel" / "cache" / ".gitignore").read_text() == "*\n"


def test_an_existing_gitignore_is_left_alone(tmp_path: Path) -> None:
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / ".gitignore").write_text("*.db\n")
    with VerdictStore(tmp_path / "cache") as opened:
        opened.stats()
    assert (tmp_path / "cache" / ".gitignore").read_text() == "*.db\n"


# -- modes --------------------------------------------------------------------------------


def test_parse_cache_mode_names_the_allowed_values() -> None:
    assert [parse_cache_mode(m) for m in CACHE_MODES] == list(CACHE_MODES)
    with pytest.raises(ValueError, match=r"'readonly'.*read-write, read-only, off, replay-only"):
        parse_cache_mode("readonly")


def test_read_only_serves_hits_and_writes_nothing(tmp_path: Path) -> None:
    with VerdictStore(tmp_path / "c") as writer:
        writer.put(request("old"), answer(), case_id="c1", stage="s")
    with VerdictStore(tmp_path / "c", mode="read-only") as reader:
        assert reader.get(request("old"), case_id="c1", stage="s") == answer()
        reader.put(request("new"), answer(), case_id="c2", stage="s")
        assert reader.get(request("new"), case_id="c2", stage="s") is None
        assert reader.writes == {}
        assert reader.stats().verdicts == 1


def test_off_never_hits_and_never_touches_the_disk(tmp_path: Path) -> None:
    with VerdictStore(tmp_path / "c") as writer:
        writer.put(request(), answer(), case_id="c1", stage="s")
    with VerdictStore(tmp_path / "off", mode="off") as off:
        off.put(request(), answer(), case_id="c1", stage="s")
        assert off.get(request(), case_id="c1", stage="s") is None
    assert not (tmp_path / "off").exists()
    with VerdictStore(tmp_path / "c", mode="off") as off:
        assert off.get(request(), case_id="c1", stage="s") is None
        assert off.misses == {"s": 1}


def test_replay_only_hits_and_a_miss_names_case_stage_and_how_to_record(tmp_path: Path) -> None:
    with VerdictStore(tmp_path / "c") as writer:
        writer.put(request("old"), answer(), case_id="c1", stage="polite")
    with VerdictStore(tmp_path / "c", mode="replay-only") as replay:
        assert replay.get(request("old"), case_id="c1", stage="polite") == answer()
        with pytest.raises(CacheMissError) as info:
            replay.get(request("new"), case_id="c1", stage="polite")
        message = str(info.value)
        assert "'c1'" in message and "'polite'" in message
        assert "--llm-funnel-cache=read-write" in message
        assert "llmfunnel cache import" in message
        assert "messages[1]" in message  # says what changed since the recorded verdict
        replay.put(request("new"), answer(), case_id="c1", stage="polite")
        assert replay.stats().verdicts == 1


# -- counters and stats -------------------------------------------------------------------


def test_counters_by_stage_and_keys_seen(store: VerdictStore) -> None:
    store.get(request("a"), case_id="c1", stage="polite")
    store.put(request("a"), answer(), case_id="c1", stage="polite")
    store.get(request("a"), case_id="c1", stage="polite")
    store.get(request("a"), case_id="c2", stage="polite")
    store.get(request("b"), case_id="c1", stage="correct")
    assert store.hits == {"polite": 2}
    assert store.misses == {"polite": 1, "correct": 1}
    assert store.writes == {"polite": 1}
    assert store.keys_seen == {request("a").cache_key()}


def test_stats_counts_entries_and_size(store: VerdictStore) -> None:
    for index in range(5):
        store.put(request(f"q{index}"), answer(), case_id=f"c{index}", stage="s")
    stats = store.stats()
    assert stats.verdicts == 5
    assert stats.outputs == 0
    assert stats.size_bytes > 0
    assert stats.mode == "read-write"


def test_clear_forgets_verdicts(store: VerdictStore) -> None:
    store.put(request(), answer(), case_id="c1", stage="s")
    store.clear()
    assert store.get(request(), case_id="c1", stage="s") is None
    assert store.last_key("c1", "s") is None
    assert store.stats().verdicts == 0


# -- explain ------------------------------------------------------------------------------


def test_explain_a_hit(store: VerdictStore) -> None:
    store.put(request(), answer(), case_id="c1", stage="s")
    explanation = store.explain("c1", "s", request())
    assert explanation.hit and explanation.summary() == "cache hit"


def test_explain_a_case_never_cached(store: VerdictStore) -> None:
    explanation = store.explain("c9", "s", request())
    assert not explanation.hit and explanation.previous_key is None
    assert "nothing was ever cached" in explanation.summary()


def test_explain_a_model_change(store: VerdictStore) -> None:
    store.put(request(), answer(), case_id="c1", stage="s")
    explanation = store.explain("c1", "s", request(model="judge-model-mini"))
    assert explanation.changed == ("model",)
    assert explanation.differences[0].detail == '"judge-model" -> "judge-model-mini"'
    assert explanation.previous_key == request().cache_key()


def test_explain_a_message_change_names_the_index_and_shows_the_lines(
    store: VerdictStore,
) -> None:
    store.put(request("Is the answer polite?"), answer(), case_id="c1", stage="s")
    explanation = store.explain("c1", "s", request("Is the answer rude?"))
    assert explanation.changed == ("messages[1]",)
    assert explanation.differences[0].detail == "-Is the answer polite?\n+Is the answer rude?"
    rendered = explanation.render()
    assert rendered.splitlines()[0] == "c1 [s]: changed since the last cached verdict: messages[1]"
    assert "    +Is the answer rude?" in rendered


def test_explain_a_repeat_and_sampling_change(store: VerdictStore) -> None:
    store.put(request(), answer(), case_id="c1", stage="s")
    explanation = store.explain("c1", "s", request(repeat=2, temperature=0.7))
    assert explanation.changed == ("temperature", "repeat")
    assert [d.detail for d in explanation.differences] == ["0.0 -> 0.7", "0 -> 2"]


def test_explain_added_message_response_format_and_base_url(store: VerdictStore) -> None:
    store.put(request(), answer(), case_id="c1", stage="s")
    changed = body(response_format={"type": "json_object"})
    changed["messages"].append({"role": "user", "content": "again"})
    other = JudgeRequest(body=changed, base_url="http://127.0.0.1:9/v1")
    explanation = store.explain("c1", "s", other)
    assert explanation.changed == ("messages[2]", "response_format", "base_url")
    assert explanation.differences[0].detail == "added"
    assert explanation.differences[1].detail == '(absent) -> {"type":"json_object"}'


def test_explain_compares_with_the_last_verdict_of_that_case_and_stage(
    store: VerdictStore,
) -> None:
    store.put(request("first"), answer(), case_id="c1", stage="s")
    store.put(request("second"), answer(), case_id="c1", stage="s")
    store.put(request("other"), answer(), case_id="c2", stage="s")
    assert store.last_key("c1", "s") == request("second").cache_key()
    explanation = store.explain("c1", "s", request("third"))
    assert explanation.differences[0].detail == "-second\n+third"


# -- concurrency and durability -----------------------------------------------------------


def test_threads_sharing_one_store_lose_nothing(store: VerdictStore) -> None:
    def work(worker: int) -> None:
        for i in range(50):
            req = JudgeRequest(body={"prompt": f"{worker}-{i}"}, base_url="b")
            store.put(req, CachedAnswer(score=i), case_id=f"{worker}-{i}", stage="s")

    threads = [threading.Thread(target=work, args=(w,)) for w in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.writes == {"s": 300}
    assert store.stats().verdicts == 300


# -- secrets ------------------------------------------------------------------------------

FAKE_KEY = "sk-test-0123456789abcdefFAKE"


def _files_containing(directory: Path, needle: str) -> list[Path]:
    return [
        path
        for path in directory.rglob("*")
        if path.is_file() and needle.encode() in path.read_bytes()
    ]


def test_a_request_holding_a_secret_is_not_cached_and_nothing_raises(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    directory = tmp_path / "cache"
    with VerdictStore(directory, secrets=[FAKE_KEY, ""]) as guarded:
        guarded.put(request("visible-marker"), answer(), case_id="c1", stage="s")
        # The key is the hash of what was sent, so such a request cannot be
        # stored redacted: it is not stored, and the run goes on.
        leaky = JudgeRequest(body=body(f"key is {FAKE_KEY}"), base_url=BASE)
        guarded.put(leaky, answer(), case_id="c2", stage="s")
        in_url = JudgeRequest(body=body(), base_url=f"{BASE}?key={FAKE_KEY}")
        guarded.put(in_url, answer(), case_id="c3", stage="s")
        assert guarded.get(leaky, case_id="c2", stage="s") is None
        assert guarded.get(in_url, case_id="c3", stage="s") is None
        assert guarded.stats().verdicts == 1 and guarded.withheld == 2
    assert [r.levelname for r in caplog.records] == ["WARNING", "WARNING"]
    assert "not caching the verdict for case 'c2'" in caplog.records[0].getMessage()
    assert find_secret(FAKE_KEY, caplog.text) == []
    # The grep can see what was stored, so not finding the key means something.
    assert _files_containing(directory, "visible-marker")
    assert _files_containing(directory, FAKE_KEY) == []


def test_an_answer_holding_a_secret_is_stored_redacted(tmp_path: Path) -> None:
    escaped = json.dumps(f"é{FAKE_KEY}")[1:-1]  # as it would sit inside JSON text
    with VerdictStore(tmp_path / "cache", secrets=[FAKE_KEY]) as guarded:
        leaky = CachedAnswer(
            score=4.0, reasoning=f"the header said {FAKE_KEY}", model=FAKE_KEY, judge=escaped
        )
        guarded.put(request(), leaky, case_id="c1", stage="s")
        stored = guarded.get(request(), case_id="c1", stage="s")
    assert stored is not None and stored.score == 4.0
    assert stored.reasoning == "the header said ***"
    assert stored.model == "***" and FAKE_KEY not in stored.judge
    assert _files_containing(tmp_path / "cache", FAKE_KEY) == []


def test_a_secret_is_caught_even_when_json_escapes_it(store: VerdictStore) -> None:
    quoted = 'pass"word\\with-quotes'
    guarded = VerdictStore(store.directory, secrets=[quoted])
    guarded.put(request(f"x {quoted} y"), answer(), case_id="c1", stage="s")
    assert guarded.withheld == 1 and guarded.stats().verdicts == 0
    guarded.close()


# -- recorded outputs ---------------------------------------------------------------------


def case(case_id: str = "c1", text: str = "What is 2+2?") -> Case:
    return Case(id=case_id, input=text, expected="4")


def test_outputs_are_keyed_by_case_content_target_and_version(tmp_path: Path) -> None:
    with OutputStore(tmp_path / "cache") as outputs:
        assert outputs.get(case(), "bot", "v1") is None
        outputs.put(case(), "bot", "v1", "4")
        assert outputs.get(case(), "bot", "v1") == "4"
        assert outputs.get(case(case_id="renamed"), "bot", "v1") == "4"
        assert outputs.get(case(text="What is 3+3?"), "bot", "v1") is None
        assert outputs.get(case(), "bot", "v2") is None
        assert outputs.get(case(), "other-bot", "v1") is None


def test_outputs_live_beside_verdicts_and_clear_separately(tmp_path: Path) -> None:
    with VerdictStore(tmp_path / "c") as verdicts, OutputStore(tmp_path / "c") as outputs:
        verdicts.put(request(), answer(), case_id="c1", stage="s")
        outputs.put(case(), "bot", "v1", "4")
        assert verdicts.stats().verdicts == 1 and verdicts.stats().outputs == 1
        outputs.clear()
        assert verdicts.get(request(), case_id="c1", stage="s") == answer()
        outputs.put(case(), "bot", "v1", "4")
        verdicts.clear()
        assert outputs.get(case(), "bot", "v1") == "4"


def test_output_modes(tmp_path: Path) -> None:
    with OutputStore(tmp_path / "c") as writer:
        writer.put(case(), "bot", "v1", "4")
    with OutputStore(tmp_path / "c", mode="read-only") as reader:
        assert reader.get(case(), "bot", "v1") == "4"
        reader.put(case(), "bot", "v2", "5")
        assert reader.get(case(), "bot", "v2") is None
    with OutputStore(tmp_path / "c", mode="off") as off:
        assert off.get(case(), "bot", "v1") is None
    with OutputStore(tmp_path / "c", mode="replay-only") as replay:
        assert replay.get(case(), "bot", "v1") == "4"
        with pytest.raises(CacheMissError, match="case 'c1' from target 'bot' version 'v9'"):
            replay.get(case(), "bot", "v9")


def test_an_output_containing_a_secret_is_not_recorded_and_nothing_raises(
    tmp_path: Path,
) -> None:
    with OutputStore(tmp_path / "c", secrets=[FAKE_KEY]) as outputs:
        outputs.put(case(), "bot", "v1", f"my key is {FAKE_KEY}")
        assert outputs.get(case(), "bot", "v1") is None
        assert outputs.withheld == 1
    assert _files_containing(tmp_path / "c", FAKE_KEY) == []


# -- planted entries: the cache folder is data, never code ------------------------------


class Planted:
    """Unpickles into a call that creates ``path``: what an attacker would plant."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return (Path.touch, (self.path,))


def plant(directory: Path, key: object, value: object) -> None:
    """Write ``key: value`` with diskcache's own pickling Disk, as a tampered folder would."""
    with diskcache.Cache(str(directory)) as raw:
        raw.set(key, value)


def test_the_planted_payload_does_run_when_unpickled(tmp_path: Path) -> None:
    # The check that the tests below can fail: diskcache's default Disk runs it.
    marker = tmp_path / "ran"
    plant(tmp_path / "cache", "verdict:abc", Planted(marker))
    with diskcache.Cache(str(tmp_path / "cache")) as raw:
        raw.get("verdict:abc")
    assert marker.exists()


def test_a_planted_pickled_verdict_never_runs_and_reads_as_a_miss(tmp_path: Path) -> None:
    directory, marker = tmp_path / "cache", tmp_path / "ran"
    with VerdictStore(directory) as store:
        store.put(request(), answer(), case_id="c1", stage="s")
        store.put(request("other"), answer(), case_id="c2", stage="s")
    key = request().cache_key()
    plant(directory, f"verdict:{key}", Planted(marker))
    plant(directory, f"last:{canonical_json(['c1', 's'])}", Planted(marker))
    with VerdictStore(directory) as store:
        with pytest.warns(UnsafeCacheEntryWarning, match="not plain text"):
            assert store.get(request(), case_id="c1", stage="s") is None
        with pytest.warns(UnsafeCacheEntryWarning):
            assert store.last_key("c1", "s") is None
        with pytest.warns(UnsafeCacheEntryWarning):
            assert store.record(key) is None
            assert not store.explain("c1", "s", request()).hit
            assert [r.case_id for r in store.records()] == ["c2"]
            export_lockfile(store, tmp_path / "v.jsonl")
        assert store.get(request("other"), case_id="c2", stage="s") == answer()
        assert store.misses == {"s": 1}
    with (
        VerdictStore(directory, mode="replay-only") as replay,
        pytest.warns(UnsafeCacheEntryWarning),
        pytest.raises(CacheMissError),
    ):
        replay.get(request(), case_id="c1", stage="s")
    assert not marker.exists()


def test_a_planted_pickled_key_never_runs(tmp_path: Path) -> None:
    directory, marker = tmp_path / "cache", tmp_path / "ran"
    with VerdictStore(directory) as store:
        store.put(request(), answer(), case_id="c1", stage="s")
    plant(directory, Planted(marker), "a value under a pickled key")
    with VerdictStore(directory) as store, pytest.warns(UnsafeCacheEntryWarning, match="key"):
        assert store.stats().verdicts == 1
        assert len(list(store.records())) == 1
    assert not marker.exists()


def test_a_planted_pickled_output_never_runs(tmp_path: Path) -> None:
    directory, marker = tmp_path / "cache", tmp_path / "ran"
    plant(directory, f"output:{OutputStore.key(case(), 'bot', 'v1')}", Planted(marker))
    with OutputStore(directory) as outputs, pytest.warns(UnsafeCacheEntryWarning):
        assert outputs.get(case(), "bot", "v1") is None
    assert not marker.exists()


def test_a_row_pointing_outside_the_cache_folder_is_not_read(tmp_path: Path) -> None:
    directory = tmp_path / "cache"
    with VerdictStore(directory) as store:
        store.put(request("a" * 40_000), answer(), case_id="c1", stage="s")  # file-backed
        assert store.get(request("a" * 40_000), case_id="c1", stage="s") == answer()
    outside = tmp_path / "elsewhere.txt"
    stored = next(p for p in directory.rglob("*.val"))
    outside.write_bytes(stored.read_bytes())
    with sqlite3.connect(directory / "cache.db") as db:
        db.execute("UPDATE Cache SET filename = ? WHERE filename IS NOT NULL", (str(outside),))
    with VerdictStore(directory) as store, pytest.warns(UnsafeCacheEntryWarning):
        assert store.get(request("a" * 40_000), case_id="c1", stage="s") is None


def test_the_store_writes_nothing_but_plain_data(store: VerdictStore) -> None:
    with pytest.raises(TypeError, match="plain text only"):
        store.cache.set("verdict:x", {"score": 5})
    with pytest.raises(TypeError, match="plain keys only"):
        store.cache.set(("verdict", "x"), "text")

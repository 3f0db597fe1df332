"""Every setting the plugin has: its flag, ini key, environment variable and parser kind.

The table :data:`OPTIONS` is the one declaration: the plugin registers flags and
ini keys from it, :mod:`pytest_llmfunnel.config` resolves and validates the
values, and the documentation test checks it against ``docs/configuration.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pytest_llmfunnel.cache_mode import CACHE_MODES

JudgeChoice = Literal["auto", "openai", "offline"]
JUDGE_CHOICES: tuple[JudgeChoice, ...] = ("auto", "openai", "offline")
ResponseFormatChoice = Literal["auto", "json_schema", "json_object", "prompt"]
RESPONSE_FORMAT_CHOICES: tuple[ResponseFormatChoice, ...] = (
    "auto", "json_schema", "json_object", "prompt"
)

@dataclass(frozen=True)
class Option:
    """One setting: its flag, ini key, environment variable and parser."""

    name: str  # settings attribute; flag --llm-funnel-<name with dashes>
    help: str
    default: Any
    kind: Literal["str", "int", "float", "bool", "choice", "path"] = "str"
    choices: tuple[str, ...] = ()
    ini: bool = True
    metavar: str | None = None

    @property
    def flag(self) -> str:
        return "--llm-funnel-" + self.name.replace("_", "-")

    @property
    def dest(self) -> str:
        return "llm_funnel_" + self.name

    @property
    def ini_key(self) -> str:
        return "llm_funnel_" + self.name

    @property
    def env(self) -> str:
        return "LLM_FUNNEL_" + self.name.upper()


OPTIONS: tuple[Option, ...] = (
    Option("judge", "Which judge answers judge stages: 'openai' (any OpenAI-compatible "
           "endpoint), 'offline' (the built-in rule-based reference judge), or 'auto' "
           "(openai when a base URL or API key is configured, else offline).",
           "auto", "choice", JUDGE_CHOICES),
    Option("model", "Judge model name sent to the endpoint.", "gpt-4o-mini", metavar="NAME"),
    Option("base_url", "OpenAI-compatible endpoint for the judge (falls back to "
           "OPENAI_BASE_URL, then the OpenAI default).", None, metavar="URL"),
    Option("response_format", "The response_format judge requests ask for: 'json_schema' "
           "(structured output), 'json_object' (JSON mode), 'prompt' (none; the prompt asks "
           "for the JSON), or 'auto' (json_schema, stepping down for the run when the "
           "endpoint refuses it).", "auto", "choice", RESPONSE_FORMAT_CHOICES),
    Option("concurrency", "Judge requests in flight at once, in total (default 16, or 2 "
           "for a loopback or private-network endpoint).", None, "int", metavar="N"),
    Option("max_concurrency", "The most judge requests in flight, in total, that the "
           "concurrency grows to while the endpoint answers without 429/503 and latency "
           "stays flat (default: 64 when the concurrency is left at its default, else the "
           "concurrency: a concurrency you set is kept).", None, "int", metavar="N"),
    Option("min_concurrency", "The floor that 429s cannot push the judge concurrency "
           "below, in total (capped at the concurrency).", 4, "int", metavar="N"),
    Option("timeout", "Seconds before one judge request times out (default 60, or 600 "
           "for a loopback or private-network endpoint).", None, "float",
           metavar="SECONDS"),
    Option("max_retries", "Retries of a judge request on 429, 5xx, timeouts and "
           "connection errors.", 6, "int", metavar="N"),
    Option("case_timeout", "Seconds a target callable may take for one case (one call; "
           "a funnel's target_timeout=... wins).", 120.0, "float", metavar="SECONDS"),
    Option("target_concurrency", "Target calls in flight at once, per eval test (default: "
           "as many as the cases in flight; a funnel's target_concurrency=... wins).", None,
           "int", metavar="N"),
    Option("target_retries", "Retries of a target call that failed transiently (timeout, "
           "connection error, HTTP 408/409/429/5xx, TransientTargetError), with jittered "
           "backoff (a funnel's target_retries=... wins).", 2, "int", metavar="N"),
    Option("cache", "Verdict cache mode.", "read-write", "choice", CACHE_MODES),
    Option("cache_dir", "Folder of the verdict cache (default: .llmfunnel/cache under "
           "the rootdir).", None, "path", metavar="DIR"),
    Option("strict", "Make every stage failure fail its test item.", False, "bool"),
    Option("max_error_share", "Largest share of judge errors a session tolerates before "
           "it fails.", 0.02, "float", metavar="SHARE"),
    Option("dry_run", "Send nothing: count the judge requests a run would make (cache "
           "misses) and what they would cost.", False, "bool"),
    Option("budget", "Stop starting new judge requests once this cost is reached (needs "
           "the prices; under xdist each worker gets an equal share).", None,
           "float", metavar="COST"),
    Option("price_in", "Price per million prompt tokens, for cost accounting.", None,
           "float", metavar="PRICE"),
    Option("price_out", "Price per million completion tokens, for cost accounting.", None,
           "float", metavar="PRICE"),
    Option("baseline_dir", "Folder of the baseline files, one per eval test (a test's "
           "llm_dataset(baseline=...) path wins). Unset: __llmfunnel_baselines__ beside each "
           "test file.", None, "path", metavar="DIR"),
    Option("update_baseline", "Write the baselines from this run instead of gating.", False,
           "bool", ini=False),
    Option("merge_baseline", "With --llm-funnel-update-baseline on a partial selection "
           "(-k, --lf), merge the selected cases into the existing baseline.", False, "bool",
           ini=False),
    Option("alpha", "Significance level of the gate (Holm-adjusted across the session).",
           0.05, "float", metavar="ALPHA"),
    Option("tolerance", "Smallest drop in a metric that counts as a regression (a share "
           "of the scale, e.g. 0.02 = 2 points of pass rate).", 0.02, "float",
           metavar="SHARE"),
    Option("gate_mode", "superiority: fail on a significant drop beyond the tolerance; "
           "non-inferiority: pass only if the drop is shown to be within the tolerance.",
           "superiority", "choice", ("superiority", "non-inferiority")),
    Option("variant_control", "The variant the others are ranked against, in every eval test "
           "(default: the funnel's control= for live variants, else the best one).", None,
           "str", metavar="VARIANT"),
    Option("report", "Write the Markdown pull-request report here.", None, "path",
           metavar="PATH"),
    Option("json", "Write the JSON results here.", None, "path", metavar="PATH"),
    Option("review", "Export the human-review slice here (.csv or .jsonl).", None, "path",
           metavar="PATH"),
    Option("review_budget", "Size of the review slice: a share of the cases (below 1) or "
           "a count.", 0.1, "float", metavar="SHARE_OR_COUNT"),
    Option("review_show_verdicts", "Show the judge's verdict and reason to labellers.",
           False, "bool"),
    Option("labels", "Human labels (a filled-in review export, CSV or JSONL): the reports "
           "then show the judge's calibration and human-calibrated pass rates.",
           None, "path", metavar="PATH"),
    Option("require_calibration", "Gate on a judge's metrics only when human labels show "
           "the judge agrees with people (kappa's interval above 0, accuracy at least the "
           "calibration floor); otherwise they count as not comparable.", False, "bool"),
    Option("calibration_floor", "Accuracy against human labels below which a judge is "
           "flagged as not trusted.", 0.7, "float", metavar="SHARE"),
    Option("seed", "Seed for random choices (review audit sample, agreement intervals).", 0, "int",
           metavar="N"),
    Option("export_lockfile", "At the end of the run, write the verdicts this run used (cache "
           "hits and new verdicts, nothing else) to this verdict lockfile.", None, "path",
           metavar="PATH"),
    Option("shard", "Run shard I of N: the eval cases whose id hashes to it (other tests run "
           "in every shard); `llmfunnel gate` merges the shards' JSON results and gates.",
           None, ini=False, metavar="I/N"),
    Option("run_id", "The CI run the shards belong to, for `llmfunnel gate` (default: "
           "GITHUB_RUN_ID and GITHUB_RUN_ATTEMPT, or CI_PIPELINE_ID).", None, ini=False,
           metavar="ID"),
    Option("ledger", "Append one line per eval test and variant of this run (metrics with "
           "intervals, gate decisions, commit, judge, cost) to this JSONL run ledger.", None,
           "path", metavar="PATH"),
    Option("mlflow", "Log this run to MLflow (the mlflow extra): the tracking URI is "
           "llm_funnel_mlflow_tracking_uri, else MLflow's own MLFLOW_TRACKING_URI.", False,
           "bool"),
    Option("mlflow_tracking_uri", "MLflow tracking URI to log each run to (setting it turns "
           "the logging on).", None, metavar="URI"),
    Option("mlflow_experiment", "MLflow experiment the runs are logged under.", "llm-funnel",
           metavar="NAME"),
    Option("explain_cache", "For this case id, say per judge stage whether the cache hit "
           "and, on a miss, what differs from the last cached request.", None, ini=False,
           metavar="CASE_ID"),
)
OPTIONS_BY_NAME = {o.name: o for o in OPTIONS}

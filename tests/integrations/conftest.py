"""Shared data for the Ray and Spark tests: fixture outputs with the policy and context each is written for,
2,000 dev outputs from the shared eval sets (read in place, never copied), and the in-process reports to
compare with."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from guardrails import Engine, sensitive_rule_ids

ROOT = Path(__file__).resolve().parents[2]
EVAL_DIR = Path(os.environ.get("OUTGUARD_EVAL_DIR") or ROOT.parent / "shared" / "eval")
TEXT_SUFFIXES = {".txt", ".json", ".jsonl", ".html", ".md"}
# Sets whose outputs are model answers or PII-bearing text, and the field holding the output.
DEV_SETS = {
    "presidio_synth_v2": "text",
    "presidio_generated_large": "text",
    "xstest_completions": "completion",
    "halueval_general": "response",
    "davidson_hate_offensive": "text",
}
DEV_OUTPUTS = 2_000
DEADLINE_SCALE = os.environ.get("OUTGUARD_DEADLINE_SCALE", "8")


@dataclass(frozen=True)
class Case:
    id: str
    text: str
    policy: str
    template: str | None = None
    context: str | None = None  # a whole context as JSON


def fixture_cases() -> list[Case]:
    """Every output file under fixtures/ under `default`, then each with the context it is written for:
    HTML with its template under `html`, JSON outputs with their schema under `json`."""
    files = sorted(
        p
        for p in (ROOT / "fixtures").rglob("*")
        if (p.is_file() and p.suffix in TEXT_SUFFIXES and "outputs" in p.parts) or p.suffix == ".html"
    )
    cases = [Case(str(p.relative_to(ROOT)), p.read_text(encoding="utf-8"), "default") for p in files]
    html = ROOT / "fixtures" / "html"
    for name in sorted(yaml.safe_load((html / "cases.yaml").read_text(encoding="utf-8"))):
        cases.append(
            Case(f"html:{name}", (html / name).read_text(encoding="utf-8"), "html", template=name.split("/")[0])
        )
    schema = (ROOT / "fixtures" / "json" / "person.schema.json").read_text(encoding="utf-8")
    for p in sorted((ROOT / "fixtures" / "json" / "outputs").glob("*.txt")):
        context = json.dumps({"schema": json.loads(schema)})
        cases.append(Case(f"json:{p.name}", p.read_text(encoding="utf-8"), "json", context=context))
    patterns = ROOT / "fixtures" / "patterns"
    support = (patterns / "support_context.json").read_text(encoding="utf-8")
    cases.append(
        Case(
            "patterns:support",
            (patterns / "support_answer.txt").read_text(encoding="utf-8"),
            "default",
            context=support,
        )
    )
    facts = (ROOT / "fixtures" / "facts" / "outputs.jsonl").read_text(encoding="utf-8").splitlines()
    for line in facts[:50]:
        row = json.loads(line)
        cases.append(Case(f"facts:{row['id']}", row["text"], "default"))
    return cases


def rule_example_outputs(n: int) -> list[Case]:
    from guardrails.rules.loader import load_ruleset

    texts = [
        ex.text
        for loaded in load_ruleset([]).rules.values()
        for ex in (*loaded.rule.examples.match, *loaded.rule.examples.no_match)
    ]
    return [Case(f"example:{i}", t, "default") for i, t in enumerate(texts[:n])]


def dev_outputs(n: int = DEV_OUTPUTS) -> list[Case]:
    """`n` outputs, an equal share from each of DEV_SETS, in file order. Where the shared eval data is not beside
    the checkout (a CI machine may have none), every bundled rule example stands in: ~1,000 texts, each written
    to make some check fire or stay quiet."""
    if not EVAL_DIR.is_dir():
        return rule_example_outputs(n)
    share = n // len(DEV_SETS)
    out: list[Case] = []
    for name, fieldname in DEV_SETS.items():
        with (EVAL_DIR / name / "dev.jsonl").open(encoding="utf-8") as f:
            rows = [json.loads(line) for line in f]
        texts = [r[fieldname] for r in rows if isinstance(r.get(fieldname), str)][:share]
        assert len(texts) == share, name
        out += [Case(f"{name}:{i}", t, "default") for i, t in enumerate(texts)]
    return out


def comparable(report: dict[str, Any]) -> dict[str, Any]:
    """A report without what differs run to run: timings and a timeout's measured duration."""
    out = dict(report)
    out.pop("elapsed_ms")
    out["timings"] = [{k: v for k, v in t.items() if k != "ms"} for t in report["timings"]]
    out["degraded"] = [{**d, "detail": ""} if d["reason"] == "timeout" else d for d in report["degraded"]]
    return out


def timed_out(report: dict[str, Any]) -> bool:
    return any(d["reason"] == "timeout" for d in report["degraded"])


def expected_reports(cases: list[Case]) -> dict[str, dict[str, Any]]:
    """In-process Engine.validate per case, redacted as every report that leaves the process is."""
    engines: dict[str, Engine] = {}
    out = {}
    for case in cases:
        engine = engines.get(case.policy) or engines.setdefault(case.policy, Engine.from_policy(case.policy))
        context: dict[str, Any] | None = json.loads(case.context) if case.context else None
        if case.template:
            context = {"template": case.template}
        report = engine.validate(case.text, context).redacted(sensitive_rule_ids(engine.rules))
        out[case.id] = report.model_dump(mode="json", by_alias=True)
    return out


def assert_same_reports(got: dict[str, str], cases: list[Case]) -> None:
    """Every case's report equals the in-process one. Deadlines are wall-clock: a pair where one side ran a check
    past its deadline on this shared machine is left out, and there may be only a few."""
    expected = expected_reports(cases)
    assert set(got) == set(expected)
    late = 0
    for key, want in expected.items():
        have = json.loads(got[key])
        if timed_out(have) or timed_out(want):
            late += 1
            continue
        assert comparable(have) == comparable(want), key
    assert late <= len(cases) // 100, f"{late} reports timed out"


def write_killer_rules(root: Path, marker: Path, word: str = "KILL-ME-ONCE") -> Path:
    """A rules directory with a policy `killer`: the regex rules of guard-test plus a check that kills its
    process the first time it meets `word`."""
    rules = root / "killer-rules"
    (rules / "policies").mkdir(parents=True)
    pack = {
        "pack": "killer",
        "description": "A check that kills its worker once, for the crash-recovery tests.",
        "rules": [
            {
                "id": "worker-killed",
                "code": "TKL001",
                "check": "tests.integrations._killer:KillOnce",
                "params": {"marker": str(marker), "word": word},
                "severity": "low",
                "action": "review",
                "message": "never reported",
            }
        ],
    }
    (rules / "killer.yaml").write_text(yaml.safe_dump(pack), encoding="utf-8")
    policy = {"name": "killer", "description": "kills once", "rules": ["TKL001", "PII001"]}
    (rules / "policies" / "killer.yaml").write_text(yaml.safe_dump(policy), encoding="utf-8")
    return rules


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[Any]:
    """A real local Ray cluster of 2 CPUs on loopback, no dashboard, no usage stats; stopped after the module."""
    ray = pytest.importorskip("ray")
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    # The raylet waits a fixed 15 s for its metrics agent to start: on a machine busy with other test runs that
    # can fail, so the start is tried again.
    for attempt in range(4):
        try:
            ray.init(
                num_cpus=2,
                include_dashboard=False,
                _node_ip_address="127.0.0.1",
                log_to_driver=False,
                configure_logging=False,
                # Workers import tests.integrations._killer by its check path, and run deadlines as loose as here.
                runtime_env={"env_vars": {"PYTHONPATH": str(ROOT), "OUTGUARD_DEADLINE_SCALE": DEADLINE_SCALE}},
            )
            break
        except Exception:
            ray.shutdown()
            if attempt == 3:
                raise
    ray.data.DataContext.get_current().enable_progress_bars = False
    try:
        yield ray
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    """Spark in local mode, 2 threads and 4 tries per task (plain local[2] never retries), bound to loopback."""
    sql = pytest.importorskip("pyspark.sql")
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
    session = (
        sql.SparkSession.builder.master("local[2,4]")
        .appName("outguard-tests")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.executorEnv.PYTHONPATH", str(ROOT))
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    try:
        yield session
    finally:
        session.stop()


@pytest.fixture
def killer_rules(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    marker = tmp_path / "killed.pid"
    yield write_killer_rules(tmp_path, marker), marker

"""Issue 13, finding 1: a caller's JSON Schema carried a catastrophic regular expression (nested quantifiers)
and validate() ran for seconds to forever: python-jsonschema searched it with stdlib `re`, no deadline. In the
sidecar that ran on the event loop and froze /healthz.

Attack, as a caller would: the schema travels in the request context, the output is the string that makes the
pattern backtrack. Library: every way a schema reaches a pattern (`pattern`, `patternProperties`,
`additionalProperties`/`unevaluatedProperties` beside them, `format: regex`) must come back within the
policy's deadline plus slack, failing closed. Sidecar: a real process; /healthz keeps answering while the
attack is validated, and the attack's report is not a pass.

Each library attack runs in a child process with a wall-clock limit: a regression stuck inside stdlib `re`
holds the GIL, so neither a signal nor pytest-timeout's watchdog thread could stop it in this process. The
`regex` module measures its timeout in process CPU time, so on a shared CI machine the wall clock runs ahead
of it: the slack is generous, and a regression (minutes of backtracking) still fails by far.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]

EVIL = "^(a|a)*$"
"""Exponential in stdlib `re` and in the `regex` module alike (`^(a+)+$` the `regex` module solves at once)."""
VICTIM = "a" * 40 + "!"
SLACK_S = 3.0
"""Beyond the policy's deadline: CPU-time timeouts on a loaded machine, and the rest of the json policy."""

hostile = pytest.mark.timeout(120, method="thread")
"""Backstop for the sidecar test, whose attack runs in the server process: this one stays free to time out."""


DEADLINE_S = 0.25
"""The json policy's deadline per check, unscaled (the child runs with OUTGUARD_DEADLINE_SCALE=1)."""
CHILD_LIMIT_S = 60.0

_CHILD = """
import json, sys, time
from guardrails import Engine
engine = Engine.from_policy("json")
job = json.load(sys.stdin)
t0 = time.perf_counter()
report = engine.validate(job["output"], {"schema": job["schema"]})
elapsed = time.perf_counter() - t0
print(json.dumps({"elapsed": elapsed, "report": report.model_dump(mode="json", by_alias=True)}))
"""


def _attack(output: str, schema: dict[str, Any]) -> tuple[dict[str, Any], float]:
    """validate(output, {"schema": schema}) with the json policy, in a child process; (report, seconds)."""
    env = {**os.environ, "OUTGUARD_DEADLINE_SCALE": "1", "PYTHONPATH": str(ROOT)}
    job = json.dumps({"output": output, "schema": schema})
    try:
        done = subprocess.run(
            [sys.executable, "-c", _CHILD],
            check=False,
            input=job,
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
            timeout=CHILD_LIMIT_S,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"validate() did not return within {CHILD_LIMIT_S:g} s")
    assert done.returncode == 0, done.stderr[-2000:]
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    return answer["report"], float(answer["elapsed"])


def _assert_bounded(report: dict[str, Any], elapsed: float) -> None:
    assert elapsed < DEADLINE_S + SLACK_S, f"validate took {elapsed:.1f} s"
    assert report["verdict"] != "pass"
    late = [f for f in report["findings"] if f["code"] == "ENG002"]
    assert late and late[0]["evidence"]["source"] == "schema-violation"
    assert any(d["rule_id"] == "schema-violation" and d["reason"] == "timeout" for d in report["degraded"])


@hostile
def test_pattern_is_cut_off_at_the_deadline() -> None:
    schema = {"type": "object", "properties": {"name": {"type": "string", "pattern": EVIL}}}
    report, elapsed = _attack(json.dumps({"name": VICTIM}), schema)
    _assert_bounded(report, elapsed)


@hostile
def test_pattern_properties_is_cut_off_at_the_deadline() -> None:
    # The key does not match, so only the missing field makes the output invalid: then python-jsonschema (the
    # fast path only confirms valid outputs) walks every keyword, patternProperties included.
    schema = {"type": "object", "required": ["id"], "patternProperties": {EVIL: {"type": "integer"}}}
    report, elapsed = _attack(json.dumps({VICTIM: 1}), schema)
    _assert_bounded(report, elapsed)


@hostile
@pytest.mark.parametrize("keyword", ["additionalProperties", "unevaluatedProperties"])
def test_properties_beside_pattern_properties_are_cut_off(keyword: str) -> None:
    # The keyword comes first, so jsonschema searches the patterns from its own helper (not patternProperties).
    schema = {"type": "object", keyword: False, "patternProperties": {EVIL: {}}}
    report, elapsed = _attack(json.dumps({VICTIM: 1}), schema)
    _assert_bounded(report, elapsed)


@hostile
def test_pattern_in_property_names_is_cut_off() -> None:
    schema = {"type": "object", "propertyNames": {"pattern": EVIL}}
    report, elapsed = _attack(json.dumps({VICTIM: 1}), schema)
    _assert_bounded(report, elapsed)


@hostile
def test_format_regex_on_a_huge_string_is_refused_at_once() -> None:
    # `format: regex` compiles the output's own string: 1.2 MB of alternations cost stdlib `re` seconds. (A
    # missing field sends the output down the python-jsonschema path, as any invalid output goes.)
    schema = {"type": "object", "required": ["id"], "properties": {"p": {"type": "string", "format": "regex"}}}
    report, elapsed = _attack(json.dumps({"p": "(a|b)" * 240_000}), schema)
    assert elapsed < DEADLINE_S + SLACK_S, f"validate took {elapsed:.1f} s"
    assert report["verdict"] != "pass"
    [finding] = [f for f in report["findings"] if f["code"] == "JSON030" and f["span"]["pointer"] == "/p"]
    assert "not a valid regex" in finding["message"]


@hostile
def test_unrolling_pattern_in_the_schema_is_refused_with_its_pointer() -> None:
    # Harmless to stdlib `re`, but the `regex` module would unroll it into a million items (and more braces
    # into all the memory): refused before compiling, as a schema error naming where it is.
    schema = {"type": "object", "properties": {"n": {"type": "string", "pattern": "(?:(?:a{100}){100}){100}"}}}
    report, elapsed = _attack(json.dumps({"n": "a"}), schema)
    assert elapsed < DEADLINE_S + SLACK_S
    assert report["verdict"] != "pass"
    [failed] = [f for f in report["findings"] if f["code"].startswith("ENG")]
    assert "/properties/n/pattern" in failed["message"] and "unrolls" in failed["message"]


# -- the sidecar -----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    pytest.importorskip("fastapi")
    from tests.service.server import start_server, stop

    mp = pytest.MonkeyPatch()
    # Deadlines 8x looser (2 s for the json policy), as every test sidecar runs: on the event loop, one such
    # validation would stall /healthz for all of it.
    mp.setenv("OUTGUARD_DEADLINE_SCALE", "8")
    try:
        srv = start_server(tmp_path_factory.mktemp("patterns"), "--policy", "json")
    finally:
        mp.undo()
    try:
        yield srv
    finally:
        stop(srv)


class _Poller(threading.Thread):
    """Polls /healthz until stopped; records each answer's latency (a refused or timed-out poll counts as 10 s)."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.latencies: list[float] = []
        self.stop = threading.Event()

    def run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=10) as client:
            while not self.stop.is_set():
                t0 = time.perf_counter()
                try:
                    ok = client.get("/healthz").status_code == 200
                except httpx.HTTPError:
                    ok = False
                self.latencies.append(time.perf_counter() - t0 if ok else 10.0)
                self.stop.wait(0.05)


@hostile
def test_sidecar_healthz_answers_while_a_hostile_schema_is_validated(server: Any, tmp_path: Path) -> None:
    with server.client() as client:
        # Enough quick validations for the policy to be measured fast, so it would run on the event loop.
        for _ in range(45):
            r = client.post("/v1/validate", json={"policy": "json", "output": '{"name": "Ana"}'})
            assert r.status_code == 200
        poller = _Poller(server.url)
        poller.start()
        time.sleep(0.3)
        schema = {"type": "object", "properties": {"name": {"type": "string", "pattern": EVIL}}}
        body = {"policy": "json", "output": json.dumps({"name": VICTIM}), "context": {"schema": schema}}
        t0 = time.perf_counter()
        try:
            r = client.post("/v1/validate", json=body, timeout=100)
        finally:
            elapsed = time.perf_counter() - t0
            time.sleep(0.3)
            poller.stop.set()
            poller.join(15)
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["verdict"] != "pass"
    assert any(f["code"] == "ENG002" for f in report["findings"])
    during = poller.latencies
    assert len(during) >= 3, f"/healthz polled {len(during)} times in {elapsed:.1f} s"
    assert max(during) < 1.0, f"/healthz stalled {max(during):.1f} s while the schema was validated"

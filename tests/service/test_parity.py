"""Every fixture under fixtures/, through the library and through POST /v1/validate: the same Report JSON.

Plain, and with the context each fixture is written for: the HTML fixtures with their template under the
html policy, the JSON fixtures with their schema under the json policy.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from guardrails import Engine, RuleError, sensitive_rule_ids
from tests.service.conftest import DEMO_RULES, ROOT, auth

TEXT_SUFFIXES = {".txt", ".json", ".jsonl", ".html", ".htm", ".md", ".xml", ".csv", ".yaml", ".yml"}
MAX_FIXTURE_BYTES = 1_000_000


def _fixtures() -> list[Path]:
    return sorted(
        p
        for p in (ROOT / "fixtures").rglob("*")
        if p.is_file() and p.suffix in TEXT_SUFFIXES and p.stat().st_size <= MAX_FIXTURE_BYTES
    )


def _policies() -> list[str]:
    """demo (always) and every bundled policy that compiles here without downloading anything.

    Outside CI a policy whose extra or model is not installed is left out; under CI (where .ci/setup installs
    everything) a policy that does not compile fails the tests instead of silently shrinking the comparison.
    """
    from guardrails import load_ruleset

    names = ["demo"]
    for name in sorted(load_ruleset([DEMO_RULES]).policies):
        if name == "demo":
            continue
        try:
            Engine.from_policy(name, [DEMO_RULES])
        except (RuleError, OSError, ImportError, ValueError) as exc:
            if os.environ.get("CI"):
                pytest.fail(f"bundled policy {name!r} does not compile in CI: {type(exc).__name__}: {exc}")
            continue
        names.append(name)
    return names


def _contexts() -> list[tuple[Path, str, dict[str, Any]]]:
    """(fixture, policy, context): HTML fixtures with their template (the folder name, as in cases.yaml)
    under the html policy, JSON outputs with the schema they are written against under the json policy."""
    html = ROOT / "fixtures" / "html"
    cases = yaml.safe_load((html / "cases.yaml").read_text(encoding="utf-8"))
    out = [(html / name, "html", {"template": name.split("/")[0]}) for name in sorted(cases)]
    schema = json.loads((ROOT / "fixtures" / "json" / "person.schema.json").read_text(encoding="utf-8"))
    out += [(p, "json", {"schema": schema}) for p in sorted((ROOT / "fixtures" / "json" / "outputs").glob("*.txt"))]
    return out


def _comparable(report: dict[str, Any]) -> dict[str, Any]:
    # Timings differ run to run, and only the service queues items (so only it sets review_id).
    out = dict(report)
    out.pop("elapsed_ms")
    out.pop("review_id")
    out["timings"] = [{k: v for k, v in t.items() if k != "ms"} for t in report["timings"]]
    # A timeout's detail says how long the check took: wall-clock, like the timings.
    out["degraded"] = [{**d, "detail": ""} if d["reason"] == "timeout" else d for d in report["degraded"]]
    return out


def _library(engine: Engine, text: str, context: dict[str, Any] | None = None) -> dict[str, Any]:
    """The library's report as the sidecar sends it: redacted (everything that leaves the process is)."""
    report = engine.validate(text, context).redacted(sensitive_rule_ids(engine.rules))
    return report.model_dump(mode="json", by_alias=True)


def _timed_out(report: dict[str, Any]) -> bool:
    return any(d["reason"] == "timeout" for d in report["degraded"])


def test_there_are_fixtures() -> None:
    assert len(_fixtures()) >= 6


@pytest.fixture(scope="module")
def policies() -> list[str]:
    return _policies()


def _same_report(
    client: TestClient, engine: Engine, text: str, name: str, context: dict[str, Any] | None, where: str
) -> bool:
    """Assert library and service agree on one (text, policy, context); False when the pair timed out."""
    body: dict[str, Any] = {"output": text, "policy": name}
    if context is not None:
        body["context"] = context
    for _ in range(3):
        library = _library(engine, text, context)
        r = client.post("/v1/validate", json=body, headers=auth())
        assert r.status_code == 200, (where, name, r.text[:300])
        served = r.json()
        # Deadlines are wall-clock: on a loaded machine one side may fail closed where the other
        # did not. That is the engine working, not a parity break, so such a pair is run again.
        if not (_timed_out(library) or _timed_out(served)):
            break
    assert (served["review_id"] is not None) == (library["verdict"] == "review"), where
    if _timed_out(library) or _timed_out(served):
        # Still failing closed after three tries (a big fixture on a busy machine): which checks ran
        # late differs run to run, so this pair says nothing about parity. Both must still block.
        assert served["verdict"] == library["verdict"] == "block", where
        return False
    assert _comparable(served) == _comparable(library), f"{where} under policy {name}"
    return True


def test_every_fixture_gives_the_same_report(make_client: Callable[..., TestClient], policies: list[str]) -> None:
    client = make_client(policies=policies)
    engines = {name: Engine.from_policy(name, [DEMO_RULES]) for name in policies}
    compared = timed_out = 0
    for path in _fixtures():
        text = path.read_bytes().decode("utf-8", errors="replace")
        for name in policies:
            if _same_report(client, engines[name], text, name, None, str(path.relative_to(ROOT))):
                compared += 1
            else:
                timed_out += 1
    assert compared >= len(_fixtures())
    assert timed_out <= compared // 10, f"{timed_out} pairs timed out: too few compared to show parity"


def test_fixtures_with_their_context_give_the_same_report(
    make_client: Callable[..., TestClient], policies: list[str]
) -> None:
    cases = _contexts()
    needed = sorted({name for _, name, _ in cases})
    missing = [name for name in needed if name not in policies]
    if missing:
        pytest.skip(f"policies not compiled here: {', '.join(missing)}")
    client = make_client(policies=needed)
    engines = {name: Engine.from_policy(name, [DEMO_RULES]) for name in needed}
    compared = 0
    verdicts = set()
    for path, name, context in cases:
        text = path.read_text(encoding="utf-8")
        if _same_report(client, engines[name], text, name, context, str(path.relative_to(ROOT))):
            compared += 1
            verdicts.add(engines[name].validate(text, context).verdict.value)
    assert compared >= len(cases) - len(cases) // 10
    # The contexts matter: templates and schemas make outputs pass, get repaired and be sent back.
    assert {"pass", "repaired", "regenerate"} <= verdicts


def test_batch_gives_the_same_reports(make_client: Callable[..., TestClient]) -> None:
    client = make_client(review_db=None)
    engine = Engine.from_policy("demo", [DEMO_RULES])
    texts = [p.read_bytes().decode("utf-8", errors="replace") for p in _fixtures()]
    r = client.post("/v1/validate/batch", json={"items": [{"output": t} for t in texts]}, headers=auth())
    assert r.status_code == 200
    served = [_comparable(x) for x in r.json()["reports"]]
    library = [_comparable(_library(engine, t)) for t in texts]
    assert served == library


from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_PIECES = st.sampled_from(
    ["guaranteed returns", " risk-free ", "db1.corp", "5 mg", "\ufffd", "\n", "é", "日本", "\x00", "{", '"', " "]
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(_PIECES, st.text(max_size=20)), max_size=12).map("".join))
def test_any_text_gives_the_same_report(make_client: Callable[..., TestClient], text: str) -> None:
    client = _parity_client(make_client)
    library = _library(_ENGINE, text)
    served = client.post("/v1/validate", json={"output": text}, headers=auth()).json()
    assert _comparable(served) == _comparable(library)


_ENGINE = Engine.from_policy("demo", [DEMO_RULES])
_CLIENTS: dict[int, TestClient] = {}


def _parity_client(make_client: Callable[..., TestClient]) -> TestClient:
    # One app per test run (hypothesis calls the test many times with the same fixture).
    key = id(make_client)
    if key not in _CLIENTS:
        _CLIENTS.clear()
        _CLIENTS[key] = make_client(review_db=None)
    return _CLIENTS[key]

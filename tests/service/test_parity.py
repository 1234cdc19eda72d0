"""Every fixture under fixtures/, through the library and through POST /v1/validate: the same Report JSON."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from guardrails import Engine, RuleError
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
    """demo (always) and every bundled policy that compiles here without downloading anything."""
    from guardrails import load_ruleset

    names = ["demo"]
    for name in sorted(load_ruleset([DEMO_RULES]).policies):
        if name == "demo":
            continue
        try:
            Engine.from_policy(name, [DEMO_RULES])
        except (RuleError, OSError, ImportError, ValueError):
            continue
        names.append(name)
    return names


def _comparable(report: dict[str, Any]) -> dict[str, Any]:
    # Timings differ run to run, and only the service queues items (so only it sets review_id).
    out = dict(report)
    out.pop("elapsed_ms")
    out.pop("review_id")
    out["timings"] = [{k: v for k, v in t.items() if k != "ms"} for t in report["timings"]]
    # A timeout's detail says how long the check took: wall-clock, like the timings.
    out["degraded"] = [{**d, "detail": ""} if d["reason"] == "timeout" else d for d in report["degraded"]]
    return out


def _timed_out(report: dict[str, Any]) -> bool:
    return any(d["reason"] == "timeout" for d in report["degraded"])


def test_there_are_fixtures() -> None:
    assert len(_fixtures()) >= 6


@pytest.fixture(scope="module")
def policies() -> list[str]:
    return _policies()


def test_every_fixture_gives_the_same_report(make_client: Callable[..., TestClient], policies: list[str]) -> None:
    client = make_client(policies=policies)
    engines = {name: Engine.from_policy(name, [DEMO_RULES]) for name in policies}
    compared = timed_out = 0
    for path in _fixtures():
        text = path.read_bytes().decode("utf-8", errors="replace")
        for name in policies:
            for _ in range(3):
                library = engines[name].validate(text).model_dump(mode="json", by_alias=True)
                r = client.post("/v1/validate", json={"output": text, "policy": name}, headers=auth())
                assert r.status_code == 200, (path, name, r.text[:300])
                served = r.json()
                # Deadlines are wall-clock: on a loaded machine one side may fail closed where the other
                # did not. That is the engine working, not a parity break, so such a pair is run again.
                if not (_timed_out(library) or _timed_out(served)):
                    break
            assert (served["review_id"] is not None) == (library["verdict"] == "review"), path
            if _timed_out(library) or _timed_out(served):
                # Still failing closed after three tries (a big fixture on a busy machine): which checks ran
                # late differs run to run, so this pair says nothing about parity. Both must still block.
                assert served["verdict"] == library["verdict"] == "block", path
                timed_out += 1
                continue
            assert _comparable(served) == _comparable(library), f"{path.relative_to(ROOT)} under policy {name}"
            compared += 1
    assert compared >= len(_fixtures())
    assert timed_out <= compared // 10, f"{timed_out} pairs timed out: too few compared to show parity"


def test_batch_gives_the_same_reports(make_client: Callable[..., TestClient]) -> None:
    client = make_client(review_db=None)
    engine = Engine.from_policy("demo", [DEMO_RULES])
    texts = [p.read_bytes().decode("utf-8", errors="replace") for p in _fixtures()]
    r = client.post("/v1/validate/batch", json={"items": [{"output": t} for t in texts]}, headers=auth())
    assert r.status_code == 200
    served = [_comparable(x) for x in r.json()["reports"]]
    library = [_comparable(engine.validate(t).model_dump(mode="json", by_alias=True)) for t in texts]
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
    library = _ENGINE.validate(text).model_dump(mode="json", by_alias=True)
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

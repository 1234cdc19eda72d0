"""The runner seam: the local pool answers in order with bounded look-ahead; the registry finds and adapts runners."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from guardrails.batch import runners
from guardrails.batch.outcome import Outcome
from guardrails.batch.runners import BatchError, EngineSpec, Row, RowFailure, get_runner, local_runner
from guardrails.engine import Engine
from guardrails.rules.loader import load_ruleset
from tests.batch._data import rules, text_for


def _engine(tmp_path: Path) -> Engine:
    args = rules(tmp_path)
    return Engine.from_policy(args[1], ruleset=load_ruleset([args[3]]))


def _chunks(n: int, size: int, pulled: list[int]) -> Iterator[list[Row]]:
    for start in range(0, n, size):
        pulled.append(start // size)
        yield [Row(f"r{i}", i + 1, text_for(i)) for i in range(start, min(start + size, n))]


@pytest.mark.parametrize("workers", [1, 2])
def test_local_runner_answers_in_order_and_reads_ahead_at_most_two_chunks_per_worker(
    tmp_path: Path, workers: int
) -> None:
    engine = _engine(tmp_path)
    pulled: list[int] = []
    answers = []
    for i, chunk in enumerate(local_runner(_chunks(200, 10, pulled), EngineSpec.of(engine), workers=workers)):
        # When chunk i comes back, the reader has been asked for at most 2 * workers chunks beyond it.
        assert len(pulled) <= i + 1 + 2 * workers
        answers += chunk
    expected = [engine.validate(text_for(i)) for i in range(200)]
    assert all(isinstance(a, Outcome) for a in answers)
    assert [a.verdict for a in answers if isinstance(a, Outcome)] == [r.verdict.value for r in expected]


def test_a_worker_that_cannot_compile_the_policy_says_why(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    spec = EngineSpec.of(engine)
    stale = EngineSpec(spec.source, spec.rules_dirs, spec.policy, "not-the-version")
    with pytest.raises(BatchError, match=r"compiled to version .* not not-the-version"):
        list(local_runner(_chunks(100, 10, []), stale, workers=2))


def test_an_unknown_engine_lists_the_known_ones() -> None:
    with pytest.raises(BatchError, match=r"--engine dask: no such engine \(choose from local, ray, spark\)"):
        get_runner("dask")


def test_a_row_dict_runner_is_adapted_and_its_failures_become_named_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The integrations' first shape: chunks of dicts in, one result dict per row out, report as JSON.
    engine = _engine(tmp_path)
    calls: dict[str, Any] = {}

    def batch_runner(
        chunks: Iterable[list[dict[str, Any]]], *, policy: str, rules_dirs: list[str], workers: int, show_values: bool
    ) -> Iterator[dict[str, Any]]:
        calls.update(policy=policy, rules_dirs=rules_dirs, show_values=show_values)
        for chunk in chunks:
            for row in chunk:
                if row["text"].startswith("row 3 "):
                    yield {"id": row["id"], "report": None, "error": "text too large"}
                else:
                    yield {"id": row["id"], "report": engine.validate(row["text"]).model_dump_json(by_alias=True)}

    module = type(sys)("guardrails.integrations.fake")
    module.batch_runner = batch_runner  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "guardrails.integrations.fake", module)
    monkeypatch.setitem(runners._EXTRAS, "fake", "guardrails.integrations.fake")
    runner = get_runner("fake")
    out = list(runner(_chunks(25, 10, []), EngineSpec.of(engine), workers=2))
    assert [len(c) for c in out] == [10, 10, 5]
    flat = [x for c in out for x in c]
    assert flat[3] == RowFailure("text too large")
    assert [getattr(x, "verdict", None) for i, x in enumerate(flat) if i != 3] == [
        engine.validate(text_for(i)).verdict for i in range(25) if i != 3
    ]
    # The bundled rules are not passed as extra rules (they would load twice); values come back for masking here.
    assert calls["rules_dirs"] == [str(Path(rules(tmp_path)[3]).resolve())] and calls["show_values"] is True

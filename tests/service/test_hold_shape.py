"""What a held answer shows while it waits and once decided (service/hold/shape.py), on reports the demo policy
makes: every outcome of a validate call, a completion's choices decided one by one, nothing quoted that no reviewer
released."""

from __future__ import annotations

import json
from typing import Any

import pytest

from guardrails import Engine
from service.hold import shape
from service.hold.shape import Outcome
from tests.service.conftest import DEMO_RULES

DOSE = "Take 400 mg twice a day."
SAFE = "Ask your pharmacist about the right dose."
REFUSAL = "Withheld."


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.from_policy("demo", [DEMO_RULES])


def report(engine: Engine, text: str, review_id: str | None = None) -> dict[str, Any]:
    r = engine.validate(text).model_copy(update={"review_id": review_id})
    return r.model_dump(mode="json", by_alias=True)


def validation(engine: Engine) -> dict[str, Any]:
    return {"object": shape.VALIDATION, "output": DOSE, "report": report(engine, DOSE, "r1")}


def completion(engine: Engine, *texts: str) -> dict[str, Any]:
    infos = []
    for i, text in enumerate(texts):
        r = report(engine, text)
        infos.append({"verdict": r["verdict"], "review_id": f"r{i}" if r["verdict"] == "review" else None, "report": r})
    choices = [
        {"index": i, "message": {"role": "assistant", "content": t}, "finish_reason": "stop"}
        for i, t in enumerate(texts)
    ]
    info = {**infos[0], "choices": infos} if len(infos) > 1 else infos[0]
    return {"object": shape.COMPLETION, "choices": choices, "outguard": info}


@pytest.mark.parametrize(
    ("outcome", "status", "output", "quoted"),
    [
        (Outcome("approve"), "released", DOSE, True),
        (Outcome("false_positive"), "released", DOSE, True),
        (Outcome("approve_edit", "Ask a pharmacist."), "released", "Ask a pharmacist.", False),
        (Outcome("reject", None, "off-label"), "refused", None, False),
        (Outcome("timeout_block", None, "review_timeout"), "refused", None, False),
        (Outcome("timeout_release", None, "review_timeout"), "released", DOSE, True),
    ],
)
def test_a_validation_outcome(engine: Engine, outcome: Outcome, status: str, output: str | None, quoted: bool) -> None:
    got = shape.result("r1", validation(engine), {0: outcome}, REFUSAL)
    assert (got["status"], got["outcome"], got["output"], got["reason"]) == (
        status,
        outcome.kind,
        output,
        outcome.reason,
    )
    assert got["edited"] is (outcome.edited is not None)
    assert [f["code"] for f in got["report"]["findings"]] == ["SVC003"]  # why, always
    assert ("400 mg" in json.dumps(got["report"])) is quoted


def test_a_validation_waits_for_its_own_item(engine: Engine) -> None:
    assert shape.reviewed("r1", validation(engine)) == {0: "r1"}
    waiting = shape.waiting_info(validation(engine))
    assert waiting["verdict"] == "review" and waiting["review_id"] == "r1"
    assert "400 mg" not in json.dumps(waiting) and waiting["report"]["findings"]


def test_a_completion_waits_for_every_reviewed_choice_and_shows_none(engine: Engine) -> None:
    body = completion(engine, SAFE, DOSE, "Take 200 mg once a day.")
    assert shape.reviewed("x", body) == {1: "r1", 2: "r2"}
    waiting = json.dumps(shape.waiting_info(body))
    assert SAFE not in waiting and "400 mg" not in waiting and "200 mg" not in waiting


def test_each_reviewed_choice_is_replaced_by_its_decision(engine: Engine) -> None:
    body = completion(engine, SAFE, DOSE, "Take 200 mg once a day.")
    decided = {1: Outcome("approve"), 2: Outcome("reject", None, "off-label")}
    got = shape.result("r1", body, decided, REFUSAL)
    assert [c["message"]["content"] for c in got["choices"]] == [SAFE, DOSE, REFUSAL]
    assert [c["finish_reason"] for c in got["choices"]] == ["stop", "stop", "content_filter"]
    assert got["outguard"]["held"] == {"id": "r1", "outcome": "mixed", "reason": "off-label", "edited": False}
    assert [c.get("held", {}).get("outcome") for c in got["outguard"]["choices"]] == [None, "approve", "reject"]
    assert "200 mg" not in json.dumps(got)
    assert got["outguard"]["report"]["output"] == SAFE  # the top level still repeats choice 0
    assert body["choices"][2]["message"]["content"] != REFUSAL  # the stored body is left as it was


def test_one_choice_keeps_the_shape_results_always_had(engine: Engine) -> None:
    body = completion(engine, DOSE)
    assert shape.reviewed("r0", body) == {0: "r0"}
    got = shape.result("r0", body, {0: Outcome("approve_edit", "Ask a pharmacist.")}, REFUSAL)
    assert got["choices"][0]["message"]["content"] == "Ask a pharmacist."
    assert got["outguard"]["held"] == {"id": "r0", "outcome": "approve_edit", "edited": True}
    assert "choices" not in got["outguard"] and "400 mg" not in json.dumps(got)


def test_an_edit_drops_the_replaced_answers_logprobs(engine: Engine) -> None:
    body = completion(engine, DOSE)
    body["choices"][0]["logprobs"] = {"content": [{"token": "Take-400", "logprob": -0.1}]}
    got = shape.result("r0", body, {0: Outcome("approve_edit", "Ask a pharmacist.")}, REFUSAL)
    assert got["choices"][0]["logprobs"] is None and "Take-400" not in json.dumps(got)
    kept = shape.result("r0", body, {0: Outcome("approve")}, REFUSAL)
    assert kept["choices"][0]["logprobs"] == body["choices"][0]["logprobs"]  # approved as it came: all of it


def test_an_edit_of_a_declared_refusal_delivers_the_edit_alone(engine: Engine) -> None:
    body = completion(engine, DOSE)
    body["choices"][0]["message"] = {"role": "assistant", "content": None, "refusal": DOSE, "annotations": []}
    got = shape.result("r0", body, {0: Outcome("approve_edit", "Ask a pharmacist.")}, REFUSAL)
    assert got["choices"][0]["message"] == {"role": "assistant", "content": "Ask a pharmacist."}

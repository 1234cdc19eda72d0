"""The last resort a policy declares (`regeneration.last_resort`): delivered by the Guard, overridden by the caller."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import yaml

from guardrails import Engine
from guardrails.findings import Verdict
from guardrails.guard import DEFAULT_LAST_RESORT, Guard, LLMError
from tests.guard.helpers import RULES_DIR, ScriptedLLM

POLICY_ANSWER = "Le service est indisponible pour le moment. Réessayez plus tard."
BAD = "Returns are guaranteed to double."


def _engine(tmp_path: Path, last_resort: str) -> Engine:
    policies = tmp_path / "rules" / "policies"
    policies.mkdir(parents=True)
    regeneration = {"max_attempts": 1, "last_resort": last_resort}
    policy = {"name": "fr", "rules": ["GRT001", "GRT002"], "regeneration": regeneration}
    (policies / "fr.yaml").write_text(yaml.safe_dump(policy, allow_unicode=True), encoding="utf-8")
    return Engine.from_policy("fr", [RULES_DIR, tmp_path / "rules"])


def _down() -> ScriptedLLM:
    return ScriptedLLM([LLMError("HTTP 503: overloaded", status=503, retryable=True)], name="primary")


def test_the_policy_last_resort_is_delivered_when_the_provider_fails(tmp_path: Path) -> None:
    result = Guard(_engine(tmp_path, POLICY_ANSWER), _down()).run("Q?")
    assert result.source == "last_resort" and result.output == POLICY_ANSWER
    assert result.report.verdict is Verdict.PASS


def test_the_policy_last_resort_is_delivered_when_the_budget_runs_out(tmp_path: Path) -> None:
    result = asyncio.run(Guard(_engine(tmp_path, POLICY_ANSWER), ScriptedLLM([BAD])).arun("Q?"))
    assert result.source == "last_resort" and result.output == POLICY_ANSWER and len(result.attempts) == 1


def test_the_callers_last_resort_wins_over_the_policy(tmp_path: Path) -> None:
    result = Guard(_engine(tmp_path, POLICY_ANSWER), _down(), last_resort="Try again soon.").run("Q?")
    assert result.output == "Try again soon."


def test_a_failing_last_resort_function_falls_back_to_the_policy_answer(tmp_path: Path) -> None:
    def broken(messages: list[dict[str, str]], attempts: list[Any]) -> str:
        raise RuntimeError("template missing")

    result = Guard(_engine(tmp_path, POLICY_ANSWER), _down(), last_resort=broken).run("Q?")
    assert result.output == POLICY_ANSWER


def test_without_the_key_the_built_in_answer_stays() -> None:
    engine = Engine.from_policy("guard-test", [RULES_DIR])
    assert engine.policy.regeneration.last_resort is None
    assert Guard(engine, _down()).run("Q?").output == DEFAULT_LAST_RESORT


def test_the_last_resort_is_delivered_as_written_and_never_reported_on(tmp_path: Path) -> None:
    # Operator-written, and nothing comes after it: delivered whatever the policy thinks of it, and the report
    # describes what the provider sent (nothing, in an outage), not the degraded answer.
    text = "Write to help@example.org: returns are never guaranteed."
    result = Guard(_engine(tmp_path, text), _down()).run("Q?")
    assert result.output == text and result.outage
    assert result.report.original == "" and not result.report.findings
    assert result.attempts[0].error_status == 503


def test_after_rejected_answers_the_report_describes_the_last_one(tmp_path: Path) -> None:
    result = Guard(_engine(tmp_path, POLICY_ANSWER), ScriptedLLM([BAD])).run("Q?")
    assert result.output == POLICY_ANSWER and not result.outage
    assert result.report.original == BAD and result.report.verdict is Verdict.REGENERATE
    assert {f.code for f in result.report.findings} == {"GRT002"}

"""Reports that leave the process: every value a sensitive finding detected, masked wherever the report repeats it.

A Report quotes the text it describes in many places: `original`, `output`, evidence, messages, edits,
regeneration excerpts, residual findings. A caller in the same process may see all of it; anything that
crosses a process boundary (an HTTP answer, a review queue row, a log line, the CLI's JSON) carries
`redact_report(report)` instead, so it follows the same redaction as the text it describes.

Which findings are sensitive: every finding of the `pii` check, and every finding whose rule id the caller
names (rules tagged `sensitive`, see `sensitive_rule_ids`). The value is the text under the finding's span
(`original` for findings, `output` for residual findings). Its mask keeps the length and the separators and
turns every letter and digit into `*` ("jane.doe@example.com" -> "****.***@*******.***"), so spans still index
the redacted `original` and `output`, and applying the recorded edits to the redacted `original` still gives
the redacted `output`. Identifiers (codes, rule ids, fingerprints, policy names, verdicts) are left alone.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from typing import Any

from guardrails.findings import Finding, Report

SENSITIVE_CHECKS = frozenset({"pii"})
"""Checks whose every finding is sensitive: what they match identifies a person."""

SENSITIVE_TAG = "sensitive"
"""A rule tagged with this marks its findings sensitive (see `sensitive_rule_ids`)."""

MASK_CHAR = "*"

# Fields whose values are identifiers chosen by the engine or the operator, never quoted output text.
_IDENTIFIERS = frozenset(
    {
        "schema_version",
        "verdict",
        "code",
        "rule_id",
        "check",
        "severity",
        "action",
        "status",
        "fingerprint",
        "policy",
        "policy_version",
        "review_id",
        "reason",
    }
)
# Free-form dicts (check evidence, a facts row, a caller's schema) whose keys may be data too.
_FREE_DICTS = frozenset({"details", "fact", "schema"})
_MAX_PASSES = 64


def mask(value: str) -> str:
    """Same length, separators kept, every letter and digit turned into `*`."""
    return "".join(MASK_CHAR if ch.isalnum() else ch for ch in value)


def is_sensitive(finding: Finding, sensitive_rules: Collection[str] = ()) -> bool:
    return finding.check in SENSITIVE_CHECKS or finding.rule_id in sensitive_rules or finding.code in sensitive_rules


def sensitive_rule_ids(rules: Iterable[Any]) -> frozenset[str]:
    """Ids of the rules tagged `sensitive`, from an Engine's `rules` (compiled rules) or plain Rule objects."""
    out = set()
    for r in rules:
        rule = getattr(r, "rule", r)
        if SENSITIVE_TAG in getattr(rule, "tags", ()):
            out.add(rule.id)
    return frozenset(out)


def detected_values(report: Report, sensitive_rules: Collection[str] = ()) -> list[str]:
    """The distinct values sensitive findings detected, longest first; values without a letter or digit
    identify nobody and are left out."""
    values: set[str] = set()
    for findings, text in ((report.findings, report.original), (report.residual, report.output)):
        for f in findings:
            if is_sensitive(f, sensitive_rules):
                value = text[f.span.start : f.span.end]
                if any(ch.isalnum() for ch in value):
                    values.add(value)
    return sorted(values, key=lambda v: (-len(v), v))


def redact_report(report: Report, sensitive_rules: Collection[str] = ()) -> Report:
    """A copy of `report` in which no value a sensitive finding detected appears anywhere, marked `masked`."""
    values = detected_values(report, sensitive_rules)
    if not values:
        return report if report.masked else report.model_copy(update={"masked": True})
    masker = _Masker(values)
    data = masker.scrub(report.model_dump(mode="json", by_alias=True))
    data["masked"] = True
    return Report.model_validate(data)


def redact_text(text: str, values: Iterable[str]) -> str:
    """`text` with every occurrence of each value masked, until none is left (see `_Masker`)."""
    masker = _Masker.of(values)
    return text if masker is None else masker(text)


class _Masker:
    """Masks every occurrence of a set of values.

    One pass masks the longest values first; masking only removes letters and digits, but it can join what
    was around a value into another value ("a" + "*" + "b" when "a*b" is one), so passes repeat until nothing
    matches: each pass masks at least one letter or digit, so they end.
    """

    def __init__(self, ordered: list[str]) -> None:
        self.pattern = re.compile("|".join(re.escape(v) for v in ordered))

    @classmethod
    def of(cls, values: Iterable[str]) -> _Masker | None:
        ordered = sorted({v for v in values if any(ch.isalnum() for ch in v)}, key=lambda v: (-len(v), v))
        return cls(ordered) if ordered else None

    def __call__(self, text: str) -> str:
        for _ in range(_MAX_PASSES):
            redacted = self.pattern.sub(_masked, text)
            if redacted == text:
                return text
            text = redacted
        return mask(text)  # only an absurdly long chain of joined values gets here

    def scrub(self, data: Any, *, free: bool = False) -> Any:
        """Every string in a JSON-like value masked, except identifier fields; keys too inside free dicts."""
        if isinstance(data, str):
            return self(data)
        if isinstance(data, list):
            return [self.scrub(v, free=free) for v in data]
        if isinstance(data, dict):
            out: dict[str, Any] = {}
            for key, value in data.items():
                if not free and key in _IDENTIFIERS:
                    out[key] = value
                    continue
                out[self(key) if free else key] = self.scrub(value, free=free or key in _FREE_DICTS)
            return out
        return data


def _masked(match: re.Match[str]) -> str:
    return mask(match.group())

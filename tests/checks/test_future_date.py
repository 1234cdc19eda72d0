from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.checks._helpers import build, hits, spans

REF = {"reference_date": "2024-06-01"}


def test_formats_and_languages() -> None:
    check = build("future_date")
    text = (
        "Released 2025-03-14; shipped 14/03/2026; also March 3rd, 2027 and 3 mars 2028, "
        "14. März 2029, 14 de marzo de 2030, 5 maggio 2031, July 2032. Old: 2023-01-01, May 2024, 1 June 2024."
    )
    assert spans(check, text, REF) == [
        "2025-03-14",
        "14/03/2026",
        "March 3rd, 2027",
        "3 mars 2028",
        "14. März 2029",
        "14 de marzo de 2030",
        "5 maggio 2031",
        "July 2032",
    ]


def test_evidence_and_values() -> None:
    [hit] = hits(build("future_date"), "It launched on June 2, 2024.", REF)
    assert hit.values == {"date": "2024-06-02", "reference_date": "2024-06-01"}
    assert hit.evidence.details["precision"] == "day"


def test_ambiguous_numeric_dates_take_the_earlier_reading() -> None:
    check = build("future_date")
    # 05/06/2024 is 5 June or May 6: the earlier (May 6) is not after the reference.
    assert spans(check, "Signed 05/06/2024.", REF) == []
    assert spans(check, "Signed 13/06/2024.", REF) == ["13/06/2024"]


def test_invalid_dates_and_versions_are_ignored() -> None:
    assert spans(build("future_date"), "On 2030-02-30, v2030.1.2 and 31/31/2030.", REF) == []


def test_grace_days_and_params_reference() -> None:
    assert spans(build("future_date", grace_days=2), "On June 3, 2024.", REF) == []
    assert spans(build("future_date", reference_date="2020-01-01"), "On June 3, 2024.") == ["June 3, 2024"]


def test_context_reference_beats_params_and_today_is_default() -> None:
    far = (dt.date.today() + dt.timedelta(days=400)).strftime("%B %d, %Y")
    assert spans(build("future_date"), f"It happened on {far}.") == [far]
    assert (
        spans(build("future_date", reference_date="2000-01-01"), "On June 3, 2024.", {"reference_date": "2030-01-01"})
        == []
    )


def test_announced_future_is_skipped_unless_disabled() -> None:
    text = "The summit will take place on 3 March 2031."
    assert spans(build("future_date"), text, REF) == []
    assert spans(build("future_date", skip_future_tense=False), text, REF) == ["3 March 2031"]


def test_years_only_when_enabled() -> None:
    text = "The bridge was finished in 2031."
    assert spans(build("future_date"), text, REF) == []
    assert spans(build("future_date", years=True), text, REF) == ["2031"]


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("0123456789/-. marchMayde,\u00e4\u200b")), max_size=120))
def test_spans_inside_text(text: str) -> None:
    for hit in hits(build("future_date", years=True), text, REF):
        assert 0 <= hit.start <= hit.end <= len(text)

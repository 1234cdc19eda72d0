# ruff: noqa: RUF001, RUF003 -- hostile input: look-alike and fullwidth characters on purpose
"""The `pii` check: codes, spans, evidence, every repair mode, pseudonym consistency, hostile input, no network."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import regex
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from guardrails.checks._pii.recognizers import analyze, recognizer_set
from guardrails.checks._pii.scan import DocScan
from guardrails.checks.base import Deadline, DeadlineExceeded, RunContext
from guardrails.checks.pii import PiiCheck, PiiParams
from guardrails.context import Context
from guardrails.document import Document
from guardrails.engine import Engine
from guardrails.findings import Verdict
from guardrails.rules.errors import RuleError
from guardrails.rules.loader import load_ruleset
from guardrails.rules.model import Policy
from tests.conftest import NetworkAccessError

EMAIL = "jane.doe@example.com"
PHONE = "+1 415-867-5309"
CARD = "4111 1111 1111 1111"
IBAN = "DE89 3704 0044 0532 0130 00"


def hits(params: dict[str, Any], text: str, language: str = "en") -> list[Any]:
    check = PiiCheck(PiiParams.model_validate(params))
    return list(check.run(Document(text), RunContext(Context(language=language))))


def spans(params: dict[str, Any], text: str) -> list[tuple[str, str]]:
    return [(h.values["entity"], text[h.start : h.end]) for h in hits(params, text)]


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.from_policy("pii")


# -- codes, spans, evidence ----------------------------------------------------------------------


def test_policy_finds_each_family_with_its_code_and_span(engine: Engine) -> None:
    text = f"Mail {EMAIL}, call {PHONE}, card {CARD}, IBAN {IBAN}, from 203.0.113.42."
    report = engine.validate(text)
    found = {(f.code, text[f.span.start : f.span.end]) for f in report.findings}
    assert found == {
        ("PII001", EMAIL),
        ("PII002", PHONE),
        ("PII003", CARD),
        ("PII004", IBAN),
        ("PII006", "203.0.113.42"),
    }
    assert report.verdict is Verdict.REPAIRED


def test_evidence_carries_presidio_explanation_and_never_the_value(engine: Engine) -> None:
    text = f"Please charge my credit card {CARD} today, or mail {EMAIL}."
    report = engine.validate(text)
    card = next(f for f in report.findings if f.code == "PII003")
    ev = card.evidence
    assert ev.source == "CreditCardRecognizer"
    assert ev.pattern == "All Credit Cards (weak)"
    assert ev.score == 1.0 and ev.details["validation_result"] is True
    assert ev.details["original_score"] == pytest.approx(0.3)
    assert ev.details["supportive_context_word"] in {"credit", "card"}
    assert ev.matched == "#### #### #### ####"
    for finding in report.findings:
        dumped = finding.model_dump_json()
        assert CARD not in dumped and EMAIL not in dumped and "4111" not in dumped
        assert "jane" not in finding.message


def test_context_word_raises_score_and_is_recorded() -> None:
    params = {"entities": ["US_BANK_NUMBER"], "thresholds": {"US_BANK_NUMBER": 0.4}, "outranked_by": []}
    assert hits(params, "Invoice 123456789012 is attached.") == []
    [hit] = hits(params, "My bank account number is 123456789012.")
    assert hit.evidence.details["supportive_context_word"] in {"account", "bank"}
    assert hit.evidence.score == pytest.approx(0.4)
    assert hit.evidence.details["score_context_improvement"] > 0


def test_surer_entity_outranks_overlapping_weaker_one() -> None:
    # presidio reads a Luhn-valid card as a phone, a bank number and a licence too; one report wins.
    text = "card 4929697010226317 please"
    assert spans({"entities": ["PHONE_NUMBER", "CREDIT_CARD", "US_BANK_NUMBER"]}, text) == [
        ("CREDIT_CARD", "4929697010226317")
    ]
    assert spans({"entities": ["PHONE_NUMBER"], "outranked_by": ["CREDIT_CARD"]}, text) == []


# -- params: thresholds, allow and deny lists, custom patterns ----------------------------------------


def test_allow_list_exact_and_regex() -> None:
    text = "Write to support@example.com or jane.doe@example.com."
    assert spans({"entities": ["EMAIL_ADDRESS"], "allow_list": ["SUPPORT@example.com"]}, text) == [
        ("EMAIL_ADDRESS", EMAIL)
    ]
    regex_allow = {"entities": ["EMAIL_ADDRESS"], "allow_list": [r".*@example\.com"], "allow_list_match": "regex"}
    assert spans(regex_allow, text) == []


def test_deny_list_reports_terms_as_the_entity() -> None:
    params = {"entities": ["PROJECT_CODENAME"], "deny_list": {"PROJECT_CODENAME": ["Bluebird", "Night Owl"]}}
    assert spans(params, "Status of bluebird and Night Owl?") == [
        ("PROJECT_CODENAME", "bluebird"),
        ("PROJECT_CODENAME", "Night Owl"),
    ]


def test_custom_pattern_with_context_words() -> None:
    params = {
        "entities": ["EMPLOYEE_ID"],
        "thresholds": {"EMPLOYEE_ID": 0.5},
        "recognizers": [
            {
                "entity": "EMPLOYEE_ID",
                "patterns": [{"name": "emp", "regex": r"\bE\d{6}\b", "score": 0.3}],
                "context": ["employee", "staff"],
            }
        ],
    }
    assert spans(params, "Ticket E123456 is closed.") == []
    [hit] = hits(params, "The employee number is E123456.")
    assert hit.evidence.source == "custom:EMPLOYEE_ID" and hit.evidence.pattern == "emp"
    assert hit.evidence.details["supportive_context_word"] == "employee"
    assert hit.evidence.score == pytest.approx(0.65)


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"entities": ["EMAIL"]}, "unknown entity type(s) ['EMAIL']"),
        ({"entities": ["PERSON"]}, "need params.spacy_model"),
        ({"entities": ["EMAIL_ADDRESS"], "mode": "hash", "hash_key_env": "OUTGUARD_TEST_NO_SUCH_KEY"}, "needs a key"),
        ({"recognizers": [{"entity": "X_ID", "patterns": [{"name": "bad", "regex": "(unclosed"}]}]}, "is invalid"),
        ({"spacy_model": "/nonexistent/model"}, "never downloaded"),
    ],
)
def test_bad_params_fail_at_load_with_the_key(params: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ValueError, match=None) as info:
        PiiCheck(PiiParams.model_validate(params))
    assert fragment in str(info.value)


def test_bad_rule_file_names_file_rule_and_key(tmp_path: Path) -> None:
    (tmp_path / "mine.yaml").write_text(
        "pack: mine\nrules:\n  - id: leaked-thing\n    code: ZZZ001\n    check: pii\n"
        "    params: {entities: [EMAIL_ADRESS]}\n    message: m\n"
    )
    rs = load_ruleset([tmp_path])
    with pytest.raises(RuleError) as info:
        Engine.from_policy("default", ruleset=rs)
    text = str(info.value)
    assert "mine.yaml" in text and "leaked-thing" in text and "params.entities" in text


# -- repairs ---------------------------------------------------------------------------------------


def _engine_with(mode: str, **extra: Any) -> Engine:
    rs = load_ruleset()
    policy = Policy(
        name="t",
        rules=["email-address", "phone-number"],
        overrides={"email-address": {"params": {"mode": mode, **extra}}, "phone-number": {"params": {"mode": mode}}},
    )
    from guardrails.rules.compile import compile_policy

    return Engine(compile_policy(policy, rs))


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("redact", "Mail [REDACTED] or [REDACTED], call [REDACTED]."),
        ("mask", f"Mail {'*' * len(EMAIL)} or {'*' * len(EMAIL)}, call {'*' * len(PHONE)}."),
        ("tag", "Mail <EMAIL_ADDRESS> or <EMAIL_ADDRESS>, call <PHONE_NUMBER>."),
        ("pseudonym", "Mail <EMAIL_ADDRESS_1> or <EMAIL_ADDRESS_1>, call <PHONE_NUMBER_1>."),
    ],
)
def test_repair_modes(mode: str, expected: str) -> None:
    text = f"Mail {EMAIL} or {EMAIL.upper()}, call {PHONE}."
    report = _engine_with(mode).validate(text)
    assert report.output == expected
    assert report.verdict is Verdict.REPAIRED
    assert not report.residual


def test_keyed_hash_is_stable_per_key_and_hides_the_value(monkeypatch: pytest.MonkeyPatch) -> None:
    text = f"Mail {EMAIL} or {EMAIL.upper()}; not other@example.com."
    monkeypatch.setenv("OUTGUARD_PII_HASH_KEY", "k1")
    out1 = _engine_with("hash").validate(text).output
    monkeypatch.setenv("OUTGUARD_PII_HASH_KEY", "k2")
    out2 = _engine_with("hash").validate(text).output
    tags1 = re.findall(r"<EMAIL_ADDRESS:[0-9a-f]{12}>", out1)
    assert len(tags1) == 3 and tags1[0] == tags1[1] != tags1[2]
    assert out1 != out2
    assert "example" not in out1


def test_pseudonyms_are_consistent_and_skip_placeholders_already_in_text() -> None:
    text = "a@example.com, b@example.com, A@EXAMPLE.COM and <EMAIL_ADDRESS_1> from before."
    out = _engine_with("pseudonym").validate(text).output
    assert out == "<EMAIL_ADDRESS_2>, <EMAIL_ADDRESS_3>, <EMAIL_ADDRESS_2> and <EMAIL_ADDRESS_1> from before."


def test_no_character_of_a_detected_value_survives_repair(engine: Engine) -> None:
    text = f"Card {CARD}, mail {EMAIL}, SSN 536-22-1234, IBAN {IBAN}, call {PHONE}."
    report = engine.validate(text)
    assert report.findings and not report.residual
    for f in report.findings:
        value = text[f.span.start : f.span.end]
        assert value not in report.output
    for fragment in ("4111", "jane", "536-22", "3704", "867"):
        assert fragment not in report.output


# -- hostile input ---------------------------------------------------------------------------------


def test_zero_width_and_homoglyphs_hiding_an_email_map_back_to_the_original() -> None:
    hidden = "j\u200bо\u200dhn@exаmple.com"  # zero-width space and joiner, Cyrillic о and а
    text = f"Reach me at {hidden} tomorrow."
    [hit] = hits({"entities": ["EMAIL_ADDRESS"]}, text)
    assert text[hit.start : hit.end] == hidden
    assert hit.evidence.details["normalized"] is True
    repaired = text[: hit.start] + hit.fix.edits[0].replacement + text[hit.end :]
    assert "\u200b" not in repaired and "exа" not in repaired


def test_fullwidth_at_sign_is_seen() -> None:
    text = "Mail ｊａｎｅ＠ｅｘａｍｐｌｅ．ｃｏｍ now"
    [hit] = hits({"entities": ["EMAIL_ADDRESS"]}, text)
    assert text[hit.start : hit.end] == "ｊａｎｅ＠ｅｘａｍｐｌｅ．ｃｏｍ"


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        (f"Bitte überweisen Sie an {IBAN} und schreiben Sie an {EMAIL}.", "de", {IBAN, EMAIL}),
        (f"Пишите на {EMAIL}, карта {CARD}.", "ru", {EMAIL, CARD}),
        (f"連絡先は {EMAIL} です。カード {CARD}。", "ja", {EMAIL, CARD}),
        (f"Escriba a {EMAIL}; tarjeta de crédito {CARD}.", "es", {EMAIL, CARD}),
        ("مرحبا، هذا نص عربي بدون بيانات شخصية.", "ar", set()),
        ("Привет, это обычный текст без данных.", "ru", set()),
    ],
)
def test_non_english_text(text: str, language: str, expected: set[str]) -> None:
    got = {
        text[h.start : h.end] for h in hits({"entities": ["EMAIL_ADDRESS", "CREDIT_CARD", "IBAN_CODE"]}, text, language)
    }
    assert got == expected


def test_very_long_output_finds_pii_at_both_ends() -> None:
    filler = "Lorem ipsum dolor sit amet, 42 consectetur adipiscing elit. " * 20_000  # ~1.2 MB
    text = f"{EMAIL} {filler} {CARD}"
    found = spans({"entities": ["EMAIL_ADDRESS", "CREDIT_CARD"]}, text)
    assert found == [("EMAIL_ADDRESS", EMAIL), ("CREDIT_CARD", CARD)]


def test_one_huge_token_without_whitespace_is_linear() -> None:
    text = "x" * 500_000 + "@" + "y" * 10 + ".com"
    assert hits({"entities": ["PHONE_NUMBER", "CREDIT_CARD"]}, text) == []


def test_expired_deadline_stops_the_check() -> None:
    check = PiiCheck(PiiParams(entities=["PHONE_NUMBER"]))
    deadline = Deadline(0.0)
    with pytest.raises(DeadlineExceeded):
        list(check.run(Document(f"call {PHONE} " * 50), RunContext(Context(), deadline)))


# -- windows give presidio's own results -------------------------------------------------------------

_FRAGMENTS = st.sampled_from(
    [
        EMAIL, PHONE, CARD, IBAN, "4929697010226317", "536-22-1234", "(212) 736-5000", "203.0.113.42",
        "2001:db8::1", "00:1A:2B:3C:4D:5E", "04/23/1981", "1BoatSLRHtKNngkdXEeobR76b53LETtpyT",
        "https://example.com/x", "ext. 12", "call", "card", "ssn", "the", "-", "+", "(", ")", "x",
        "1", "12", "2019", "56139", "0049 30 1234567", "D1234567", "né", "ｊａｎｅ＠ｅｘａｍｐｌｅ．ｃｏｍ",
        "1992-11-12 07:04:41", "GB82 WEST 1234 5698 7654 32", "x\t030 12345678",
    ]
)  # fmt: skip
_GLUE = st.sampled_from([" ", "  ", "\n", ", ", "-", "", "\t", ". "])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(_FRAGMENTS, _GLUE), min_size=1, max_size=12))
def test_windowed_results_equal_full_text_results(parts: list[tuple[str, str]]) -> None:
    text = "".join(a + b for a, b in parts)
    rs = recognizer_set("en")
    scan = DocScan(text, rs)
    for rec in rs.recognizers:
        full = {(r.start, r.end, r.entity_type, round(r.score, 4)) for r in analyze(rec, scan.text)}
        windowed = {(r.start, r.end, r.entity, round(r.score, 4)) for r in scan.raw(rec)}
        assert windowed == full, (type(rec).__name__, text)


@pytest.mark.parametrize(
    "text",
    [
        "0049 30 1234567/4111 1111 1111 1111 203.0.113.42-",  # a card run starting inside a taken chunk
        "call 536-22-1234.536 22 1234 x 123456789",
        "4111-1111-1111-1111\t4111 1111 1111 1111",
    ],
)
def test_windows_of_triggers_spanning_chunks_equal_full_text(text: str) -> None:
    rs = recognizer_set("en")
    scan = DocScan(text, rs)
    for rec in rs.recognizers:
        full = {(r.start, r.end, r.entity_type, round(r.score, 4)) for r in analyze(rec, scan.text)}
        assert {(r.start, r.end, r.entity, round(r.score, 4)) for r in scan.raw(rec)} == full


_DIGITS_RUN = st.lists(
    st.tuples(
        st.text("0123456789", min_size=1, max_size=6), st.sampled_from([" ", "-", ".", " (", ") ", "/", " ext. "])
    ),
    min_size=1,
    max_size=5,
).map(lambda parts: "".join(a + b for a, b in parts).strip())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["", "+", "00", "0", "1 ", "011 "]), _DIGITS_RUN)
@example("", "0 0 5002 0200")  # an IDD split across groups: GB reads it as +500 20200
def test_phone_region_filter_never_drops_a_number_the_matcher_finds(lead: str, run: str) -> None:
    import phonenumbers

    from guardrails.checks._pii import windows as win

    text = lead + run
    regions = win.distinct_dialling_regions(("US", "GB", "DE", "FR", "IL", "IN", "CA", "BR"))
    for m in win.PHONE_CANDIDATE.finditer(text):
        kept = set(win.regions_to_try(m.group(), regions))
        found = {r: {(n.start, n.end) for n in phonenumbers.PhoneNumberMatcher(m.group(), r)} for r in regions}
        by_kept = set().union(*(found[r] for r in kept))
        for region in regions:  # a dropped region finds nothing but what a region standing in for it finds
            assert region in kept or found[region] <= by_kept, (m.group(), region)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from(["phone", ":", "the", "be", "-PRON-", "a:b", "tel:", "x", "?", "is", "2019", "é", "--"]))
)
def test_context_keywords_equal_presidios(tokens: list[str]) -> None:
    from presidio_analyzer.nlp_engine import NlpArtifacts

    from guardrails.checks._pii.context import is_keyword, stop_words

    class Lexicon:
        def is_stopword(self, word: str, language: str) -> bool:
            return word.lower() in stop_words("en")

        def is_punct(self, word: str, language: str) -> bool:
            return not any(c.isalnum() for c in word)

    lemmas = [t.lower() for t in tokens]
    theirs = NlpArtifacts([], tokens, list(range(len(tokens))), lemmas, Lexicon(), "en")  # type: ignore[arg-type]
    # Regex tokens never hold ':' beside letters, so presidio's split at ':' never applies to them.
    ours = [k for lemma in lemmas if is_keyword(lemma, stop_words("en")) for k in lemma.split(":")]
    assert ours == theirs.keywords


_CONTEXT_WORDS = st.sampled_from(
    [
        "phone",
        "Phone:",
        "telephone",
        "call",
        "the",
        "is",
        "my",
        "number",
        "cellphone",
        "x",
        "ssn",
        "-",
        ",",
        "2019",
        "é",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_CONTEXT_WORDS, max_size=30), st.lists(_CONTEXT_WORDS, max_size=3), st.sampled_from(["", " ", "#"]))
def test_context_rule_equals_presidios_enhancer(before: list[str], extra: list[str], glue: str) -> None:
    """Our context rule against presidio's LemmaContextAwareEnhancer, given the same regex tokens."""
    from presidio_analyzer import AnalysisExplanation, RecognizerResult
    from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer
    from presidio_analyzer.nlp_engine import NlpArtifacts
    from presidio_analyzer.predefined_recognizers import PhoneRecognizer

    from guardrails.checks._pii.context import _BEFORE_CHARS, _TOKEN, context_rule, is_keyword, stop_words

    text = " ".join(before) + glue + "212-555-0199 today"
    start = len(" ".join(before) + glue)
    end = start + len("212-555-0199")
    rec = PhoneRecognizer()
    rule = context_rule(tuple(rec.context), "en")
    ours = rule.support(text, start, end, 0.4, extra=extra)
    lowered = text.lower()
    assert rule.support(text, start, end, 0.4, extra=extra, lowered=lowered) == ours

    lo = max(0, start - _BEFORE_CHARS)
    space = text.find(" ", lo, start)
    lo = space + 1 if lo > 0 and space != -1 else lo
    tokens = [(m.group(), m.start()) for m in _TOKEN.finditer(text, lo, min(len(text), end + 40))]
    lemmas = [t.lower() for t, _ in tokens]
    artifacts = NlpArtifacts.__new__(NlpArtifacts)
    artifacts.tokens, artifacts.tokens_indices, artifacts.lemmas = (
        [t for t, _ in tokens],
        [i for _, i in tokens],
        lemmas,
    )  # type: ignore[assignment]
    artifacts.keywords = [k for lemma in lemmas if is_keyword(lemma, stop_words("en")) for k in lemma.split(":")]
    artifacts.entities, artifacts.scores = [], []
    explanation = AnalysisExplanation("PhoneRecognizer", 0.4)
    result = RecognizerResult("PHONE_NUMBER", start, end, 0.4, explanation, {"recognizer_identifier": rec.id})
    [theirs] = LemmaContextAwareEnhancer().enhance_using_context(text, [result], artifacts, [rec], extra or None)
    if ours is None:
        assert theirs.score == 0.4
    else:
        word = theirs.analysis_explanation.supportive_context_word  # the enhancer works on deep copies
        assert (ours.word, round(ours.score, 6)) == (word, round(theirs.score, 6))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(_FRAGMENTS, _GLUE), min_size=1, max_size=10))
def test_repair_is_idempotent_and_spans_lie_in_text(parts: list[tuple[str, str]]) -> None:
    engine = Engine.from_policy("pii")
    text = "".join(a + b for a, b in parts)
    report = engine.validate(text)
    for f in report.findings:
        assert 0 <= f.span.start <= f.span.end <= len(text)
    again = engine.validate(report.output)
    assert again.output == report.output
    assert not [f for f in again.findings if f.code.startswith("PII")]


# -- no network --------------------------------------------------------------------------------------


def test_stock_tldextract_would_fetch_and_the_guard_catches_it(tmp_path: Path) -> None:
    import tldextract

    stock = tldextract.TLDExtract(cache_dir=str(tmp_path))
    with pytest.raises(NetworkAccessError):
        stock("jane.doe@example.com")


def test_email_validation_never_touches_the_network(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import tldextract

    def _forbidden(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("tldextract's default (network) extractor was used")

    monkeypatch.setattr(tldextract, "extract", _forbidden)
    monkeypatch.setenv("TLDEXTRACT_CACHE", str(tmp_path))
    found = spans({"entities": ["EMAIL_ADDRESS"]}, f"write to {EMAIL} or someone@mail.example.co.uk")
    assert [v for _, v in found] == [EMAIL, "someone@mail.example.co.uk"]
    assert not list(tmp_path.iterdir())


# -- NER tier ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ruler_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A spaCy pipeline built here: blank English plus an entity ruler (no download, no training)."""
    import spacy

    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns(  # type: ignore[attr-defined]
        [
            {"label": "PERSON", "pattern": [{"LOWER": "jane"}, {"LOWER": "doe"}]},
            {"label": "GPE", "pattern": "Springfield"},
            {"label": "ORG", "pattern": "Acme Corp"},
        ]
    )
    path = tmp_path_factory.mktemp("spacy") / "ruler"
    nlp.to_disk(path)
    return path


def test_ner_tier_with_a_saved_spacy_pipeline(ruler_model: Path) -> None:
    text = f"Jane Doe from Springfield works at Acme Corp; mail {EMAIL}."
    params = {"entities": ["PERSON", "LOCATION", "EMAIL_ADDRESS"], "spacy_model": str(ruler_model)}
    found = spans(params, text)
    assert found == [("PERSON", "Jane Doe"), ("LOCATION", "Springfield"), ("EMAIL_ADDRESS", EMAIL)]
    [person] = [h for h in hits(params, text) if h.values["entity"] == "PERSON"]
    assert person.evidence.source == "SpacyRecognizer"
    assert json.dumps(person.values).count("Jane") == 0


def test_missing_presidio_is_a_load_error_naming_the_rule(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import sys

    for name in [
        m for m in sys.modules if m.startswith("guardrails.checks._pii.") and m != "guardrails.checks._pii.mask"
    ]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "presidio_analyzer", None)
    (tmp_path / "mine.yaml").write_text(
        "pack: mine\nrules:\n  - id: leaked-mail\n    code: ZZZ002\n    check: pii\n"
        "    params: {entities: [EMAIL_ADDRESS]}\n    message: m\n"
    )
    with pytest.raises(RuleError) as info:
        Engine.from_policy("default", ruleset=load_ruleset([tmp_path]))
    assert "leaked-mail" in str(info.value) and "outguard[pii]" in str(info.value)


def test_language_from_context_or_params() -> None:
    text = f"Tarjeta de crédito {CARD}, correo {EMAIL}."
    check = PiiCheck(PiiParams(entities=["CREDIT_CARD", "EMAIL_ADDRESS"], preload_languages=["es"]))
    spanish = list(check.run(Document(text), RunContext(Context(language="es"))))
    assert [h.values["entity"] for h in spanish] == ["CREDIT_CARD", "EMAIL_ADDRESS"]
    # presidio's Spanish card recognizer brings its own context words ("tarjeta", "credito").
    assert spanish[0].evidence.details["supportive_context_word"] in {"tarjeta", "credito"}


@pytest.mark.parametrize("language", ["en-US", "EN", "pt_BR", "xx"])
def test_language_tags_and_unknown_languages_still_detect(language: str) -> None:
    assert [h.values["entity"] for h in hits({"entities": ["EMAIL_ADDRESS"]}, f"mail {EMAIL}", language)] == [
        "EMAIL_ADDRESS"
    ]


# -- the fast scans find what the slow ones find -------------------------------------------------------------


def test_phone_lead_bound_matches_phonenumbers_pattern() -> None:
    from guardrails.checks._pii import windows as win
    from guardrails.checks._pii.phones import PHONE_LEAD_CHARS

    # phonenumbers' pattern, parsed: an opening of at most PHONE_LEAD_CHARS characters, then the first digits.
    parsed = re._parser.parse(win.PHONE_CANDIDATE.pattern, win.PHONE_CANDIDATE.flags)  # type: ignore[attr-defined]
    assert parsed[:1].getwidth() == (0, PHONE_LEAD_CHARS)
    assert str(parsed[1]) == "(MAX_REPEAT, (1, 20, [(IN, [(CATEGORY, CATEGORY_DIGIT)])]))"


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("0123456789 ()[]+-./x#ext\t\nａ１（＋\u00a0\u3000٣ab")), max_size=120))
def test_phone_candidates_equal_the_full_scan(text: str) -> None:
    from guardrails.checks._pii import windows as win
    from guardrails.checks._pii.phones import phone_candidates

    fast = [m.span() for m in phone_candidates(text)]
    assert fast == [m.span() for m in win.PHONE_CANDIDATE.finditer(text)]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("0123456789 abGBde-\n\t.:@İſ")), max_size=120))
def test_trigger_windows_hold_every_trigger_and_end_on_whitespace(text: str) -> None:
    from guardrails.checks._pii.recognizers import TRIGGER_PATTERNS, Trigger
    from guardrails.checks._pii.runs import run_windows

    for trigger in (Trigger.DIGIT, Trigger.AT, Trigger.DOT, Trigger.HEXSEP):
        windows = run_windows(text, TRIGGER_PATTERNS[trigger].pattern)
        for w in windows:
            assert w.start == 0 or text[w.start - 1].isspace()
            assert w.end == len(text) or text[w.end].isspace()
        for m in TRIGGER_PATTERNS[trigger].finditer(text):
            assert any(w.start <= m.start() and m.end() <= w.end for w in windows), (trigger, m)


_SPANS = st.lists(
    st.tuples(
        st.integers(0, 40),
        st.integers(1, 12),
        st.sampled_from([0.05, 0.4, 0.5, 0.75, 1.0]),
        st.sampled_from(["A", "B"]),
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(_SPANS)
def test_select_equals_the_quadratic_reference(spans: list[tuple[int, int, float, str]]) -> None:
    from guardrails.checks._pii.scan import Candidate

    check = PiiCheck(PiiParams(entities=["EMAIL_ADDRESS"], outranked_by=["PHONE_NUMBER"], threshold=0.3))
    names = {"A": "EMAIL_ADDRESS", "B": "PHONE_NUMBER"}
    cands = [Candidate(names[e], s, s + n, score, "r") for s, n, score, e in spans]
    text = "x" * 60
    own = [c for c in cands if c.entity == "EMAIL_ADDRESS" and c.score >= 0.3]
    others = [c for c in cands if c.entity == "PHONE_NUMBER" and c.score >= 0.5]
    taken: list[Candidate] = []
    for c in sorted([*own, *others], key=lambda c: (-c.score, -c.length, c.start, c.entity)):
        if all(c.end <= t.start or t.end <= c.start for t in taken):
            taken.append(c)
    expected = sorted((c for c in own if any(c is t for t in taken)), key=lambda c: c.start)
    assert [id(c) for c in check.select(text, cands)] == [id(c) for c in expected]


def test_required_literals_of_patterns() -> None:
    from guardrails.checks._pii.driver import required_literals

    assert required_literals(r"\b\d{2}/\d{2}\b", 0) == "/"
    assert required_literals(r"a-(?:b|c)-d", regex.IGNORECASE) == "-"  # letters are not caseless: skipped
    assert required_literals(r"T(?i:x)", 0) == "T"
    assert required_literals(r"(?:x:|y-)z", 0) == "z"  # only what every branch has
    assert required_literals(r"(?:/)?\d+", 0) == ""  # optional
    assert required_literals(r"\p{L}+@", 0) == ""  # a syntax only `regex` reads: no claim


_PATTERN_TEXT = st.text(alphabet=st.sampled_from(list("0123456789/-.:@T aZxJANjan#+()")), max_size=60)


@settings(max_examples=300, deadline=None)
@given(_PATTERN_TEXT)
def test_every_match_holds_the_required_literals(text: str) -> None:
    from guardrails.checks._pii.driver import driver_for

    for rec in recognizer_set("en").recognizers:
        driver = driver_for(rec)
        if driver is None:
            continue
        for name, compiled, _, required in driver.patterns:
            for m in compiled.finditer(text):
                assert all(ch in m.group() for ch in required), (name, m.group(), required)

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from guardrails.checks.base import Check
from tests.checks._helpers import build, hits, spans

TOKEN = "9f8Kq2ZxV7mLp4RtN1wYc6HbJ3dGs0Ae"


def check(**params: object) -> Check:
    return build("secret_entropy", keywords=["api key", "token", "client secret"], **params)


def test_the_value_after_a_keyword_is_the_span_and_evidence_hides_it() -> None:
    found = hits(check(replacement="[REDACTED]"), f'api_key = "{TOKEN}"')
    assert len(found) == 1
    h = found[0]
    assert h.evidence.matched == f"<{len(TOKEN)} characters>"
    assert TOKEN not in repr(h.values) and TOKEN not in repr(h.evidence)
    assert h.values["keyword"] == "api_key"
    assert h.fix is not None and h.fix.safe and h.fix.edits[0].replacement == "[REDACTED]"


@pytest.mark.parametrize(
    "text",
    [
        f"OPENAI_API_KEY={TOKEN}",
        f"const apiKey = '{TOKEN}';",
        f'{{"x-api-key": "{TOKEN}"}}',
        f"**API key:** `{TOKEN}`",
        f"The client secret is {TOKEN}.",
        f"token: {TOKEN}",
    ],
)
def test_keyword_spellings_and_separators(text: str) -> None:
    assert spans(check(), text) == [TOKEN]


@pytest.mark.parametrize(
    "text",
    [
        'api_key = "YOUR_API_KEY_HERE"',
        "api_key = os.environ['API_KEY']",
        "api_key = ${API_KEY}",
        "token: 4096",
        "max_tokens: 4096",
        "monkey = 9f8Kq2ZxV7mLp4RtN1wYc6HbJ3dGs0Ae",  # 'key' inside a longer word
        "api_key = settings.OPENAI_API_KEY",
        "token = get_token(9f8Kq2ZxV7mLp4RtN1wYc6HbJ3dGs0Ae)",
        "the token is aaaaaaaaaaaaaaaaaaaaaaaaaaaa",  # no entropy
        f"{TOKEN} is unrelated to any keyword",
    ],
)
def test_placeholders_references_and_plain_text_are_left_alone(text: str) -> None:
    assert spans(check(), text) == []


def test_bare_keywords_take_a_space_as_separator() -> None:
    c = build("secret_entropy", keywords=["token"], bare_keywords=["bearer"])
    assert spans(c, f"Authorization: Bearer {TOKEN}") == [TOKEN]
    assert spans(c, "Bearer tokens expire after an hour.") == []


def test_low_entropy_passwords_pass_with_their_own_thresholds() -> None:
    c = build(
        "secret_entropy",
        keywords=["password", "mot de passe"],
        min_length=6,
        min_entropy=2.0,
        prose_verbs=["is", "est"],
    )
    assert spans(c, "The password is hunter2x9.") == ["hunter2x9"]
    assert spans(c, "Le mot de passe est Zebra#4471.") == ["Zebra#4471"]
    assert spans(c, "The password is required.") == []
    assert spans(c, "password = getpass.getpass()") == []


def test_accented_keywords_are_found_through_the_folded_text() -> None:
    c = build("secret_entropy", keywords=["contraseña"], min_length=6, min_entropy=2.0)
    assert spans(c, "La contraseña: Gato#2291") == ["Gato#2291"]


def test_bad_keywords_fail_at_load() -> None:
    with pytest.raises(ValidationError):
        build("secret_entropy", keywords=["api_key"])
    with pytest.raises(ValidationError):
        build("secret_entropy", keywords=["token"], typo=1)


def test_streaming_declares_enough_lookbehind() -> None:
    c = check()
    assert c.streaming
    # The value is one whitespace-free token of any length: held back while it is the last token, and the
    # name and separator before it within the lookbehind.
    assert c.boundary == "token"
    assert c.lookbehind >= len("client secret") + len(" = ")


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab Ké=:'\"_-9Zx\u200btokenpass")), max_size=300))
def test_spans_inside(text: str) -> None:
    for hit in hits(check(min_length=4), text):
        assert 0 <= hit.start <= hit.end <= len(text)


def test_values_and_names_owned_by_other_rules_are_skipped() -> None:
    c = check(skip_values="(?:sk-|ghp_)", skip_names="(?i)^aws")
    assert spans(c, "api_key = sk-Xq3vT9bLm2Rk8WzP4nYc7HdJ1sFg") == []
    assert spans(c, f"AWS_SECRET_TOKEN = {TOKEN}") == []
    assert spans(c, f"GITHUB_TOKEN = {TOKEN}") == [TOKEN]
    with pytest.raises(ValueError, match=r"params\.skip_values"):
        check(skip_values="(")

"""PII-laden outputs, and the check that no span attribute carries any of their text."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

CORPUS = [
    "Mail jane.doe@example.com or call +1 415 555 0132 about the refund.",
    "Card 4111 1111 1111 1111, expiry 09/29, holder Maria Gonzalez, IBAN DE89 3704 0044 0532 0130 00.",
    "Patient John Smith (SSN 078-05-1120) lives at 42 Wallaby Way, Sydney; his email is j.smith@clinic.example.org.",
    '{"name": "Akira Tanaka", "phone": "+81 3-1234-5678", "email": "akira@example.jp", "note": "VIP"}',
    "Server db01.prod.internal at 10.12.0.7 uses password hunter2-Secret! for user admin_ops.",
    "<p>Contact <b>lea.muller@example.de</b> or +49 30 901820 for the invoice of 1,234.56 EUR.</p>",
    "Guaranteed returns of 12%! Wire the money to ops@scam.example and call 020 7946 0958.",
]
"""Each item holds values a span must never show: e-mail addresses, phone and card numbers, names, secrets."""

SECRETS = [
    "jane.doe", "415 555 0132", "4111 1111", "Maria Gonzalez", "DE89 3704", "John Smith", "078-05-1120",
    "Wallaby", "j.smith@", "Akira Tanaka", "akira@", "1234-5678", "db01.prod", "10.12.0.7", "hunter2",
    "lea.muller", "901820", "ops@scam", "7946 0958",
]  # fmt: skip


def _values(value: Any) -> Iterable[str]:
    if isinstance(value, str | bytes):
        yield value if isinstance(value, str) else value.decode("utf-8", "replace")
    elif isinstance(value, Iterable):
        for v in value:
            yield from _values(v)
    else:
        yield str(value)


def assert_no_content(spans: Iterable[Any], texts: Iterable[str]) -> int:
    """Every attribute value of every span (and every event's) checked against `texts`: no secret value, and no
    value of 6 characters or more that is a piece of a text (unless it is a word of the vocabulary the spans
    legitimately name: policies, rule ids, codes, verdicts). Returns how many values were checked."""
    texts = list(texts)
    checked = 0
    for span in spans:
        attrs = [dict(span.attributes or {})] + [dict(e.attributes or {}) for e in span.events]
        for mapping in attrs:
            for key, value in mapping.items():
                for v in _values(value):
                    checked += 1
                    for secret in SECRETS:
                        assert secret not in v, f"{span.name}.{key} carries {secret!r}"
                    if len(v) >= 6 and not re.fullmatch(r"[a-z0-9_.:/-]+|[A-Z]{2,4}\d{3}", v):
                        for text in texts:
                            assert v not in text, f"{span.name}.{key} = {v!r} is a piece of the output"
        assert span.name.startswith(("outguard.", "POST", "GET")), span.name
    return checked

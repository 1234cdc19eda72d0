"""presidio's predefined pattern recognizers for a language, built once per process and grouped by
the cheap trigger every match of theirs must contain (a digit, an '@', a dot before a letter...)."""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass
from enum import StrEnum

import regex
from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.predefined_recognizers.generic.email_recognizer import EmailRecognizer
from presidio_analyzer.predefined_recognizers.generic.phone_recognizer import PhoneRecognizer

from guardrails.checks._pii.context import ContextRule, context_rule
from guardrails.checks._pii.driver import PatternDriver, driver_for
from guardrails.checks._pii.offline import OfflineEmailRecognizer
from guardrails.checks._pii.slim import predefined_recognizers

# RecognizerRegistry's default flags (regex module: DOTALL | MULTILINE | IGNORECASE), as presidio's
# registry gives every predefined pattern recognizer.
REGISTRY_FLAGS = regex.DOTALL | regex.MULTILINE | regex.IGNORECASE

# presidio logs each recognizer it loads, and warns about each one another language lacks: keep quiet.
logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)


class Trigger(StrEnum):
    """What a whitespace-delimited chunk must contain for a recognizer of this group to match in it."""

    DIGIT = "digit"  # every pattern of these recognizers needs a digit, and stays inside digit chunks
    IBAN = "iban"  # two letters and two digits open every IBAN, which may span letter-only groups
    AT = "at"  # e-mail
    DOT = "dot"  # URL: a dot followed by a TLD letter
    IPV4 = "ipv4"  # IPv4: a digit, a dot, a digit
    HEXSEP = "hexsep"  # MAC, UUID, IPv6: hex groups joined by ':', '-' or '.'
    PHONE = "phone"  # phone numbers: phonenumbers' candidates, pruned per region (see windows)
    ALL = "all"  # unknown recognizers run on the whole text


TRIGGER_PATTERNS: dict[Trigger, re.Pattern[str]] = {
    Trigger.DIGIT: re.compile(r"\d"),
    Trigger.AT: re.compile(r"@"),
    Trigger.IPV4: re.compile(r"[0-9]\.[0-9]"),
    Trigger.DOT: re.compile(r"\.[^\W\d_]"),
    # MAC "00:1a:2b..." / "001a.2b3c.4d5e", UUID "8 hex-", IPv6 "::" or "hex:hex": every form has one of
    # these around a separator. Written separator-first so the scan jumps from ':', '-', '.' to the next.
    Trigger.HEXSEP: re.compile(
        r"[:\-.](?:(?<=[0-9A-Fa-f]{2}[:\-])(?=[0-9A-Fa-f]{2}[:\-])|(?<=[0-9A-Fa-f]{4}\.)(?=[0-9A-Fa-f]{4})"
        r"|(?<=[0-9A-Fa-f]{8}-)|(?<=:)(?=:)|(?<=::)|(?<=[0-9A-Fa-f]:)(?=[0-9A-Fa-f]))"
    ),
}

# Checked against presidio 2.2's patterns: every alternative of these recognizers contains the
# trigger (the eval script re-checks windowed results against full-text results on every run). Card,
# SSN, bank and passport numbers need more than one digit, but one scan for digits serves them all:
# digit chunks are a small part of most outputs, and a wider window never changes a result.
_GROUPS: dict[str, tuple[Trigger, ...]] = {
    "CreditCardRecognizer": (Trigger.DIGIT,),
    "UsBankRecognizer": (Trigger.DIGIT,),
    "UsLicenseRecognizer": (Trigger.DIGIT,),
    "UsItinRecognizer": (Trigger.DIGIT,),
    "UsPassportRecognizer": (Trigger.DIGIT,),
    "UsSsnRecognizer": (Trigger.DIGIT,),
    "NhsRecognizer": (Trigger.DIGIT,),
    "CryptoRecognizer": (Trigger.DIGIT,),
    "DateRecognizer": (Trigger.DIGIT,),
    "IbanRecognizer": (Trigger.IBAN,),
    "MedicalLicenseRecognizer": (Trigger.DIGIT,),
    "IpRecognizer": (Trigger.IPV4, Trigger.HEXSEP),  # IPv4 has digit.digit; every other form a hex separator
    "MacAddressRecognizer": (Trigger.HEXSEP,),
    "UuidRecognizer": (Trigger.HEXSEP,),
    "EmailRecognizer": (Trigger.AT,),
    "OfflineEmailRecognizer": (Trigger.AT,),
    "UrlRecognizer": (Trigger.DOT,),
    "PhoneRecognizer": (Trigger.PHONE,),
}


@dataclass(frozen=True, eq=False)
class Slot:
    """One recognizer with what a scan asks of it on every output, looked up once."""

    rec: EntityRecognizer
    key: str  # presidio's recognizer id (a property that formats a string on every call)
    entities: tuple[str, ...]
    triggers: tuple[Trigger, ...]
    phone: bool
    context: ContextRule
    driver: PatternDriver | None  # None: runs through presidio (IBAN, phone, custom analyze)


@dataclass(frozen=True)
class RecognizerSet:
    """The recognizers of one language and the group each runs in."""

    language: str
    recognizers: tuple[EntityRecognizer, ...]
    triggers: dict[str, tuple[Trigger, ...]]

    @functools.cached_property
    def slots(self) -> dict[str, Slot]:
        """Each recognizer's slot, by recognizer id."""
        out = {}
        for rec in self.recognizers:
            key = rec.id
            out[key] = Slot(
                rec,
                key,
                tuple(rec.supported_entities),
                self.triggers[key],
                isinstance(rec, PhoneRecognizer),
                context_rule(tuple(rec.context or ()), self.language),
                driver_for(rec),
            )
        return out

    @functools.cached_property
    def groups(self) -> tuple[tuple[tuple[Trigger, ...], tuple[Slot, ...]], ...]:
        """Slots grouped by their triggers, in recognizer order of first appearance: when a group's windows
        are empty, none of its recognizers can match and the whole group is skipped at once."""
        out: dict[tuple[Trigger, ...], list[Slot]] = {}
        for slot in self.slots.values():
            out.setdefault(slot.triggers, []).append(slot)
        return tuple((t, tuple(s)) for t, s in out.items())

    @functools.cached_property
    def by_entity(self) -> dict[str, tuple[Slot, ...]]:
        """The slots of the recognizers that report each entity."""
        out: dict[str, list[Slot]] = {}
        for slot in self.slots.values():
            for entity in slot.entities:
                out.setdefault(entity, []).append(slot)
        return {e: tuple(s) for e, s in out.items()}

    @functools.cached_property
    def scan_key(self) -> str:
        """The document view under which this language's scan is shared by every PII rule."""
        return f"pii-scan:{self.language}"

    @functools.cached_property
    def entities(self) -> frozenset[str]:
        return frozenset(e for r in self.recognizers for e in r.supported_entities)


def analyze(rec: EntityRecognizer, text: str) -> list[RecognizerResult]:
    """Run one pattern recognizer on `text` with no NLP artifacts (what the no_op engine gives them)."""
    results: list[RecognizerResult] = rec.analyze(text, rec.supported_entities, None)  # type: ignore[arg-type]
    return results


@functools.cache
def recognizer_set(language: str) -> RecognizerSet:
    """presidio's predefined recognizers for `language` with the no_op NLP engine (no model, no network),
    built without importing presidio's NLP engines (see `slim`).

    Entities presidio has no recognizer for in that language (cards in Russian, say) get the English
    one: e-mail, card, IBAN, IP and phone patterns do not depend on the language, only context words do.
    """
    found = [r for r in predefined_recognizers(language, REGISTRY_FLAGS) if r.supported_language == language]
    if language != "en":
        covered = {e for r in found for e in r.supported_entities}
        found += [r for r in recognizer_set("en").recognizers if not covered.intersection(r.supported_entities)]
    recognizers: list[EntityRecognizer] = []
    for rec in found:
        if isinstance(rec, EmailRecognizer) and not isinstance(rec, OfflineEmailRecognizer):
            recognizers.append(OfflineEmailRecognizer(context=rec.context, supported_language=rec.supported_language))
        else:
            recognizers.append(rec)
    triggers = {r.id: _GROUPS.get(type(r).__name__, (Trigger.ALL,)) for r in recognizers}
    for rec in recognizers:
        # Patterns compile on first use (the URL one takes ~0.1 s): do it at load time.
        driver = driver_for(rec)
        if driver is not None:
            driver.find(_WARM_UP)
        else:
            analyze(rec, _WARM_UP)
    return RecognizerSet(language, tuple(recognizers), triggers)


_WARM_UP = "warm-up 4111 1111 1111 1111 a@b.co http://x.org 10.0.0.1 +1 212 555 0199"


def supported_entities(language: str = "en") -> frozenset[str]:
    return recognizer_set(language).entities

"""Replacement text for each repair mode: redact, mask, entity tag, keyed hash, consistent pseudonym."""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from enum import StrEnum


class Mode(StrEnum):
    REDACT = "redact"  # a fixed marker, "[REDACTED]" by default
    MASK = "mask"  # every character replaced by the mask character, length kept
    TAG = "tag"  # the entity type: <EMAIL_ADDRESS>
    HASH = "hash"  # keyed HMAC-SHA256 of the value: <EMAIL_ADDRESS:3f9a0c1d2e4b>
    PSEUDONYM = "pseudonym"  # numbered per distinct value within one output: <EMAIL_ADDRESS_1>


def canonical(entity: str, value: str) -> str:
    """The identity of a value: case and separators do not make a different person or card."""
    folded = unicodedata.normalize("NFKC", value).casefold()
    if entity in {"EMAIL_ADDRESS", "URL", "DOMAIN_NAME"}:
        return folded.strip()
    stripped = re.sub(r"[\s\-./()]", "", folded)
    return stripped or folded


def keyed_hash(key: bytes, entity: str, value: str, length: int) -> str:
    digest = hmac.new(key, f"{entity}\x1f{canonical(entity, value)}".encode(), hashlib.sha256).hexdigest()
    return digest[:length]


class Pseudonyms:
    """Numbers distinct values per entity in order of first appearance, skipping numbers whose
    placeholder already sits in the text (a second repair round must not reuse <EMAIL_ADDRESS_1>)."""

    def __init__(self, template: str, text: str) -> None:
        self.template = template
        self.text = text
        self.assigned: dict[tuple[str, str], str] = {}
        self.next: dict[str, int] = {}

    def get(self, entity: str, value: str) -> str:
        key = (entity, canonical(entity, value))
        if key not in self.assigned:
            n = self.next.get(entity, 1)
            while (label := self.template.format(entity=entity, n=n)) in self.text:
                n += 1
            self.assigned[key] = label
            self.next[entity] = n + 1
        return self.assigned[key]


def mask(value: str, char: str) -> str:
    return char * len(value)

"""presidio's EmailRecognizer validates domains with tldextract, whose default fetches the public
suffix list over HTTPS on first use. Here it reads only the snapshot bundled with tldextract."""

from __future__ import annotations

import functools

import tldextract
from presidio_analyzer.predefined_recognizers.generic.email_recognizer import EmailRecognizer


@functools.cache
def offline_extractor() -> tldextract.TLDExtract:
    # No URLs to fetch and no cache directory: tldextract falls back to its bundled snapshot.
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True)


class OfflineEmailRecognizer(EmailRecognizer):
    """presidio's e-mail recognizer, same patterns and scores, validated against the bundled suffix list."""

    def validate_result(self, pattern_text: str) -> bool:
        return has_registered_domain(pattern_text)


@functools.lru_cache(maxsize=16_384)
def has_registered_domain(address: str) -> bool:
    """presidio's e-mail validation (the address has a registrable domain); tldextract takes tens of
    microseconds and addresses repeat within and across outputs, so the answer is cached per address."""
    return offline_extractor()(address).fqdn != ""

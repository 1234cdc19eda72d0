"""presidio's EmailRecognizer validates domains with tldextract, whose default fetches the public
suffix list over HTTPS on first use. Here the same test reads only the snapshot bundled with tldextract
(`domains.has_fqdn`, without importing tldextract and, through it, requests)."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from presidio_analyzer.predefined_recognizers.generic.email_recognizer import EmailRecognizer

from guardrails.checks._pii.domains import has_fqdn

if TYPE_CHECKING:
    import tldextract


@functools.cache
def offline_extractor() -> tldextract.TLDExtract:
    """tldextract itself on its bundled snapshot, for code that hands presidio's own recognizer an offline
    extractor (the PII evaluation's presidio baseline)."""
    import tldextract

    # No URLs to fetch and no cache directory: tldextract falls back to its bundled snapshot.
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True)


class OfflineEmailRecognizer(EmailRecognizer):
    """presidio's e-mail recognizer, same patterns and scores, validated against the bundled suffix list."""

    def validate_result(self, pattern_text: str) -> bool:
        return has_registered_domain(pattern_text)


@functools.lru_cache(maxsize=16_384)
def has_registered_domain(address: str) -> bool:
    """presidio's e-mail validation (the address has a registrable domain); the walk takes microseconds
    and addresses repeat within and across outputs, so the answer is cached per address."""
    return has_fqdn(address)

"""presidio's EmailRecognizer validates domains with tldextract, whose default fetches the public
suffix list over HTTPS on first use. Here it reads only the snapshot bundled with tldextract."""

from __future__ import annotations

import functools

import tldextract
from presidio_analyzer.predefined_recognizers import EmailRecognizer


@functools.cache
def offline_extractor() -> tldextract.TLDExtract:
    # No URLs to fetch and no cache directory: tldextract falls back to its bundled snapshot.
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True)


class OfflineEmailRecognizer(EmailRecognizer):
    """presidio's e-mail recognizer, same patterns and scores, validated against the bundled suffix list."""

    def validate_result(self, pattern_text: str) -> bool:
        return offline_extractor()(pattern_text).fqdn != ""

"""The caches outputs fill (parsed attribute texts, attribute and URL verdicts), emptied on demand: benchmarks
measure cold calls with it, so that the numbers do not depend on how often their generated outputs repeat."""

from __future__ import annotations

from guardrails.checks._html import analyze, scan, urls


def clear() -> None:
    scan.clear_caches()
    analyze.clear_caches()
    urls.clear_caches()

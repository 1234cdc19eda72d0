"""Prometheus metrics: requests, verdicts, findings by code, per-check latency, tokens and cost, the review
backlog. One registry per app.

Label values that do not come from the operator's own files are capped (BoundedLabel): policy names and
versions (a reload can mint new versions), provider and model names (a model name is what the upstream's answer
says). The first values seen keep their own series, later ones are counted under `other`.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from guardrails import Report
from guardrails.telemetry import PriceTable, setup_tracing

log = logging.getLogger("outguard.service")

OTHER = "other"
MAX_POLICY_VERSIONS = 64
"""(policy, version) pairs with their own series; a process serves a handful (one version each until restarted)."""
MAX_MODELS = 32
"""(provider, model) pairs with their own series."""
_LABEL_CHARS = 100


class BoundedLabel:
    """At most `cap` distinct label values (tuples) keep their own series; later ones become `other`."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self._seen: set[tuple[str, ...]] = set()

    def __call__(self, *values: str) -> tuple[str, ...]:
        key = tuple(v[:_LABEL_CHARS] for v in values)
        if key in self._seen:
            return key
        if len(self._seen) < self.cap:
            self._seen.add(key)
            return key
        return (OTHER,) * len(values)


# An LLM call takes from a fraction of a second to minutes: seconds-scale buckets, not the checks' microseconds.
_ATTEMPT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
_CHECK_BUCKETS = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._children: dict[tuple[Any, ...], Any] = {}
        r = self.registry
        self.requests = Counter(
            "outguard_requests", "HTTP requests by route and status", ["route", "method", "status"], registry=r
        )
        self.latency = Histogram(
            "outguard_request_seconds", "HTTP request latency by route", ["route"], registry=r, buckets=_CHECK_BUCKETS
        )
        self.verdicts = Counter("outguard_verdicts", "Reports by policy and verdict", ["policy", "verdict"], registry=r)
        self.validations = Counter(
            "outguard_validations",
            "Reports by policy, policy version and verdict (versions capped: see BoundedLabel)",
            ["policy", "policy_version", "verdict"],
            registry=r,
        )
        self.policy_info = Gauge(
            "outguard_policy_info",
            "1 for each policy and version this process validated with",
            ["policy", "policy_version"],
            registry=r,
        )
        self.degraded = Counter(
            "outguard_degraded_checks",
            "Checks that failed to run (error) or ran past their deadline (timeout), by policy, rule and reason",
            ["policy", "rule", "reason"],
            registry=r,
        )
        self.tokens = Counter(
            "outguard_llm_tokens",
            "Guarded proxy: tokens the providers reported, by provider, model and direction (input, output)",
            ["provider", "model", "direction"],
            registry=r,
        )
        self.cost = Counter(
            "outguard_llm_cost",
            "Guarded proxy: estimated cost from the price table, by provider, model and currency",
            ["provider", "model", "currency"],
            registry=r,
        )
        self.unpriced = Counter(
            "outguard_llm_unpriced_calls",
            "Guarded proxy: calls that used tokens of a model the price table has no price for",
            ["provider", "model"],
            registry=r,
        )
        self.prices: PriceTable | None = None
        self._versions = BoundedLabel(MAX_POLICY_VERSIONS)
        self._models = BoundedLabel(MAX_MODELS)
        self.findings = Counter(
            "outguard_findings", "Findings by policy, code and status", ["policy", "code", "status"], registry=r
        )
        self.check_latency = Histogram(
            "outguard_check_seconds",
            "Per-check latency inside validation",
            ["policy", "rule", "check"],
            registry=r,
            buckets=_CHECK_BUCKETS,
        )
        self.review_submissions = Counter(
            "outguard_review_submissions", "Items sent to the review queue", ["created"], registry=r
        )
        self.stream_events = Counter("outguard_stream_events", "Stream validator events by type", ["type"], registry=r)
        self.proxy_attempt_latency = Histogram(
            "outguard_proxy_attempt_seconds",
            "Guarded proxy: wall time of one LLM attempt, by provider and its verdict (`error`: the call failed)",
            ["provider", "verdict"],
            registry=r,
            buckets=_ATTEMPT_BUCKETS,
        )
        self.proxy_runs = Counter(
            "outguard_proxy_runs",
            "Guarded proxy: answers delivered, by source (primary, fallback, repaired, last_resort)",
            ["source"],
            registry=r,
        )
        self.cache_lookups = Counter(
            "outguard_cache_lookups",
            "Result and proxy cache lookups by cache (results, proxy), policy and result (hit, shared_hit, miss)",
            ["cache", "policy", "result"],
            registry=r,
        )
        self.ready = Gauge("outguard_ready", "1 when every policy compiled and its models loaded", registry=r)

    def observe_report(self, report: Report) -> None:
        # Label children are cached: labels() costs more than the observation itself on the hot path.
        self._child(self.verdicts, report.policy, report.verdict.value).inc()
        policy, version = self._versions(report.policy, report.policy_version)
        self._child(self.validations, policy, version, report.verdict.value).inc()
        self._child(self.policy_info, policy, version).set(1)
        for d in report.degraded:
            self._child(self.degraded, report.policy, d.rule_id, d.reason.value).inc()
        for f in report.findings:
            self._child(self.findings, report.policy, f.code, f.status.value).inc()
        for t in report.timings if not report.cached else ():  # a cached report's checks did not run again
            self._child(self.check_latency, report.policy, t.rule_id, t.check).observe(t.ms / 1000.0)

    def observe_attempt(self, provider: str, verdict: str, seconds: float) -> None:
        self._child(self.proxy_attempt_latency, provider, verdict).observe(seconds)

    def observe_usage(
        self, provider: str, model: str | None, prompt_tokens: int, completion_tokens: int, cost: float | None
    ) -> None:
        """One provider call's tokens, and its cost when the price table knows the model."""
        provider, model_label = self._models(provider, model or "unknown")
        self._child(self.tokens, provider, model_label, "input").inc(prompt_tokens)
        self._child(self.tokens, provider, model_label, "output").inc(completion_tokens)
        if cost is not None and self.prices is not None:
            self._child(self.cost, provider, model_label, self.prices.currency).inc(cost)
        elif self.prices is not None and (prompt_tokens or completion_tokens):
            self._child(self.unpriced, provider, model_label).inc()

    def count_cache(self, cache: str, policy: str, result: str) -> None:
        self._child(self.cache_lookups, cache, policy, result).inc()

    def count_run(self, source: str) -> None:
        self._child(self.proxy_runs, source).inc()

    def _child(self, metric: Any, *labels: str) -> Any:
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def render(self) -> bytes:
        return generate_latest(self.registry)


REVIEW_BACKLOG_TTL_S = 10.0
"""How long a backlog reading is reused: scrapes from several Prometheus servers cost one query pair."""


class ReviewBacklog(Collector):
    """outguard_review_pending and outguard_review_oldest_pending_seconds, read from the queue at scrape time
    (two indexed queries, cached for REVIEW_BACKLOG_TTL_S)."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self._at = -1e9
        self._reading: tuple[int, float] = (0, 0.0)

    def _read(self) -> tuple[int, float]:
        from guardrails.reviews import ItemFilter, ReviewState, SortKey

        now = time.monotonic()
        if now - self._at < REVIEW_BACKLOG_TTL_S:
            return self._reading
        waiting = ItemFilter(states=[ReviewState.OPEN, ReviewState.IN_REVIEW])
        pending = self.store.count(waiting)
        age = 0.0
        if pending:
            oldest = self.store.ids(waiting, limit=1, sort=SortKey.AGE)
            if oldest:
                created = self.store.get(oldest[0]).created_at
                if created.tzinfo is None:
                    created = created.replace(tzinfo=dt.UTC)
                age = max(0.0, (dt.datetime.now(dt.UTC) - created).total_seconds())
        self._at, self._reading = now, (pending, age)
        return self._reading

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            pending, age = self._read()
        except Exception as exc:  # the queue's database is down: say so in the log, keep /metrics answering
            log.warning("review backlog not read: %s", type(exc).__name__)
            return
        yield GaugeMetricFamily("outguard_review_pending", "Review items not yet decided (open or in review)", pending)
        yield GaugeMetricFamily(
            "outguard_review_oldest_pending_seconds", "Age of the oldest undecided review item (0: none)", age
        )


def setup_operations(metrics: Metrics, reviews: Any, prices_file: Path | str | None = None) -> None:
    """What the sidecar's operators configure beyond the app: traces from OTEL_* variables, the price table
    (`prices_file`, else $OUTGUARD_PRICES_FILE; a bad file fails the start, naming file and key), and the review
    backlog gauges when a queue is configured."""
    setup_tracing()
    path = prices_file or os.environ.get("OUTGUARD_PRICES_FILE")
    if path:
        metrics.prices = PriceTable.load(path)
    if reviews is not None:
        metrics.registry.register(ReviewBacklog(reviews))

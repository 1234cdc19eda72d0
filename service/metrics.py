"""Prometheus metrics: requests, verdicts, findings by code, per-check latency. One registry per app."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from guardrails import Report

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
        for f in report.findings:
            self._child(self.findings, report.policy, f.code, f.status.value).inc()
        for t in report.timings if not report.cached else ():  # a cached report's checks did not run again
            self._child(self.check_latency, report.policy, t.rule_id, t.check).observe(t.ms / 1000.0)

    def observe_attempt(self, provider: str, verdict: str, seconds: float) -> None:
        self._child(self.proxy_attempt_latency, provider, verdict).observe(seconds)

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

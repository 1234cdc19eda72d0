"""What the app holds: compiled engines (built in the background so /healthz answers at once), stores, keys."""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from guardrails import Engine, Problem, RuleError, load_ruleset
from guardrails.reviews import ReviewStore
from service.auth import KeyRing
from service.config import ServiceConfig
from service.limits.quota import QuotaBook
from service.metrics import Metrics
from service.ratelimit import RateLimiter

log = logging.getLogger("outguard.service")


class _Speed:
    """Recent validation times of one policy; decides whether it may run on the event loop."""

    def __init__(self, size: int = 200, every: int = 20) -> None:
        self.samples: deque[float] = deque(maxlen=size)
        self._every = every
        self._since = 0
        self._p90: float | None = None

    def add(self, ms: float) -> None:
        self.samples.append(ms)
        self._since += 1
        if self._since >= self._every:  # re-rank every few samples, not on every request
            self._since = 0
            ordered = sorted(self.samples)
            self._p90 = ordered[int(len(ordered) * 0.9) - 1]

    def fast(self, below_ms: float) -> bool:
        # p90, not p99: on a busy machine a rule-only policy's p99 is scheduler noise, and a wrong "slow"
        # costs a thread hand-off (milliseconds under load) on every request.
        return self._p90 is not None and self._p90 < below_ms


@dataclass
class AppState:
    config: ServiceConfig
    keys: KeyRing
    metrics: Metrics
    limiter: RateLimiter
    quotas: QuotaBook = field(default_factory=QuotaBook)
    reviews: ReviewStore | None = None
    facts: Any | None = None
    upstream: Any | None = None
    fallbacks: list[Any] | None = None
    """Fallback LLM clients for the proxy; None until first built from `config.fallbacks`."""
    engines: dict[str, Engine] = field(default_factory=dict)
    speed: dict[str, _Speed] = field(default_factory=dict)
    load_errors: list[Problem] = field(default_factory=list)
    ruleset: Any | None = None
    ready: threading.Event = field(default_factory=threading.Event)
    loading: bool = False
    results_cache: Any | None = None
    """guardrails.results_cache.ResultsCache for policies with `cache: {results: true}` (service/cache.py)."""
    proxy_cache: Any | None = None
    """service.proxy_cache.ProxyCache for policies with `cache: {proxy: true}`."""
    holds: Any | None = None
    """service.hold.Holds: held answers and their webhooks (with a review queue only)."""

    @property
    def default_policy(self) -> str:
        return self.config.default_policy or (self.config.policies or list(self.engines) or ["default"])[0]

    def load_engines(self) -> None:
        """Compile every configured policy (loading its models); ready only when all required ones compiled."""
        self.loading = True
        suppressor = self.reviews.suppressor() if self.reviews is not None else None
        try:
            ruleset = load_ruleset(self.config.rules_dirs)
            self.ruleset = ruleset
        except RuleError as exc:
            self.load_errors.extend(exc.problems)
            log.error("cannot load rules: %d problem(s)", len(exc.problems))
            self.loading = False
            return
        missing_required = False
        for name in self.config.all_policies:
            required = name in self.config.policies
            try:
                engine = Engine.from_policy(name, self.config.rules_dirs, ruleset=ruleset, suppressor=suppressor)
            except (RuleError, OSError, ImportError, ValueError) as exc:
                problems = (
                    exc.problems
                    if isinstance(exc, RuleError)
                    else [Problem(type="load-error", message=f"{type(exc).__name__}: {exc}")]
                )
                if required:
                    missing_required = True
                    self.load_errors.extend(
                        p.model_copy(update={"message": f"policy {name!r}: {p.message}"}) for p in problems
                    )
                log.log(
                    logging.ERROR if required else logging.WARNING,
                    "policy %s did not compile (%s): %s",
                    name,
                    "required" if required else "optional, skipped",
                    "; ".join(str(p) for p in problems)[:500],
                )
                continue
            self.engines[engine.policy.name] = engine
            self.speed[engine.policy.name] = _Speed()
        self.loading = False
        if not missing_required and self.engines:
            self.ready.set()
            self.metrics.ready.set(1)

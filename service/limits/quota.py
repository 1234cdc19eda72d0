"""Per-key token quotas for the guarded proxy: at most `tokens` LLM tokens per `window_s`, per API key.

A request is admitted while the key's spent tokens in the current window are below its quota; what the run used
(the usage the Guard sums over every attempt, regenerations and fallbacks included: `RunFinished.usage`) is charged
when the run finishes. So the last request admitted in a window can pass the quota by its own size, and requests
admitted together before any of them finished can each do so: the overshoot is bounded by what is in flight, not
by the quota. Windows are aligned to the epoch (3600 s resets on the hour, 86400 s at 00:00 UTC).

Spent tokens live where the rate limits live: in process, or in the shared store (service/limits/store.py) so that
workers and replicas charge one account. When the shared store cannot answer, a key WITH a quota is refused (503
`quota_unavailable`, Retry-After): a quota caps spending, and admitting requests whose cost nobody can count would
spend without a cap for as long as the outage lasts. Keys without a quota never touch the store."""

from __future__ import annotations

import datetime as dt
import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Any

from fastapi.responses import JSONResponse

from service.limits.model import TokenQuota
from service.limits.store import PgLimitStore, Spent, StoreDown

log = logging.getLogger("outguard.service")


class _MemoryWindows:
    """Spent tokens per (key, window length) in this process. Only configured keys have quotas, so it is bounded
    by the keys file."""

    def __init__(self) -> None:
        self._spent: dict[tuple[str, int], tuple[float, int]] = {}
        self._lock = threading.Lock()

    def spent(self, name: str, window_s: int) -> Spent:
        current = (time.time() // window_s) * window_s
        with self._lock:
            start, used = self._spent.get((name, window_s), (current, 0))
        if start < current:
            used = 0
        return Spent(used, current, current + window_s)

    def charge(self, name: str, window_s: int, tokens: int) -> Spent:
        current = (time.time() // window_s) * window_s
        with self._lock:
            start, used = self._spent.get((name, window_s), (current, 0))
            used = used + tokens if start >= current else tokens
            self._spent[(name, window_s)] = (max(start, current), used)
        return Spent(used, current, current + window_s)


@dataclass(frozen=True)
class QuotaRefusal:
    """Why a request was not admitted: its key's quota is spent, or the store that counts it is down."""

    key: str
    quota: TokenQuota
    spent: Spent | None
    """None when the store could not answer."""

    def response(self, request_id: str | None = None) -> JSONResponse:
        q = self.quota
        if self.spent is None:
            error: dict[str, Any] = {
                "message": f"token quota for key {self.key!r} cannot be checked: its store is unavailable; "
                "retry shortly",
                "type": "server_error",
                "param": None,
                "code": "quota_unavailable",
            }
            headers = {"Retry-After": "1"}
            status = 503
        else:
            reset_in = max(0.0, self.spent.reset_at - time.time())
            reset_iso = dt.datetime.fromtimestamp(self.spent.reset_at, dt.UTC).isoformat().replace("+00:00", "Z")
            error = {
                "message": (
                    f"token quota for key {self.key!r} exceeded: {self.spent.used} of {q.tokens} tokens used in the "
                    f"current {q.window_s} s window; it resets at {reset_iso} (in {math.ceil(reset_in)} s)"
                ),
                "type": "tokens",
                "param": None,
                "code": "token_quota_exceeded",
                "details": [
                    {
                        "limit": "token_quota",
                        "key": self.key,
                        "quota_tokens": q.tokens,
                        "window_s": q.window_s,
                        "used_tokens": self.spent.used,
                        "reset_at": reset_iso,
                        "reset_in_s": round(reset_in, 3),
                    }
                ],
            }
            retry = str(max(1, math.ceil(reset_in)))
            headers = {
                "Retry-After": retry,
                "x-ratelimit-limit-tokens": str(q.tokens),
                "x-ratelimit-remaining-tokens": str(max(0, q.tokens - self.spent.used)),
                "x-ratelimit-reset-tokens": f"{retry}s",
            }
            status = 429
        if request_id:
            error["request_id"] = request_id
        return JSONResponse({"error": error}, status_code=status, headers=headers)


class QuotaBook:
    """Admits requests under their key's quota and charges what their runs used."""

    def __init__(self, store: PgLimitStore | None = None) -> None:
        self._windows: PgLimitStore | _MemoryWindows = store if store is not None else _MemoryWindows()

    @property
    def shared(self) -> bool:
        return isinstance(self._windows, PgLimitStore)

    def admit(self, key: str, quota: TokenQuota | None) -> QuotaRefusal | None:
        """None when the request may run (no quota, or tokens left in the window); else why not."""
        if quota is None:
            return None
        try:
            spent = self._windows.spent(key, quota.window_s)
        except StoreDown:
            return QuotaRefusal(key, quota, None)
        return QuotaRefusal(key, quota, spent) if spent.used >= quota.tokens else None

    def charge(self, key: str, quota: TokenQuota | None, tokens: int) -> None:
        if quota is None or tokens <= 0:
            return
        try:
            self._windows.charge(key, quota.window_s, tokens)
        except StoreDown:
            # Admission already refuses this key while the store is down; this run's tokens are lost to the count.
            log.warning("token quota: %d token(s) of a finished run could not be charged (store unavailable)", tokens)

    def meter(self, key: str, quota: TokenQuota | None) -> _Meter:
        """A Guard listener charging each finished run's summed usage to `key`."""
        return _Meter(self, key, quota)


def with_stream_usage(params: dict[str, Any]) -> dict[str, Any]:
    """`params` asking the upstream for the usage chunk at the end of a stream (`stream_options.include_usage`),
    whatever the caller sent: without it an OpenAI upstream reports no usage on streams, and a key could stream
    past its quota uncharged. The caller then gets that usage chunk too (OpenAI's format: empty `choices`)."""
    options = params.get("stream_options")
    merged = {**options} if isinstance(options, dict) else {}
    return {**params, "stream_options": {**merged, "include_usage": True}}


class _Meter:
    def __init__(self, book: QuotaBook, key: str, quota: TokenQuota | None) -> None:
        self.book, self.key, self.quota = book, key, quota

    def __call__(self, event: Any) -> None:
        # Imported here: the app state holds a QuotaBook even where the guard (proxy) part is not installed.
        from guardrails.guard import RunFinished

        if isinstance(event, RunFinished):
            usage = event.usage
            self.book.charge(self.key, self.quota, usage.total_tokens or usage.prompt_tokens + usage.completion_tokens)

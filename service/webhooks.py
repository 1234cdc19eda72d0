"""Webhooks for held answers: the target check (no SSRF), the signature, and one delivery attempt.

Signature (Stripe's scheme): header `Outguard-Signature: t=UNIX,v1=HEX` where HEX is HMAC-SHA256 of
`"{t}.{raw body}"` under the calling key's secret; `Outguard-Delivery` is the delivery id (the same on every retry
of one outcome). A receiver recomputes the HMAC over the raw bytes, compares in constant time, refuses a `t` more
than 5 minutes from its clock and remembers delivery ids it has handled: a replayed request fails one of those.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from guardrails import OutguardError
from service.hold.config import WebhookConfig

SIGNATURE_HEADER = "Outguard-Signature"
DELIVERY_HEADER = "Outguard-Delivery"
TOLERANCE_S = 300


class WebhookRefused(OutguardError, ValueError):
    """A webhook URL the operator's config does not allow; the message says why and names no resolved address."""


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def verify(secret: str, body: bytes, header: str, *, now: float | None = None, tolerance_s: int = TOLERANCE_S) -> bool:
    """What a receiver does (tests use it; receivers in Python may import it)."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        t = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - t) > tolerance_s:
        return False
    expected = sign(secret, body, t).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_target(url: str, cfg: WebhookConfig) -> str:
    """The URL if the operator allows it, else WebhookRefused. Every address the host resolves to must be public
    (unless allowed): one private answer is enough for a rebinding resolver to hand it out at delivery time."""
    if len(url) > cfg.max_url_length:
        raise WebhookRefused(f"webhook URL is longer than {cfg.max_url_length} characters")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookRefused("webhook URL must be http(s)://host/...")
    if parts.username or parts.password:
        raise WebhookRefused("webhook URL must not carry credentials")
    host = parts.hostname.lower()
    if cfg.allow_private or host in {h.lower() for h in cfg.allowed_hosts}:
        return url
    try:
        literal: str | None = str(ipaddress.ip_address(host))
    except ValueError:
        literal = None
    port = parts.port or (443 if parts.scheme == "https" else 80)
    addresses = [literal] if literal is not None else _resolve(host, port)
    if not addresses or not all(_public(a) for a in addresses):
        raise WebhookRefused(
            f"webhook host {host!r} is not a public address (loopback, private, link-local or reserved); "
            "an operator may allow it with hold.webhooks.allowed_hosts"
        )
    return url


def _resolve(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise WebhookRefused(f"webhook host {host!r} does not resolve") from exc
    return [str(info[4][0]).split("%", 1)[0] for info in infos]


@dataclass(frozen=True)
class Attempt:
    status: int | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


async def deliver(url: str, body: bytes, secret: str, delivery_id: str, cfg: WebhookConfig) -> Attempt:
    """POST once. The target is checked again (DNS may have changed since registration); redirects are not
    followed (a redirect to a private address would bypass the check); nothing of the response is read."""
    try:
        check_target(url, cfg)
    except WebhookRefused as exc:
        return Attempt(None, str(exc))
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(secret, body),
        DELIVERY_HEADER: delivery_id,
        "User-Agent": "outguard-webhooks",
    }
    try:
        async with httpx.AsyncClient(timeout=cfg.timeout_s, follow_redirects=False, trust_env=False) as client:
            resp = await client.post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        return Attempt(None, type(exc).__name__)
    return Attempt(resp.status_code, None if 200 <= resp.status_code < 300 else f"HTTP {resp.status_code}")


def backoff(attempts: int, cfg: WebhookConfig) -> float:
    """Seconds before attempt `attempts + 1`: backoff_s, doubled each time, capped."""
    return float(min(cfg.max_backoff_s, cfg.backoff_s * 2 ** max(0, attempts - 1)))

"""Signed session cookies and CSRF tokens for the review page (stdlib HMAC).

The cookie holds the reviewer's name, an expiry, the session's CSRF token and a random session id, signed
with HMAC-SHA256. The signature keeps a forged cookie from reaching the database; the session id's record
(guardrails.reviews.ReviewSessions) decides whether the session is still live, so logout, a password
change and an admin can end it before it expires. The reviewer is looked up again on every request, so
removing them from the keys file ends their session at the next restart. Cookies are HttpOnly and
SameSite=Strict; every POST also carries the CSRF token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

SESSION_COOKIE = "og_session"
LOGIN_COOKIE = "og_login_csrf"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Session:
    user: str
    expires: float
    csrf: str
    sid: str


class SessionSigner:
    def __init__(self, secret: str | None, ttl_s: int) -> None:
        self._key = hashlib.sha256((secret or secrets.token_hex(32)).encode()).digest()
        self.ttl_s = ttl_s

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self._key, _bytes(payload), hashlib.sha256).digest())

    def issue(self, user: str) -> tuple[str, Session]:
        session = Session(
            user=user, expires=time.time() + self.ttl_s, csrf=secrets.token_urlsafe(24), sid=secrets.token_urlsafe(32)
        )
        data = {"u": session.user, "e": session.expires, "c": session.csrf, "s": session.sid}
        payload = _b64(json.dumps(data).encode())
        return f"{payload}.{self._sign(payload)}", session

    def read(self, cookie: str | None) -> Session | None:
        if not cookie or cookie.count(".") != 1 or len(cookie) > 4096:
            return None
        payload, signature = cookie.split(".")
        if not hmac.compare_digest(_bytes(signature), _bytes(self._sign(payload))):
            return None
        try:
            data = json.loads(_unb64(payload))
            session = Session(user=str(data["u"]), expires=float(data["e"]), csrf=str(data["c"]), sid=str(data["s"]))
        except (ValueError, KeyError, TypeError):
            return None
        return session if session.expires > time.time() else None


def same_token(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(_bytes(str(a)), _bytes(str(b)))


def _bytes(text: str) -> bytes:
    # compare_digest refuses non-ASCII str (TypeError, a 500); a browser can send any byte in a cookie or form.
    return text.encode("utf-8", "surrogatepass")

"""URL attributes and link policy: which attributes hold URLs, which schemes are never allowed, domain matching."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

URL_ATTRIBUTES = frozenset(
    {"href", "src", "action", "formaction", "poster", "cite", "background", "longdesc", "xlink:href", "srcset", "ping"}
)
DANGEROUS_SCHEMES = frozenset({"javascript", "data", "vbscript", "livescript", "mocha"})
_STRIPPED = re.compile(r"[\x00-\x20\x7f]+")
_SCHEME = re.compile(r"^([a-z][a-z0-9+.-]*):")


@dataclass(frozen=True, slots=True)
class UrlVerdict:
    ok: bool
    dangerous: bool
    reason: str


_CACHED_LEN = 512
"""URLs up to this long are judged once per process: the check and the re-render judge the same URLs, and
outputs repeat them. Longer values (rare, possibly hostile) are not kept."""


def scheme_of(value: str) -> str | None:
    """The scheme as a browser sees it: entities decoded, whitespace and control characters dropped."""
    return _cached_scheme(value) if len(value) <= _CACHED_LEN else _scheme_of(value)


def _scheme_of(value: str) -> str | None:
    plain = _SCHEME.match(value)
    if plain is not None:
        return plain.group(1)  # written plainly: cleaning would not change what comes before the colon
    cleaned = _STRIPPED.sub("", html.unescape(value)).lower()
    m = _SCHEME.match(cleaned)
    return m.group(1) if m else None


_PLAIN_HTTP = re.compile(r"https?://([a-z0-9.-]++)(?::[0-9]{1,5})?(?=[/?#]|$)")
"""An http(s) URL written plainly (lower-case host, no user info, entities, spaces or backslashes before the
path): its host is read directly. Anything else goes through urlsplit."""


def host_of(value: str) -> str:
    """The host of an http(s) URL as urlsplit reads it (entities decoded, whitespace stripped); raises
    ValueError on what urlsplit cannot parse."""
    plain = _PLAIN_HTTP.match(value)
    if plain is not None:
        return plain.group(1)
    return urlsplit(html.unescape(value).strip()).hostname or ""


def _host_allowed(host: str, domains: list[str] | tuple[str, ...]) -> bool:
    """The host is one of `domains` or a subdomain of one."""
    host = host.lower().rstrip(".")
    exact, suffixes = _domain_matcher(tuple(domains))
    return host in exact or host.endswith(suffixes)


@lru_cache(maxsize=256)
def _domain_matcher(domains: tuple[str, ...]) -> tuple[frozenset[str], tuple[str, ...]]:
    return frozenset(domains), tuple("." + d for d in domains)


def judge_url(value: str, schemes: frozenset[str], domains: list[str], allow_relative: bool) -> UrlVerdict:
    """Judge one URL against the dangerous-scheme list, then the slot's link policy."""
    if len(value) <= _CACHED_LEN:
        return _cached_judge(value, schemes, tuple(domains), allow_relative)
    return _judge(value, schemes, domains, allow_relative)


def _judge(
    value: str, schemes: frozenset[str], domains: list[str] | tuple[str, ...], allow_relative: bool
) -> UrlVerdict:
    scheme = scheme_of(value)
    if scheme in DANGEROUS_SCHEMES:
        return UrlVerdict(False, True, f"{scheme}: URL")
    if scheme is None:
        target = html.unescape(value).strip()
        if target.startswith("//"):
            scheme = "https"  # protocol-relative: judge its host like an absolute URL
            value = "https:" + target
        elif allow_relative:
            return UrlVerdict(True, False, "")
        else:
            return UrlVerdict(False, False, "relative URL not allowed")
    if scheme not in schemes:
        return UrlVerdict(False, False, f"scheme {scheme!r} not allowed")
    if domains and scheme in {"http", "https"}:
        try:
            host = host_of(value)
        except ValueError:
            return UrlVerdict(False, False, "unparseable URL")
        if not _host_allowed(host, domains):
            return UrlVerdict(False, False, f"domain {host or '(none)'!r} not allowed")
    return UrlVerdict(True, False, "")


_cached_scheme = lru_cache(maxsize=4096)(_scheme_of)
_cached_judge = lru_cache(maxsize=4096)(_judge)


def clear_caches() -> None:
    _cached_scheme.cache_clear()
    _cached_judge.cache_clear()

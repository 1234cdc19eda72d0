"""`citation`: URLs, DOIs and author-year citations that point nowhere the caller vouched for.

A URL passes when its host is an allowed domain (or a subdomain of one; from the params and
`Context.allowed_domains`) or when it is one of the sources' URLs or appears in a source's text. A DOI
passes when a source's URL or text contains it (or `doi.org` is allowed). An author-year citation
("Smith et al., 2019") passes when a source's text names the author. With nothing to check against (no
allowed domains and no sources) the check stays silent unless `if_no_reference: flag`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

import regex
from pydantic import Field

from guardrails.checks.base import Check, CheckParams, DeadlineExceeded, Hit, RunContext
from guardrails.context import Context
from guardrails.document import Document
from guardrails.findings import Evidence

CitationKind = Literal["url", "doi", "author_year"]

_URL = regex.compile(r"""(?<![\w@/.])(?:(?:https?|ftp)://|www\.)[^\s<>"'`\]\[{}|\\^]{1,2000}""", regex.IGNORECASE)
_DOI = regex.compile(r"(?<![\w/.])(?:doi:\s?)?(10\.\d{4,9}/[^\s\"'<>\]\[]{1,300})", regex.IGNORECASE)
_AUTHOR_YEAR = regex.compile(
    r"""(?:\(|\b)(?P<author>\p{Lu}[\p{L}'\u2019-]{1,40})(?:\s+(?:et\s+al\.?|(?:and|&)\s+\p{Lu}[\p{L}'\u2019-]{1,40}))?
        ,?\s*\(?(?P<year>(?:19|20)\d{2})[a-z]?\)""",
    regex.VERBOSE,
)
_SCHEME = regex.compile(r"^(?:https?|ftp)://")
_TRAILING = ".,;:!?)]}'\"\u2019\u201d>*_"
# Capitalised words that precede a "(2019)" without being an author.
_NOT_AUTHORS = frozenset({"In", "The", "Since", "Until", "From", "By", "Before", "After", "During", "Of", "And", "Or"})


def _url_matches(text: str, timeout: float | None) -> Iterator[regex.Match[str]]:
    """URL matches, searched only from just before each "://" or "www." (str.find runs in C)."""
    lowered = text.lower() if "www." in text.lower() else None
    starts: list[int] = []
    pos = text.find("://")
    while pos != -1:
        starts.append(max(0, pos - 5))  # "https" is the longest scheme
        pos = text.find("://", pos + 3)
    if lowered is not None:
        pos = lowered.find("www.")
        while pos != -1:
            starts.append(pos)
            pos = lowered.find("www.", pos + 4)
    done = 0
    for lo in sorted(starts):
        if lo < done:
            continue
        m = _URL.search(text, lo, min(len(text), lo + 2_100), timeout=timeout)
        if m is not None:
            done = m.end()
            yield m


def url_spans(text: str, timeout: float | None = None) -> Iterator[tuple[int, int]]:
    """(start, end) of each URL in `text`, trailing punctuation left out. Shared with `grounding`, so that
    both checks locate a URL on the same characters."""
    for m in _url_matches(text, timeout):
        url = _strip_trailing(m.group())
        yield m.start(), m.start() + len(url)


class CitationParams(CheckParams):
    kinds: list[CitationKind] = Field(default=["url", "doi"], description="What to check")
    allowed_domains: list[str] = Field(default_factory=list, description="Added to Context.allowed_domains")
    if_no_reference: Literal["skip", "flag"] = Field(
        default="skip", description="What to do when neither allowed domains nor sources are given"
    )
    max_matches: int = Field(default=100, ge=1, description="Stop after this many hits in one output")


@dataclass(frozen=True, slots=True)
class _Reference:
    domains: tuple[str, ...]
    source_urls: tuple[str, ...]
    source_text: str  # all source texts and URLs, lower-cased

    @property
    def empty(self) -> bool:
        return not self.domains and not self.source_urls and not self.source_text


def _host(url: str) -> str:
    if url.lower().startswith("www."):
        url = "http://" + url
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return ""
    return host.lower().rstrip(".")


def _canonical(url: str) -> str:
    """Scheme-, www- and trailing-slash-free form for comparing URLs."""
    u = url.lower().split("#", 1)[0]
    u = _SCHEME.sub("", u)
    u = u.removeprefix("www.")
    return u.rstrip("/")


def _domain_ok(host: str, domains: tuple[str, ...]) -> bool:
    return any(host == d or host.endswith("." + d) for d in domains)


def _strip_trailing(s: str) -> str:
    # Keep a closing parenthesis that closes one opened inside the URL (wikipedia style).
    while s and s[-1] in _TRAILING:
        if s[-1] == ")" and s.count("(") >= s.count(")"):
            break
        s = s[:-1]
    return s


class CitationCheck(Check[CitationParams]):
    """Streaming: a URL at the very end of a prefix may still grow, so hits there can change."""

    kind = "citation"
    streaming = True
    # A URL or DOI is one whitespace-free token, however long: it can change only while it is the last token.
    # An author-year citation spans words but is at most ~100 characters ("Name and Name, (2019)").
    lookbehind = 120
    boundary = "token"

    def __init__(self, params: CitationParams) -> None:
        super().__init__(params)
        self.domains = tuple(d.lower().strip().removeprefix("www.").rstrip(".") for d in params.allowed_domains)

    def _reference(self, context: Context) -> _Reference:
        domains = self.domains + tuple(
            d.lower().strip().removeprefix("www.").rstrip(".") for d in context.allowed_domains
        )
        urls = tuple(_canonical(s.url) for s in context.sources if s.url)
        text = "\n".join([s.text for s in context.sources] + [s.url or "" for s in context.sources]).lower()
        return _Reference(tuple(d for d in domains if d), urls, text)

    def stream_lookbehind(self, context: Context) -> int | None:
        if self.params.if_no_reference == "skip" and self._reference(context).empty:
            return None  # nothing to check against: run() stays silent
        return self.lookbehind

    def run(self, doc: Document, ctx: RunContext) -> Iterator[Hit]:
        ref = self._reference(ctx.context)
        if ref.empty and self.params.if_no_reference == "skip":
            return
        text = doc.text
        timeout = ctx.deadline.remaining()
        hits: list[Hit] = []
        try:
            if "url" in self.params.kinds:
                hits.extend(self._urls(text, ref, timeout))
            if "doi" in self.params.kinds:
                hits.extend(self._dois(text, ref, timeout, [(h.start, h.end) for h in hits]))
            if "author_year" in self.params.kinds:
                hits.extend(self._authors(text, ref, timeout))
        except TimeoutError as exc:
            raise DeadlineExceeded("citation scan timed out") from exc
        hits.sort(key=lambda h: h.start)
        yield from hits[: self.params.max_matches]

    def _urls(self, text: str, ref: _Reference, timeout: float | None) -> Iterator[Hit]:
        for start, end in url_spans(text, timeout):
            url = text[start:end]
            host = _host(url)
            if not host or "." not in host:
                continue
            canon = _canonical(url)
            if _domain_ok(host, ref.domains) or canon in ref.source_urls or canon in ref.source_text:
                continue
            if any(canon.startswith(u + "/") for u in ref.source_urls if u):
                continue
            yield Hit(
                start,
                end,
                values={"kind": "URL", "domain": host},
                evidence=Evidence(
                    source="allowed_domains+sources",
                    details={
                        "domain": host,
                        "allowed_domains": list(ref.domains)[:20],
                        "sources": len(ref.source_urls),
                    },
                ),
            )

    def _dois(self, text: str, ref: _Reference, timeout: float | None, taken: list[tuple[int, int]]) -> Iterator[Hit]:
        if _domain_ok("doi.org", ref.domains):
            return
        for m in _DOI.finditer(text, timeout=timeout):
            doi = _strip_trailing(m.group(1))
            start = m.start(1)
            if any(s <= start < e for s, e in taken):
                continue  # part of a URL already judged (https://doi.org/10...)
            if doi.lower() in ref.source_text:
                continue
            yield Hit(
                start,
                start + len(doi),
                values={"kind": "DOI", "domain": "doi.org"},
                evidence=Evidence(source="sources", details={"doi": doi}),
            )

    def _authors(self, text: str, ref: _Reference, timeout: float | None) -> Iterator[Hit]:
        for m in _AUTHOR_YEAR.finditer(text, timeout=timeout):
            author = m.group("author")
            if author in _NOT_AUTHORS or author.lower() in ref.source_text:
                continue
            yield Hit(
                m.start(),
                m.end(),
                values={"kind": "citation", "domain": author},
                evidence=Evidence(source="sources", details={"author": author, "year": m.group("year")}),
            )


CHECK = CitationCheck

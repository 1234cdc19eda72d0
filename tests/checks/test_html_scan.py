"""The HTML check's fast paths (plain scan, canonical attributes, bad characters, plain URL hosts) agree with
their definitions."""

from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

from hypothesis import given, settings
from hypothesis import strategies as st

from guardrails.checks._html.analyze import BAD_CHARS, has_bad_chars
from guardrails.checks._html.scan import (
    Element,
    Limits,
    Parsed,
    Text,
    _Builder,
    _parse,
    _parse_attrs,
    canonical_attrs,
    clear_caches,
    scan,
)
from guardrails.checks._html.urls import _PLAIN_HTTP, _host_allowed, _scheme_of, host_of

PIECES = [
    "<p>",
    "</p>",
    "<P >",
    "</P>",
    "<div data-slot='lede'>",
    '<div class="x" data-slot="section">',
    "</div>",
    '<a href="https://docs.example.com/a?b=1&amp;c=2">',
    "<a href='x' title=\"it's\">",
    "</a>",
    "<br>",
    "<br/>",
    "<img src=x onerror=alert(1)>",
    "<ul>",
    "<li>",
    "</li>",
    "</ul>",
    "<em>",
    "</em>",
    "</strong>",
    "<span a=\"1\" a='2'>",
    "<b",
    '<i title="unclosed',
    "</ >",
    "<",
    ">",
    "&amp;",
    "&lt;",
    "<!-- note -->",
    "<script>x<y</script>",
    "<script>",
    "<b '",
    "</script>",
    "<style>",
    "<title>",
    "</TITLE >",
    "<style>p{}</style>",
    "<?pi?>",
    "<!DOCTYPE html>",
    "Caf\u00e9 cr\u00e8me",
    "\u65e5\u672c\u8a9e",
    " ",
    "\n",
    "text",
    "\x00",
    "\ud800",
]


def dump(parsed: Parsed) -> tuple[object, ...]:
    def node(n: Element | Text) -> object:
        if isinstance(n, Text):
            return ("text", n.start, n.end, n.raw, n.raw_text)
        attrs = [(a.name, a.raw, a.start, a.end) for a in n.attrs]
        return (
            n.tag,
            n.start,
            n.open_end,
            n.close_start,
            n.end,
            n.closed,
            n.depth,
            attrs,
            [node(c) for c in n.children],
        )

    problems = [(p.kind, p.start, p.end, p.detail, p.path) for p in parsed.problems]
    return (node(parsed.root), problems, parsed.elements, parsed.limit, parsed.problems_dropped)


def general(text: str) -> Parsed:
    return _Builder(text, Limits(), lambda: None).run()


@settings(max_examples=600, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=40))
def test_fast_path_builds_the_same_tree_as_the_general_path(pieces: list[str]) -> None:
    text = "".join(pieces)
    fast = _Builder(text, Limits(), lambda: None).run_plain()
    if fast is not None:
        assert dump(fast) == dump(general(text))
    assert dump(scan(text)) == dump(general(text))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("<>/=\"' apb!-?&;\n\u00e9"), max_size=60))
def test_fast_path_agrees_on_arbitrary_markup_characters(text: str) -> None:
    fast = _Builder(text, Limits(), lambda: None).run_plain()
    if fast is not None:
        assert dump(fast) == dump(general(text))


def test_fast_path_takes_plain_markup_and_leaves_the_rest() -> None:
    plain = '<div data-slot="a"><p>Hi <a href="https://x.example/">x</a><br></p></div>'
    assert _Builder(plain, Limits(), lambda: None).run_plain() is not None
    for script in ("<p>a<script>if (a<b) x('</p>')</script>b</p>", "<script>'<b '</script><p>x</p>"):
        fast = _Builder(script, Limits(), lambda: None).run_plain()
        assert fast is not None and dump(fast) == dump(general(script))
    others = ("<!-- c --><p>x</p>", "<p>1 < 2</p>", "<script>x", '<p title="x>', '<p title="a>b">', "<p", "<?x?>")
    for other in others:
        assert _Builder(other, Limits(), lambda: None).run_plain() is None, other


def test_limits_fall_back_to_the_general_path() -> None:
    deep = "<div>" * 100
    parsed = scan(deep, Limits(max_depth=10))
    assert parsed.limit is not None and "nested more than 10" in parsed.limit
    many = "<br>" * 50
    assert scan(many, Limits(max_elements=10)).limit == "more than 10 elements"


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=0xFFFF), max_size=40) | st.text(max_size=40))
def test_bad_character_test_agrees_with_its_pattern(text: str) -> None:
    assert has_bad_chars(text) == (BAD_CHARS.search(text) is not None)
    assert has_bad_chars(text + "\udce9") and has_bad_chars("\x0b" + text) and has_bad_chars(text + "\x7f")
    assert has_bad_chars(text + "\uffff") and has_bad_chars("\ufffe" + text)


def reference_path(el: Element) -> str:
    parts = []
    while el.parent is not None:
        same = [s for s in el.parent.children if isinstance(s, Element) and s.tag == el.tag]
        parts.append(f"{el.tag}[{same.index(el) + 1}]")
        el = el.parent
    return "/" + "/".join(reversed(parts))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=40))
def test_element_paths_count_same_tag_siblings(pieces: list[str]) -> None:
    parsed = scan("".join(pieces))
    for el in parsed.root.iter():
        assert el.path == reference_path(el)
    for problem in parsed.problems:
        assert problem.path.startswith("/")


def reference_canonical(text: str) -> bool:
    """The definition: parsed, then written back the way the re-render writes attributes."""
    parsed = _parse_attrs(text)
    names = [name for name, _raw, _start, _end in parsed]
    return (
        len(set(names)) == len(names)
        and text == "".join(f' {name}="{raw}"' for name, raw, _start, _end in parsed)
        and all(re.fullmatch(r"[a-z_][a-z0-9_.-]*", n) and not n.startswith("on") for n in names)
        and not {"style", "data-slot"} & set(names)
        and not any(re.search(r"[&<>\"'\x00-\x1f\x7f\ud800-\udfff]", raw or "") for _n, raw, _s, _e in parsed)
    )


ATTR_PIECES = [' href="https://x.example/a"', " title='t'", ' class="a b"', ' HREF="x"', ' a="1"', ' a="2"']
ATTR_PIECES += [' onclick="f()"', ' style="x"', ' data-slot="s"', " disabled", ' x="a&amp;b"', ' y="<"', ' c="d e="']
ATTR_PIECES += ["  ", ' z=""', ' data-x="1"', ' one="1"', ' b="\u00e9"', '"', "=", ' v="\x01"', " w=x"]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(ATTR_PIECES), max_size=6).map("".join))
def test_canonical_attribute_test_agrees_with_its_definition(text: str) -> None:
    clear_caches()
    assert canonical_attrs(text) == reference_canonical(text)


URL_PIECES = ["https://", "http://", "HTTPS://", "docs.example.com", "EVIL.example", "a-b.c", ":443", ":99999"]
URL_PIECES += ["/", "/p?q=1", "#f", "@", "user:pw@", "\\", " ", "&amp;", "[::1]", ".", "-", "x", "%2e", "\t"]


@settings(max_examples=800, deadline=None)
@given(st.lists(st.sampled_from(URL_PIECES), min_size=1, max_size=6).map("".join))
def test_plain_url_hosts_are_read_as_urlsplit_reads_them(url: str) -> None:
    try:
        expected: str | None = urlsplit(html.unescape(url).strip()).hostname or ""
    except ValueError:
        expected = None
    try:
        got: str | None = host_of(url)
    except ValueError:
        got = None
    assert got == expected


def test_plain_urls_take_the_direct_reading() -> None:
    for url in ("https://docs.example.com/a/1", "http://x.example:8080", "https://a.b?q#f"):
        assert _PLAIN_HTTP.match(url) is not None
    for url in ("https://user@x.example/", "https://X.example/", "https://x.example\\@y/", " https://x/"):
        assert _PLAIN_HTTP.match(url) is None


SCHEME_PIECES = ["https", "HTTP", "java", "script", "\t", " ", "&#58;", "&colon;", ":", "//x", "data", "a+b", "1"]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(SCHEME_PIECES), min_size=1, max_size=5).map("".join))
def test_scheme_read_directly_is_the_scheme_after_cleaning(value: str) -> None:
    cleaned = re.sub(r"[\x00-\x20\x7f]+", "", html.unescape(value)).lower()
    found = re.match(r"^([a-z][a-z0-9+.-]*):", cleaned)
    assert _scheme_of(value) == (found.group(1) if found else None)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(["a", "b", ".", "-", "x"]), max_size=8).map("".join),
    st.lists(st.sampled_from(["a", "b", "a.b", "x.a", "b.x"]), min_size=1, max_size=3),
)
def test_host_matching_is_the_host_or_a_subdomain(host: str, domains: list[str]) -> None:
    plain = host.lower().rstrip(".")
    assert _host_allowed(host, domains) == any(plain == d or plain.endswith("." + d) for d in domains)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(ATTR_PIECES), max_size=6).map("".join))
def test_attributes_written_canonically_parse_as_the_general_parser_reads_them(text: str) -> None:
    clear_caches()
    assert _parse(text)[0] == _parse_attrs(text)

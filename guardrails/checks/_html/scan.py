"""A linear HTML tokenizer that builds an element tree where every node knows its character span and path.

lxml (libxml2) recovers broken markup silently and reports only line numbers; findings need exact
character offsets and their own notion of well-formed (every element explicitly closed, properly
nested, no declarations). So outputs and templates are scanned here, in one left-to-right pass with
possessive patterns (no backtracking, so no quadratic blow-up), and nothing is ever expanded or
fetched: character references are decoded with `html.unescape` (the fixed HTML5 table), and DOCTYPE,
ENTITY, CDATA and processing instructions are reported, never interpreted.
"""

from __future__ import annotations

import html
import re
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from guardrails.checks._html.store import ElementStore

VOID = frozenset(
    [
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "keygen",
        "link",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
    ]
)
CLOSES_P = frozenset(
    [
        "address",
        "article",
        "aside",
        "blockquote",
        "center",
        "dd",
        "details",
        "dialog",
        "dir",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hgroup",
        "hr",
        "li",
        "listing",
        "main",
        "menu",
        "nav",
        "ol",
        "p",
        "plaintext",
        "pre",
        "search",
        "section",
        "summary",
        "table",
        "ul",
        "xmp",
    ]
)
"""Start tags that end an open <p> (HTML's parsing rules)."""
RAW_TEXT = frozenset({"script", "style", "textarea", "title", "xmp", "iframe", "noembed", "noframes"})

_TOKEN = re.compile(
    r"""<(?:
      (?P<comment>!--)
     |(?P<end>/)?(?P<name>[A-Za-z][^\s/>\x00]*+)
        (?P<attrs>(?:[^>"']++|"[^"]*+(?:"|\Z)|'[^']*+(?:'|\Z))*+)
        (?P<close>>|\Z)
     |(?P<bang>!)
     |(?P<pi>\?)
    )""",
    re.VERBOSE,
)
_PLAIN_TAG = re.compile(r"<(/?+)([A-Za-z][^\s/>\x00]*+)([^>]*+)>")
"""A tag as `_TOKEN` reads it when no quoted value holds a '>' (checked with `_QUOTES_CLOSED`): split on it, the
text comes apart in one C-level pass that skips to each '<' instead of testing every character."""
_QUOTES_CLOSED = re.compile(r"""(?:[^"']++|"[^"]*+"|'[^']*+')*+""")
_ATTR = re.compile(r"""([^\s"'>/=][^\s"'>/=]*+)(?:\s*+=\s*+(?:"([^"]*+)"?|'([^']*+)'?|([^\s>]++)))?""")
_SUBSET_END = re.compile(r"\]\s*>")
_RAW_END: dict[str, re.Pattern[str]] = {}


def _raw_end(tag: str) -> re.Pattern[str]:
    pattern = _RAW_END.get(tag)
    if pattern is None:
        pattern = _RAW_END[tag] = re.compile(rf"</{tag}\s*>", re.IGNORECASE)
    return pattern


@dataclass(slots=True)
class Attr:
    name: str
    """Lower-cased attribute name."""
    raw: str | None
    """The value as written (entities not decoded); None for a bare boolean attribute."""
    start: int
    end: int

    @property
    def value(self) -> str:
        return html.unescape(self.raw) if self.raw else ""


@dataclass(slots=True, eq=False)
class Text:
    start: int
    end: int
    raw: str
    raw_text: bool = False
    """True inside script/style and the like: the characters are literal, not markup-escaped."""

    @property
    def value(self) -> str:
        return self.raw if self.raw_text else html.unescape(self.raw)


class Element:
    """An element with its spans: [start, open_end) is the start tag, [close_start, end) the end tag."""

    __slots__ = (
        "_attrs",
        "_parent_index",
        "_path",
        "_store",
        "attrs_base",
        "attrs_text",
        "children",
        "close_start",
        "closed",
        "depth",
        "end",
        "index",
        "open_end",
        "plain",
        "start",
        "tag",
    )

    def __init__(self, tag: str, start: int, open_end: int, parent: Element | None, store: ElementStore) -> None:
        self.tag = tag
        self.start = start
        self.open_end = open_end
        # The parent by its index in the tree's store, reached through one weak reference the whole tree shares:
        # with a strong reference every element would sit in a reference cycle with its parent's children list,
        # and each parsed output would wait for the cyclic garbage collector (measured: ~15% of the html check's
        # time) instead of being freed as soon as its Document is dropped.
        self.index = len(store)
        store.append(self)
        if parent is None:
            self._store: weakref.ref[ElementStore] = weakref.ref(store)
            self._parent_index = -1
            self.depth = 0
        else:
            self._store = parent._store
            self._parent_index = parent.index
            self.depth = parent.depth + 1
        self.children: list[Element | Text] = []
        self.close_start = -1
        self.end = -1
        self.closed = False
        """True when an explicit end tag (or `/>`, or being void) closed it."""
        self.attrs_text = ""
        self.attrs_base = 0
        self._attrs: list[Attr] | None = None
        self._path: str | None = None
        self.plain = False
        """True when the start tag is written `<tag ...>` in lower case and the end tag `</tag>` (not void, not
        closed implicitly): markup that re-renders as itself when its attributes are canonical too."""

    @property
    def parent(self) -> Element | None:
        """The enclosing element (None for the root, or once the tree's `Parsed` is gone: hold it)."""
        if self._parent_index < 0:
            return None
        store = self._store()
        if store is None:
            return None
        parent: Element = store[self._parent_index]
        return parent

    @property
    def attrs(self) -> list[Attr]:
        """Attributes, parsed on first use (most elements carry none)."""
        if self._attrs is None:
            self._attrs = _attrs(self.attrs_text, self.attrs_base) if self.attrs_text.strip() else []
        return self._attrs

    def attr(self, name: str) -> Attr | None:
        for a in self.attrs:
            if a.name == name:
                return a
        return None

    @property
    def path(self) -> str:
        """XPath-like element path, e.g. /article[1]/ul[1]/li[2]; computed on demand (only findings need it) and
        kept: an element's path depends only on what comes before it, which never changes."""
        path = self._path
        if path is None:
            parent = self.parent
            if parent is None:
                path = "/"
            else:
                n = 1
                for sib in parent.children:
                    if sib is self:
                        break
                    if isinstance(sib, Element) and sib.tag == self.tag:
                        n += 1
                path = f"{parent.path.rstrip('/')}/{self.tag}[{n}]"
            self._path = path
        return path

    def iter(self) -> Iterator[Element]:
        """This element and its descendants in document order."""
        stack: list[Element] = [self]
        while stack:
            el = stack.pop()
            yield el
            stack.extend(c for c in reversed(el.children) if isinstance(c, Element))

    def text_value(self) -> str:
        return "".join(t.value for t in _texts(self))


def _texts(el: Element) -> Iterator[Text]:
    for child in el.children:
        if isinstance(child, Text):
            yield child
        else:
            yield from _texts(child)


@dataclass(slots=True)
class Problem:
    """A well-formedness problem found while scanning."""

    kind: str
    """unclosed, misnested, stray-end, unterminated-tag, unterminated-comment, bare-lt, declaration, instruction"""
    start: int
    end: int
    detail: str
    path: str


@dataclass(slots=True)
class Parsed:
    root: Element
    problems: list[Problem]
    elements: int
    store: ElementStore
    """Owns the tree's elements: parents are found in it (see `Element.parent`)."""
    limit: str | None = None
    """Set when a size, depth or element-count limit stopped the scan; the tree is then incomplete."""
    problems_dropped: bool = False
    """True when there were more problems than `Limits.max_problems`: `problems` lists only the first."""


@dataclass(frozen=True, slots=True)
class Limits:
    max_chars: int = 1_000_000
    max_depth: int = 64
    max_elements: int = 20_000
    max_problems: int = 200


ParsedAttrs = tuple[tuple[str, str | None, int, int], ...]
"""(lower-cased name, raw value or None, start, end) per attribute, offsets relative to the attribute text."""

_PARSED_ATTRS: dict[str, tuple[ParsedAttrs, bool]] = {}
"""Attribute texts seen before: their parse, and whether they are canonical (see `canonical_attrs`). Outputs of
one template repeat the same class names and slot markers on every call. Short texts only, cleared when full."""
_CACHE_TEXT_LEN = 200
_CACHE_ENTRIES = 4096
_CANONICAL_FORM = re.compile(
    r"""(?: (?!on)(?!style=)(?!data-slot=)[a-z_][a-z0-9_.-]*+="[^&<>"'\x00-\x1f\x7f\ud800-\udfff\ufffe\uffff]*+")*+"""
)
_CANONICAL_PAIR = re.compile(r' ([a-z_][a-z0-9_.-]*+)="([^"]*+)"')


def _parse_attrs(text: str) -> ParsedAttrs:
    out = []
    for m in _ATTR.finditer(text):
        name, dq, sq, bare = m.groups()
        raw = dq if dq is not None else sq if sq is not None else bare
        out.append((name.lower(), raw, m.start(), m.end()))
    return tuple(out)


def _parse(text: str) -> tuple[ParsedAttrs, bool]:
    known = _PARSED_ATTRS.get(text)
    if known is not None:
        return known
    if _CANONICAL_FORM.fullmatch(text) is None:
        known = (_parse_attrs(text), False)
    else:
        # Written canonically: the pairs come out of one findall, and their offsets follow from their lengths.
        parsed = []
        end = 0
        for name, value in _CANONICAL_PAIR.findall(text):
            start = end + 1
            end = start + len(name) + len(value) + 3
            parsed.append((name, value, start, end))
        names = {name for name, _value, _start, _end in parsed}
        known = (tuple(parsed), len(names) == len(parsed))
    if len(text) <= _CACHE_TEXT_LEN:
        if len(_PARSED_ATTRS) >= _CACHE_ENTRIES:
            _PARSED_ATTRS.clear()
        _PARSED_ATTRS[text] = known
    return known


def canonical_attrs(text: str) -> bool:
    """True when an attribute text is already written the way a sanitising re-render writes it: each attribute
    once, as ` name="value"` with a lower-case XML name and a value that needs no escaping, none of them an
    event handler, `style` or `data-slot` (which a re-render always drops). Cached with the parse."""
    return _parse(text)[1]


def clear_caches() -> None:
    _PARSED_ATTRS.clear()


def _attrs(text: str, base: int) -> list[Attr]:
    return [Attr(name, raw, base + start, base + end) for name, raw, start, end in _parse(text)[0]]


class _Builder:
    def __init__(self, text: str, limits: Limits, check: Callable[[], None]) -> None:
        self.text = text
        self.limits = limits
        self.check = check
        self.store = ElementStore()
        self.root = Element("#root", 0, 0, None, self.store)
        self.stack: list[Element] = [self.root]
        self.problems: list[Problem] = []
        self.count = 0
        self.limit: str | None = None
        self.implied: list[str] = []
        self.problems_dropped = False

    def problem(self, kind: str, start: int, end: int, detail: str, el: Element | None = None) -> None:
        if len(self.problems) < self.limits.max_problems:
            self.problems.append(Problem(kind, start, end, detail, (el or self.stack[-1]).path))
        else:
            self.problems_dropped = True

    def add_text(self, start: int, end: int) -> None:
        raw = self.text[start:end]
        self.stack[-1].children.append(Text(start, end, raw))
        pos = raw.find("<")
        while pos != -1:
            self.problem("bare-lt", start + pos, start + pos + 1, "unescaped '<' in text")
            pos = raw.find("<", pos + 1)

    def raw_text(self, el: Element) -> int:
        """Skip the literal content of script/style/...: returns where scanning resumes."""
        text, tag, begin = self.text, el.tag, el.open_end
        end = _raw_end(tag).search(text, begin)
        if end is None:
            el.children.append(Text(begin, len(text), text[begin:], True))
            el.close_start = el.end = len(text)
            self.problem("unclosed", el.start, el.open_end, f"<{tag}> is never closed", el)
            return len(text)
        if end.start() > begin:
            el.children.append(Text(begin, end.start(), text[begin : end.start()], True))
        el.close_start, el.end, el.closed = end.start(), end.end(), True
        return end.end()

    def close_p(self, at: int, tag: str) -> None:
        """A block element starting inside an open <p> ends it, as in browsers (HTML's implied end of a paragraph);
        reported as unclosed. Only the innermost open element is looked at, not the whole scope browsers use."""
        el = self.stack.pop()
        el.close_start = el.end = at
        el.plain = False
        self.implied.append("p")
        self.problem("unclosed", el.start, el.open_end, f"<p> is not closed before <{tag}>", el)

    def end_tag(self, start: int, end: int, tag: str) -> None:
        stack = self.stack
        for i in range(len(stack) - 1, 0, -1):
            if stack[i].tag == tag:
                break
        else:
            if tag in self.implied:
                self.problem("misnested", start, end, f"</{tag}> comes after its element was closed (mis-nested tags)")
            else:
                self.problem("stray-end", start, end, f"</{tag}> closes no open element")
            return
        while len(stack) - 1 > i:
            el = stack.pop()
            el.close_start = el.end = start
            self.implied.append(el.tag)
            self.problem("unclosed", el.start, el.open_end, f"<{el.tag}> is not closed before </{tag}>", el)
        el = stack.pop()
        el.close_start, el.end, el.closed = start, end, True

    def declaration(self, start: int, after: int) -> int:
        text = self.text
        if text.startswith("<![CDATA[", start):
            close = text.find("]]>", after)
            end = len(text) if close == -1 else close + 3
            self.problem("declaration", start, end, "CDATA section (not HTML)")
            return end
        gt = text.find(">", after)
        bracket = text.find("[", after)
        if bracket != -1 and (gt == -1 or bracket < gt):
            found = _SUBSET_END.search(text, bracket)
            gt = -1 if found is None else found.end() - 1
        end = len(text) if gt == -1 else gt + 1
        body = text[start:end]
        what = "markup declaration"
        if body[:9].upper() == "<!DOCTYPE":
            what = "DOCTYPE with an internal subset (entity definitions)" if "[" in body else "DOCTYPE"
        elif "ENTITY" in body[:12].upper():
            what = "ENTITY declaration"
        self.problem("declaration", start, end, f"{what} is not allowed in an HTML fragment")
        return end

    def run_plain(self) -> Parsed | None:
        """`run` for text made only of text runs, complete tags and closed raw-text elements such as script (no
        comments, declarations, bare `<` or cut-off tags: None for those). Same tree, spans and problems, from
        the pieces of one `split` instead of match objects: positions are running sums, as the pieces cover the
        text end to end."""
        text = self.text
        max_elements, max_depth = self.limits.max_elements, self.limits.max_depth
        stack = self.stack
        store = self.store
        top = self.root
        pos = skip_to = 0
        count = 0
        if "<!" in text or "<?" in text:
            return None
        if text.find("<", text.rfind(">") + 1) != -1:
            # A '<' with no '>' after it would make the split retry at every later '<' (quadratic), and is a
            # cut-off tag or a bare '<' anyway.
            return None
        # [text, slash, name, attrs, text, slash, name, attrs, ..., text]: a tag is (slash, name, attrs).
        pieces: list[str] = _PLAIN_TAG.split(text)
        last = len(pieces) - 1
        for i in range(0, last + 1, 4):
            if i & 4095 == 4092:
                self.check()
            run = pieces[i]
            if run:
                end = pos + len(run)
                if pos < skip_to:
                    # Inside a script or style body: what looks like markup there is not. The body must end
                    # exactly where a piece does, or the pieces do not line up with the text: general path.
                    if end > skip_to:
                        return None
                elif "<" in run:
                    return None  # a '<' that starts no tag: bare, or a tag cut off by the end of the text
                else:
                    top.children.append(Text(pos, end, run))
                pos = end
            if i == last:
                break
            slash, name, attrs = pieces[i + 1], pieces[i + 2], pieces[i + 3]
            end = pos + len(name) + len(attrs) + (3 if slash else 2)
            if pos < skip_to:
                if end > skip_to:
                    return None
                pos = end
                continue
            if '"' in attrs or "'" in attrs:
                # An unclosed quote means the '>' that ended the piece is inside a quoted value. With one kind of
                # quote only, they pair up in order: an even count closes them all.
                if "'" not in attrs:
                    unclosed = attrs.count('"') & 1
                elif '"' not in attrs:
                    unclosed = attrs.count("'") & 1
                else:
                    unclosed = _QUOTES_CLOSED.fullmatch(attrs) is None
                if unclosed:
                    return None
            tag = name.lower()
            if slash:
                if top.tag == tag and top is not self.root:
                    stack.pop()
                    top.close_start, top.end, top.closed = pos, end, True
                    if attrs or name != tag:
                        top.plain = False
                else:
                    self.end_tag(pos, end, tag)
                top = stack[-1]
                pos = end
                continue
            count += 1
            if count > max_elements or len(stack) > max_depth:
                return None
            if tag in CLOSES_P and top.tag == "p":
                self.close_p(pos, tag)
                top = stack[-1]
            el = Element(tag, pos, end, top, store)
            if attrs:
                el.attrs_text, el.attrs_base = attrs, end - 1 - len(attrs)
            top.children.append(el)
            if tag in VOID or attrs.endswith("/"):
                el.close_start = el.end = end
                el.closed = True
            elif tag in RAW_TEXT:
                if _raw_end(tag).search(text, end) is None:
                    return None
                skip_to = self.raw_text(el)
            else:
                el.plain = name == tag
                stack.append(el)
                top = el
            pos = end
        self.count = count
        return self.finish()

    def run(self) -> Parsed:
        text = self.text
        n = len(text)
        max_elements, max_depth = self.limits.max_elements, self.limits.max_depth
        stack = self.stack
        pos = 0
        it = _TOKEN.finditer(text)
        steps = 0
        while True:
            m = next(it, None)
            if m is None:
                if pos < n:
                    if "<" in text[pos:]:
                        self.add_text(pos, n)
                    else:
                        stack[-1].children.append(Text(pos, n, text[pos:]))
                break
            mstart = m.start()
            if mstart < pos:
                # A token found inside text we skipped (a comment, script body): rescan from where we are.
                it = _TOKEN.finditer(text, pos)
                continue
            steps += 1
            if steps & 255 == 0:
                self.check()
            if mstart > pos:
                raw = text[pos:mstart]
                if "<" in raw:
                    self.add_text(pos, mstart)
                else:
                    stack[-1].children.append(Text(pos, mstart, raw))
            comment, end_slash, name, attrs, close, bang, _pi = m.groups()
            if name is not None:
                tag = name.lower()
                if not close:
                    self.problem("unterminated-tag", mstart, n, f"tag <{tag} is never closed with '>'")
                    pos = n
                    break
                mend = m.end()
                if end_slash:
                    top = stack[-1]
                    if top.tag == tag and top is not self.root:
                        stack.pop()
                        top.close_start, top.end, top.closed = mstart, mend, True
                    else:
                        self.end_tag(mstart, mend, tag)
                    pos = mend
                    continue
                self.count += 1
                if self.count > max_elements:
                    self.limit = f"more than {max_elements} elements"
                    break
                if len(stack) > max_depth:
                    self.limit = f"elements nested more than {max_depth} deep"
                    break
                if tag in CLOSES_P and stack[-1].tag == "p":
                    self.close_p(mstart, tag)
                parent = stack[-1]
                el = Element(tag, mstart, mend, parent, self.store)
                if attrs:
                    el.attrs_text, el.attrs_base = attrs, m.start("attrs")
                parent.children.append(el)
                pos = mend
                if tag in VOID or attrs.endswith("/"):
                    el.close_start = el.end = mend
                    el.closed = True
                elif tag in RAW_TEXT:
                    pos = self.raw_text(el)
                    it = _TOKEN.finditer(text, pos)
                else:
                    stack.append(el)
            elif comment:
                close_at = text.find("-->", m.end())
                if close_at == -1:
                    self.problem("unterminated-comment", mstart, n, "comment is never closed")
                    pos = n
                    break
                pos = close_at + 3
                it = _TOKEN.finditer(text, pos)
            elif bang:
                pos = self.declaration(mstart, m.end())
                it = _TOKEN.finditer(text, pos)
            else:
                close_at = text.find(">", m.end())
                pos = n if close_at == -1 else close_at + 1
                self.problem("instruction", mstart, pos, "processing instruction is not HTML")
                it = _TOKEN.finditer(text, pos)
        return self.finish()

    def finish(self) -> Parsed:
        """Close what is still open at the end of the text (or where a limit stopped the scan)."""
        stack, n = self.stack, len(self.text)
        if self.limit is None:
            for el in reversed(stack[1:]):
                el.close_start = el.end = n
                self.problem("unclosed", el.start, el.open_end, f"<{el.tag}> is never closed", el)
        else:
            for el in stack[1:]:
                el.close_start = el.end = n
        self.root.end = self.root.close_start = n
        self.root.closed = True
        return Parsed(self.root, self.problems, self.count, self.store, self.limit, self.problems_dropped)


def cut_short(text: str, reason: str) -> Parsed:
    """An empty parse that says why the text was not (fully) parsed."""
    store = ElementStore()
    root = Element("#root", 0, 0, None, store)
    root.close_start = root.end = len(text)
    root.closed = True
    return Parsed(root, [], 0, store, reason)


def scan(text: str, limits: Limits = Limits(), check: Callable[[], None] = lambda: None) -> Parsed:
    """Tokenize `text` into a tree with spans. Over `limits.max_chars` nothing is scanned (limit set)."""
    if len(text) > limits.max_chars:
        return cut_short(text, f"{len(text)} characters, over the {limits.max_chars} limit")
    return _Builder(text, limits, check).run_plain() or _Builder(text, limits, check).run()

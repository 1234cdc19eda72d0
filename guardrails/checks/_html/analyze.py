"""Compare a scanned output with its template: every problem as an Issue with span, element path and local fix.

One analysis per (document, template) is shared by all rules through `Document.view`; each rule then
reports only the issue kinds it names.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Container
from dataclasses import dataclass, field
from functools import partial
from typing import Literal, get_args

from guardrails.checks._html.scan import Element, Parsed, Text, canonical_attrs
from guardrails.checks._html.template import (
    DROPPED_WITH_CONTENT,
    SLOT_ATTR,
    Slot,
    Template,
    normalise_space,
)
from guardrails.checks._html.urls import DANGEROUS_SCHEMES, URL_ATTRIBUTES, judge_url, scheme_of
from guardrails.findings import Edit

Kind = Literal[
    "malformed",
    "limits",
    "script-style",
    "event-handler",
    "dangerous-url",
    "link-policy",
    "disallowed-tag",
    "disallowed-attribute",
    "missing-slot",
    "extra-slot",
    "reordered-slot",
    "unknown-slot",
    "outside-slots",
    "slot-too-long",
    "template-mismatch",
    "unknown-template",
]
KINDS: tuple[str, ...] = get_args(Kind)
STRUCTURAL = frozenset(
    {"malformed", "missing-slot", "extra-slot", "reordered-slot", "unknown-slot", "outside-slots", "slot-too-long"}
)
"""Kinds no local edit can fix: they trigger a re-render into the template."""
BAD_CHARS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]+")
"""Control characters, lone surrogates (what a broken decoder leaves behind) and the noncharacters U+FFFE and
U+FFFF: never valid in HTML text, and not XML characters, so a re-render could not contain them."""
_ASCII_BAD = tuple(chr(c) for c in [*range(0x09), 0x0B, *range(0x0E, 0x20), 0x7F])
_MAX_ISSUES = 200
HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_ACTIVE = frozenset({"script", "style"})
_CLEAN_ATTRS: dict[tuple[str, str, tuple[str, str], str, str], bool] = {}
"""Attribute texts that raised no issue, by everything the verdict depends on (see `_Walker.attributes`)."""
_CLEAN_ATTRS_TEXT_LEN = 200
_CLEAN_ATTRS_ENTRIES = 8192
_TAG = re.compile(r"<[^>]*+>")


@dataclass(slots=True)
class Issue:
    kind: str
    start: int
    end: int
    path: str
    detail: str
    values: dict[str, object] = field(default_factory=dict)
    edits: list[Edit] | None = None
    fix_title: str | None = None
    slot: str | None = None
    structural: bool = False
    """True when only a re-render fixes it (whatever its kind), e.g. a slot element of the wrong tag."""


@dataclass(slots=True)
class Analysis:
    template: Template
    issues: list[Issue] = field(default_factory=list)
    occurrences: dict[str, list[Element]] = field(default_factory=dict)
    strays: list[Element | Text] = field(default_factory=list)
    """Top-level pieces outside any slot that the template does not have: candidates for heading/position matching.
    The template's own headings are listed too (see `anchors`): content after them can belong to a slot."""
    anchors: set[int] = field(default_factory=set)
    """ids of template headings among `strays`: they introduce content, they are never content."""
    complete: bool = True
    """False when a limit stopped the scan: no re-render is attempted from a partial tree."""
    verbatim: dict[tuple[str, int], tuple[int, int]] = field(default_factory=dict)
    """By slot name and id of an occurrence, the span of its content when the walk found no issue in it, only
    canonical markup, nothing to escape (`written_as_rendered`) and it fits the slot's length: the render copies
    it as written."""
    text: str = ""
    parsed: Parsed | None = None
    """The scanned tree, held so that it lives as long as the analysis (elements only weakly know their parent)."""
    problem_spans: list[tuple[int, int]] = field(default_factory=list)
    """Where the scanner found malformed markup and the analysis bad characters."""

    def written_as_rendered(self, start: int, end: int) -> bool:
        """True when the text of a clean, canonical occurrence content needs no change: no malformed markup or bad
        character in it, no comment (skipped by the scanner without a trace), nothing to escape. Plain tags hold
        one '<' and one '>' each, so equal counts mean there is none in the text."""
        text = self.text
        return (
            not any(p_start < end and p_end > start for p_start, p_end in self.problem_spans)
            and text.count("<", start, end) == text.count(">", start, end)
            and text.find("<!", start, end) == -1
            and text.find("&", start, end) == -1
            and text.find("\x0c", start, end) == -1
        )

    def add(self, issue: Issue) -> None:
        if len(self.issues) < _MAX_ISSUES:
            self.issues.append(issue)


def _remove(start: int, end: int) -> list[Edit]:
    return [Edit(start=start, end=end, replacement="")]


def _unwrap(el: Element) -> list[Edit]:
    edits = [Edit(start=el.start, end=el.open_end, replacement="")]
    if el.closed and el.close_start < el.end:
        edits.append(Edit(start=el.close_start, end=el.end, replacement=""))
    return edits


_MALFORMED_FIX = {
    "bare-lt": ("escape '<' as &lt;", "&lt;"),
    "stray-end": ("remove the stray end tag", ""),
    "misnested": ("remove the mis-nested end tag", ""),
    "declaration": ("remove the declaration", ""),
    "instruction": ("remove the processing instruction", ""),
}


class _Walker:
    def __init__(self, text: str, template: Template, domains: list[str], check: Callable[[], None]) -> None:
        self.text = text
        self.t = template
        self.domains = domains
        self.check = check
        self.a = Analysis(template, occurrences={name: [] for name in template.slots})
        self.steps = 0
        self.next_check = 256
        self._link_domains: dict[str, list[str]] = {}
        self.domains_key = "\n".join(domains)
        self.canonical = True
        """Cleared by `in_slot` when it meets markup a re-render would write differently."""

    def link_domains(self, slot: Slot) -> list[str]:
        """The hosts links in `slot` may point to: the slot's own and the call's allowed domains."""
        domains = self._link_domains.get(slot.name)
        if domains is None:
            domains = self._link_domains[slot.name] = [*slot.spec.links.domains, *self.domains]
        return domains

    def issue(self, kind: str, start: int, end: int, path: str, detail: str, **kw: object) -> None:
        self.a.add(Issue(kind, start, end, path, detail, **kw))  # type: ignore[arg-type]

    # -- security: applies everywhere, in or out of slots -----------------------------------------------------

    def active(self, el: Element) -> None:
        """Report script/style (dropped whole: nothing inside is looked at)."""
        self.issue(
            "script-style",
            el.start,
            el.end,
            el.path,
            f"<{el.tag}> element",
            values={"tag": el.tag},
            edits=_remove(el.start, el.end),
            fix_title=f"remove the <{el.tag}> element",
        )

    def attributes(
        self, el: Element, slot: Slot | None, allowed: Callable[[str], bool], rules: tuple[str, str]
    ) -> None:
        """Report the attributes of `el` that are dangerous, or not `allowed`, or links against `slot`'s policy.
        `rules` names what `allowed` and `slot` depend on: an attribute text found clean under the same rules,
        tag, template and allowed domains is clean again (slot markers and common links repeat on every call)."""
        attrs_text = el.attrs_text
        if not attrs_text:
            return
        key = (self.t.key, self.domains_key, rules, el.tag, attrs_text)
        if key in _CLEAN_ATTRS:
            return
        before = len(self.a.issues)
        self._attribute_issues(el, slot, allowed)
        if len(self.a.issues) == before and len(attrs_text) <= _CLEAN_ATTRS_TEXT_LEN:
            if len(_CLEAN_ATTRS) >= _CLEAN_ATTRS_ENTRIES:
                _CLEAN_ATTRS.clear()
            _CLEAN_ATTRS[key] = True

    def _attribute_issues(self, el: Element, slot: Slot | None, allowed: Callable[[str], bool]) -> None:
        for attr in el.attrs:
            name = attr.name
            if name.startswith("on"):
                self.issue(
                    "event-handler",
                    attr.start,
                    attr.end,
                    el.path,
                    f"event-handler attribute {name!r} on <{el.tag}>",
                    values={"attribute": name, "tag": el.tag},
                    edits=_remove(attr.start, attr.end),
                    fix_title=f"remove the {name} attribute",
                )
                continue
            is_url = name in URL_ATTRIBUTES
            if is_url and scheme_of(attr.raw or "") in DANGEROUS_SCHEMES:
                self.issue(
                    "dangerous-url",
                    attr.start,
                    attr.end,
                    el.path,
                    f"{scheme_of(attr.raw or '')}: URL in {name!r} of <{el.tag}>",
                    values={"attribute": name, "tag": el.tag, "scheme": scheme_of(attr.raw or "")},
                    edits=_remove(attr.start, attr.end),
                    fix_title=f"remove the {name} attribute",
                )
                continue
            if not allowed(name):
                self.issue(
                    "disallowed-attribute",
                    attr.start,
                    attr.end,
                    el.path,
                    f"attribute {name!r} is not allowed on <{el.tag}>" + (f" in slot {slot.name!r}" if slot else ""),
                    values={"attribute": name, "tag": el.tag, "slot": slot.name if slot else ""},
                    edits=_remove(attr.start, attr.end),
                    fix_title=f"remove the {name} attribute",
                    slot=slot.name if slot else None,
                )
                continue
            if is_url and slot is not None:
                verdict = judge_url(
                    attr.raw or "", slot.schemes, self.link_domains(slot), slot.spec.links.allow_relative
                )
                if not verdict.ok:
                    self.issue(
                        "link-policy",
                        attr.start,
                        attr.end,
                        el.path,
                        f"{verdict.reason} in {name!r} of <{el.tag}> (slot {slot.name!r})",
                        values={"attribute": name, "tag": el.tag, "slot": slot.name, "reason": verdict.reason},
                        edits=_remove(attr.start, attr.end),
                        fix_title=f"remove the {name} attribute",
                        slot=slot.name,
                    )

    # -- the walk ------------------------------------------------------------------------------------------------

    def walk(self, el: Element, slot: Slot | None, tag_path: str, stray: bool) -> None:
        """`slot`: the slot we are inside. `stray`: inside markup already reported (do not report again)."""
        if slot is not None:
            self.walk_slot(el, slot, tag_path, stray)
            return
        children = el.children
        self.steps += len(children)
        if self.steps > self.next_check:
            self.next_check = self.steps + 256
            self.check()
        for child in children:
            if isinstance(child, Text):
                if slot is None and not stray:
                    self.outside_text(child, el)
                continue
            if child.tag in _ACTIVE:
                self.active(child)
                continue
            # Most elements carry no attributes: skip parsing them unless a marker can be there.
            attrs_text = child.attrs_text
            marker = child.attr(SLOT_ATTR) if attrs_text and SLOT_ATTR in attrs_text.lower() else None
            if marker is not None:
                self.marked(child, marker.value.strip(), slot, tag_path, stray)
            else:
                self.outside(child, tag_path, stray)

    def walk_slot(self, el: Element, slot: Slot, tag_path: str, stray: bool) -> None:
        """`walk` inside a slot, with `in_slot`'s common case inlined: most of an output is slot content."""
        children = el.children
        self.steps += len(children)
        if self.steps > self.next_check:
            self.next_check = self.steps + 256
            self.check()
        tags = slot.tags
        for child in children:
            if isinstance(child, Text):
                continue
            tag = child.tag
            if tag in _ACTIVE:
                self.active(child)
                continue
            attrs_text = child.attrs_text
            if attrs_text and SLOT_ATTR in attrs_text.lower():
                marker = child.attr(SLOT_ATTR)
                if marker is not None:
                    self.marked(child, marker.value.strip(), slot, tag_path, stray)
                    continue
            if tag not in tags or tag in DROPPED_WITH_CONTENT:
                self.in_slot(child, slot, tag_path)
                continue
            if not child.plain:
                self.canonical = False
            if attrs_text:
                self.attributes(child, slot, partial(slot.allowed_attr, tag), ("tag", slot.name))
                if self.canonical and not canonical_attrs(attrs_text):
                    self.canonical = False
            if child.children:
                self.walk_slot(child, slot, tag_path, False)

    def marked(self, el: Element, name: str, outer: Slot | None, tag_path: str, stray: bool) -> None:
        slot = self.t.slots.get(name)
        if outer is not None:
            self.issue(
                "extra-slot",
                el.start,
                el.end,
                el.path,
                f"slot {name!r} is nested inside slot {outer.name!r}",
                values={"slot": name},
                slot=name,
            )
            if slot is None or slot is outer:
                self.in_slot(el, outer, tag_path)
                return
        if slot is None:
            known = ", ".join(self.t.slots)
            self.issue(
                "unknown-slot",
                el.start,
                el.end,
                el.path,
                f"slot {name!r} is not in template {self.t.name!r} (its slots: {known})",
                values={"slot": name, "known": known},
            )
            self.attributes(el, None, lambda _n: True, ("any", ""))
            self.a.strays.append(el)  # its content may still fill a missing slot by position
            self.walk(el, None, tag_path, True)
            return
        self.a.occurrences[name].append(el)
        if el.tag != slot.element.tag:
            self.issue(
                "disallowed-tag",
                el.start,
                el.open_end,
                el.path,
                f"slot {name!r} must be a <{slot.element.tag}>, not <{el.tag}>",
                values={"tag": el.tag, "slot": name},
                slot=name,
                structural=True,
            )
        own = slot.own_attrs
        self.attributes(el, slot if own & URL_ATTRIBUTES else None, lambda n: n in own, ("own", name))
        before, outer_canonical = len(self.a.issues), self.canonical
        self.canonical = True
        self.walk(el, slot, tag_path, stray)
        if self.canonical and len(self.a.issues) == before and el.closed:
            self.a.verbatim[name, id(el)] = (el.open_end, el.close_start)
        self.canonical = outer_canonical

    def in_slot(self, el: Element, slot: Slot, tag_path: str) -> None:
        """An element inside a slot (`walk_slot` inlines the allowed case for the elements it meets)."""
        tag = el.tag
        if tag in slot.tags and tag not in DROPPED_WITH_CONTENT:
            if not el.plain:
                self.canonical = False
            if el.attrs_text:
                self.attributes(el, slot, partial(slot.allowed_attr, tag), ("tag", slot.name))
                if self.canonical and not canonical_attrs(el.attrs_text):
                    self.canonical = False
            if el.children:
                self.walk_slot(el, slot, tag_path, False)
            return
        dropped = tag in DROPPED_WITH_CONTENT  # removed whole; other disallowed tags are unwrapped, keeping text
        self.issue(
            "disallowed-tag",
            el.start,
            el.end,
            el.path,
            f"<{tag}> is not allowed in slot {slot.name!r}",
            values={"tag": tag, "slot": slot.name},
            edits=_remove(el.start, el.end) if dropped else _unwrap(el),
            fix_title=f"remove the <{tag}> element" if dropped else f"unwrap <{tag}>, keeping its text",
            slot=slot.name,
        )
        if dropped:
            return
        self.attributes(el, slot, lambda _n: True, ("any", slot.name))
        self.walk(el, slot, tag_path, False)

    def outside(self, el: Element, tag_path: str, stray: bool) -> None:
        path = f"{tag_path}/{el.tag}" if tag_path else el.tag
        if not stray and path in self.t.skeleton_paths and el.tag in HEADINGS:
            self.a.anchors.add(id(el))
            self.a.strays.append(el)
        if not stray and path not in self.t.skeleton_paths:
            self.issue(
                "outside-slots",
                el.start,
                el.open_end if el.tag not in DROPPED_WITH_CONTENT else el.end,
                el.path,
                f"<{el.tag}> is outside every slot and not part of template {self.t.name!r}",
                values={"tag": el.tag},
            )
            self.a.strays.append(el)
            stray = True
        if stray:
            self.attributes(el, None, lambda _n: True, ("any", ""))  # dropped on re-render: only the dangerous
        else:
            # Template markup: only the attributes the template puts there (no hiding `style`, no tracking ids).
            own = self.t.skeleton_attrs.get(path, frozenset())
            self.attributes(el, None, lambda n: n in own, ("skeleton", path))
        if el.tag not in DROPPED_WITH_CONTENT:
            self.walk(el, None, path, stray)

    def outside_text(self, node: Text, parent: Element) -> None:
        value = node.value
        if not value.strip() or normalise_space(value) in self.t.skeleton_texts:
            return
        raw = node.raw
        start = node.start + (len(raw) - len(raw.lstrip()))
        end = node.end - (len(raw) - len(raw.rstrip()))
        shown = normalise_space(value)
        self.issue(
            "outside-slots",
            start,
            end,
            f"{parent.path.rstrip('/')}/text()",
            f"text {shown[:40]!r} is outside every slot",
            values={"tag": "#text"},
        )
        self.a.strays.append(node)


def clear_caches() -> None:
    _CLEAN_ATTRS.clear()


def has_bad_chars(text: str) -> bool:
    """Whether BAD_CHARS matches anywhere, answered without the regex, whose character class (it spans the
    surrogates) makes it scan ~20x slower than a substring search per control character."""
    if any(c in text for c in _ASCII_BAD):
        return True
    if text.isascii():
        return False
    if "\ufffe" in text or "\uffff" in text:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True  # a lone surrogate
    return False


def visible_text(el: Element, slots: Container[str] = ()) -> str:
    """The text a reader sees in a slot: dropped content (script, style...), other slots nested in it (they
    render in their own place) and bad characters left out."""
    parts: list[str] = []
    _visible(el, parts, slots)
    return BAD_CHARS.sub("", "".join(parts))


def _visible(el: Element, parts: list[str], slots: Container[str]) -> None:
    for child in el.children:
        if isinstance(child, Text):
            raw = child.raw
            parts.append(child.value if "&" in raw else raw)
        elif child.tag not in DROPPED_WITH_CONTENT and not (child.attrs_text and is_other_slot(child, slots)):
            _visible(child, parts, slots)


def is_other_slot(el: Element, slots: Container[str]) -> bool:
    marker = el.attr(SLOT_ATTR) if el.attrs_text else None
    return marker is not None and marker.value.strip() in slots


def analyze(text: str, parsed: Parsed, template: Template, domains: list[str], check: Callable[[], None]) -> Analysis:
    """All issues of `text` against `template`, in document order of discovery."""
    if parsed.limit:
        a = Analysis(template, complete=False)
        a.add(Issue("limits", 0, len(text), "/", parsed.limit, values={"limit": parsed.limit}))
        return a
    w = _Walker(text, template, domains, check)
    a = w.a
    a.text = text
    a.parsed = parsed
    a.problem_spans = [(p.start, p.end) for p in parsed.problems]
    for p in parsed.problems:
        title, replacement = _MALFORMED_FIX.get(p.kind, (None, None))
        a.add(
            Issue(
                "malformed",
                p.start,
                p.end,
                p.path,
                p.detail,
                values={"problem": p.kind},
                edits=[Edit(start=p.start, end=p.end, replacement=replacement)] if replacement is not None else None,
                fix_title=title,
            )
        )
    if parsed.problems_dropped:
        a.problem_spans.append((0, len(text)))
    for m in BAD_CHARS.finditer(text) if has_bad_chars(text) else ():
        if len(a.issues) >= _MAX_ISSUES:
            a.problem_spans.append((0, len(text)))  # the rest are not listed: copy nothing as written
            break
        a.add(
            Issue(
                "malformed",
                m.start(),
                m.end(),
                "/",
                "control characters or broken encoding",
                values={"problem": "invalid-character"},
                edits=_remove(m.start(), m.end()),
                fix_title="remove invalid characters",
            )
        )
        a.problem_spans.append((m.start(), m.end()))
    w.walk(parsed.root, None, "", False)
    _slot_issues(w)
    return a


def _slot_issues(w: _Walker) -> None:
    a, t, text = w.a, w.t, w.text
    last_end = 0
    for name, slot in t.slots.items():
        occ = a.occurrences[name]
        if not occ:
            if slot.spec.required:
                w.issue(
                    "missing-slot",
                    last_end,
                    last_end,
                    slot.element.path,
                    f"required section {name!r} is missing",
                    values={"slot": name},
                    slot=name,
                )
            continue
        last_end = max(last_end, occ[-1].end)
        limit = slot.spec.max_items if slot.spec.repeated else 1
        for el in occ[limit or len(occ) :]:
            w.issue(
                "extra-slot",
                el.start,
                el.end,
                el.path,
                f"section {name!r} appears {len(occ)} times" + (f" (at most {limit})" if limit else ""),
                values={"slot": name, "count": len(occ)},
                slot=name,
            )
        empty = True
        for el in occ:
            span = a.verbatim.get((name, id(el)))
            if span is not None and not a.written_as_rendered(*span):
                del a.verbatim[name, id(el)]
                span = None
            # Clean, canonical content: its tags are the only markup, so the text is what is between them.
            visible = _TAG.sub("", text[span[0] : span[1]]) if span is not None else visible_text(el, t.slots)
            if visible.strip() or (el.children and any(e.tag == "img" for e in el.iter())):
                empty = False
            if slot.spec.max_chars is not None and len(visible) > slot.spec.max_chars:
                a.verbatim.pop((name, id(el)), None)
                w.issue(
                    "slot-too-long",
                    el.start,
                    el.end,
                    el.path,
                    f"section {name!r} has {len(visible)} characters (at most {slot.spec.max_chars})",
                    values={"slot": name, "length": len(visible), "limit": slot.spec.max_chars},
                    slot=name,
                )
        if slot.spec.required and empty:
            el = occ[0]
            w.issue(
                "missing-slot",
                el.start,
                el.end,
                el.path,
                f"required section {name!r} is empty",
                values={"slot": name},
                slot=name,
            )
    ordered = sorted(((name, el) for name, occ in a.occurrences.items() for el in occ), key=lambda p: p[1].start)
    highest: tuple[int, str] = (-1, "")
    for name, el in ordered:
        index = t.slots[name].index
        if index < highest[0]:
            w.issue(
                "reordered-slot",
                el.start,
                el.end,
                el.path,
                f"section {name!r} should come before {highest[1]!r}",
                values={"slot": name, "after": highest[1]},
                slot=name,
            )
        elif index > highest[0]:
            highest = (index, name)

"""Re-render an output into its template from the slot contents it did produce.

Contents are found by slot marker, then by a heading whose text is the slot's label, then by position
(an unmarked element with the slot's tag). Everything is sanitised with the same predicates the check
uses (allowed tags and attributes, link policy, text limits), text and attribute values are escaped,
void elements are written `<br />`, so the result is well-formed HTML that also parses as XML; lxml
(strict XML mode: no DTD, no entities, no network) confirms that before the render is offered.
"""

from __future__ import annotations

import html
import re
import threading
from dataclasses import dataclass, field

from lxml import etree

from guardrails.checks._html.analyze import BAD_CHARS, HEADINGS, Analysis, is_other_slot
from guardrails.checks._html.scan import VOID, Element, Text
from guardrails.checks._html.template import (
    DROPPED_WITH_CONTENT,
    SLOT_ATTR,
    XML_NAME,
    Slot,
    Template,
    normalise_space,
)
from guardrails.checks._html.urls import DANGEROUS_SCHEMES, URL_ATTRIBUTES, judge_url, scheme_of

BLOCKS = frozenset(
    [
        "address",
        "article",
        "aside",
        "blockquote",
        "br",
        "dd",
        "div",
        "dl",
        "dt",
        "figcaption",
        "figure",
        "footer",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "td",
        "th",
        "tr",
        "ul",
    ]
)


class _WellFormed:
    """A parser target with no event methods: lxml checks well-formedness and builds nothing (half the time of
    building the tree that was thrown away)."""

    def close(self) -> None:
        return None


_PARSERS = threading.local()


def _xml_parser() -> etree.XMLParser:
    """One parser per thread: an lxml parser must not parse in two threads at once (validations run in threads)."""
    parser: etree.XMLParser | None = getattr(_PARSERS, "parser", None)
    if parser is None:
        parser = _PARSERS.parser = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            huge_tree=False,
            recover=False,
            dtd_validation=False,
            target=_WellFormed(),
        )
    return parser


_TEXT_SPECIAL = re.compile(r"[&<>\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
"""Characters _esc_text changes: most text holds none, and is then written as it is (one search, no copies)."""
_ATTR_SPECIAL = re.compile(r"[&<>\"'\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


def _esc_text(value: str) -> str:
    if not _TEXT_SPECIAL.search(value):
        return value
    # Form feed is HTML whitespace but not an XML character: the render must be both, so it becomes a space.
    return html.escape(BAD_CHARS.sub("", value).replace("\x0c", " "), quote=False)


def _esc_attr(value: str) -> str:
    if not _ATTR_SPECIAL.search(value):
        return value
    return html.escape(BAD_CHARS.sub("", value).replace("\x0c", " "), quote=True)


@dataclass
class _Budget:
    left: int | None

    def take(self, text: str) -> str:
        if self.left is None:
            return text
        if len(text) <= self.left:
            self.left -= len(text)
            return text
        if self.left <= 0:
            return ""
        cut = text[: self.left - 1]
        space = cut.rfind(" ")
        if space >= len(cut) // 2:
            cut = cut[:space]
        self.left = 0
        return cut.rstrip() + "…"


@dataclass
class _Content:
    """What fills one occurrence of a slot: nodes to sanitise, and the element whose attributes fill the slot's."""

    nodes: list[Element | Text]
    source: Element | None = None


@dataclass
class _Plan:
    contents: dict[str, list[_Content]] = field(default_factory=dict)


def _plan(analysis: Analysis) -> _Plan:
    t = analysis.template
    plan = _Plan({name: [] for name in t.slots})
    strays = list(analysis.strays)
    claimed: set[int] = set()
    anchors = {i for i, node in enumerate(strays) if id(node) in analysis.anchors}
    for name, marked in analysis.occurrences.items():
        slot = t.slots[name]
        occ = _adopt(marked, slot, strays, claimed, anchors) if slot.spec.repeated and marked else marked
        keep = [el for el in occ if el.children] or occ[:1]
        limit = (slot.spec.max_items or len(keep)) if slot.spec.repeated else 1
        plan.contents[name] = [_Content(list(el.children), el) for el in keep[:limit]]
    missing = [s for s in t.slots.values() if not plan.contents[s.name]]
    if not missing or not strays:
        return plan
    _by_heading(strays, missing, plan, claimed)
    claimed.update(anchors)
    _by_position(strays, [s for s in missing if not plan.contents[s.name]], plan, claimed)
    return plan


def _adopt(
    occ: list[Element], slot: Slot, strays: list[Element | Text], claimed: set[int], anchors: set[int]
) -> list[Element]:
    """Unmarked siblings of a repeated slot's items with the slot's tag are items whose marker was forgotten."""
    parent = occ[0].parent
    extra = []
    for i, node in enumerate(strays):
        if i in claimed or i in anchors:
            continue
        if isinstance(node, Element) and node.tag == slot.element.tag and node.parent is parent:
            claimed.add(i)
            extra.append(node)
    return sorted([*occ, *extra], key=lambda el: el.start) if extra else occ


def _by_heading(strays: list[Element | Text], missing: list[Slot], plan: _Plan, claimed: set[int]) -> None:
    labels = {s.label: s for s in missing}
    for i, node in enumerate(strays):
        if not isinstance(node, Element) or node.tag not in HEADINGS or i in claimed:
            continue
        slot = labels.get(normalise_space(node.text_value()).casefold().rstrip(":").strip())
        if slot is None or plan.contents[slot.name]:
            continue
        claimed.add(i)
        nodes: list[Element | Text] = []
        for j in range(i + 1, len(strays)):
            nxt = strays[j]
            if j in claimed or (isinstance(nxt, Element) and nxt.tag in HEADINGS):
                break
            claimed.add(j)
            nodes.append(nxt)
        if slot.spec.repeated:
            # A list under the heading: one occurrence per item of the slot's tag (e.g. each <li>).
            items = [_Content(list(el.children), el) for el in _items(nodes, slot.element.tag)]
            plan.contents[slot.name] = items[: slot.spec.max_items or len(items)]
        else:
            plan.contents[slot.name] = [_Content(nodes)]


def _items(nodes: list[Element | Text], tag: str) -> list[Element]:
    """Elements of `tag` among `nodes` or their children (a stray <ol> holds the <li> a slot wants)."""
    found: list[Element] = []
    for node in nodes:
        if isinstance(node, Element):
            if node.tag == tag:
                found.append(node)
            else:
                found.extend(c for c in node.children if isinstance(c, Element) and c.tag == tag)
    return found


def _by_position(strays: list[Element | Text], missing: list[Slot], plan: _Plan, claimed: set[int]) -> None:
    cursor = 0
    for slot in missing:
        found: list[_Content] = []
        wanted = (slot.spec.max_items or 10_000) if slot.spec.repeated else 1
        for j in range(cursor, len(strays)):
            node = strays[j]
            if j in claimed or len(found) >= wanted:
                continue
            items = _items([node], slot.element.tag)
            if not items:
                continue
            claimed.add(j)
            found.extend(_Content(list(el.children), el) for el in items[: wanted - len(found)])
            cursor = j + 1
        plan.contents[slot.name] = found


class _Renderer:
    def __init__(self, analysis: Analysis, domains: list[str]) -> None:
        self.t = analysis.template
        self.analysis = analysis
        self.domains = domains
        self.out: list[str] = []

    def url_ok(self, slot: Slot, value: str) -> bool:
        if scheme_of(value) in DANGEROUS_SCHEMES:
            return False
        links = slot.spec.links
        return judge_url(value, slot.schemes, [*links.domains, *self.domains], links.allow_relative).ok

    def attr_text(self, name: str, value: str) -> str:
        return f' {name}="{_esc_attr(value)}"' if XML_NAME.match(name) else ""

    def open_tag(self, el: Element, slot: Slot | None = None, source: Element | None = None) -> str:
        """A template element's start tag; for a slot, fill attributes come from the output's element."""
        parts = [f"<{el.tag}"]
        fill = set(slot.spec.fill_attributes) if slot else set()
        for attr in el.attrs:
            value = attr.value
            if attr.name in fill and source is not None:
                given = source.attr(attr.name)
                if given is not None and (attr.name not in URL_ATTRIBUTES or self.url_ok(slot, given.value)):  # type: ignore[arg-type]
                    value = given.value
                fill.discard(attr.name)
            parts.append(self.attr_text(attr.name, value))
        for name in sorted(fill):
            given = source.attr(name) if source is not None else None
            if given is not None and (name not in URL_ATTRIBUTES or self.url_ok(slot, given.value)):  # type: ignore[arg-type]
                parts.append(self.attr_text(name, given.value))
        parts.append(" />" if el.tag in VOID else ">")
        return "".join(parts)

    def template_parts(self, plan: _Plan) -> None:
        out = self.out
        analysis = self.analysis
        for part in _skeleton(self.t):
            if isinstance(part, str):
                out.append(part)
                continue
            slot = part.slot
            contents = plan.contents.get(slot.name) or ([_Content([])] if slot.spec.required else [])
            for n, content in enumerate(contents):
                if n:
                    out.append(part.sep)
                start_tag = part.start_tag
                out.append(start_tag if start_tag is not None else self.open_tag(part.element, slot, content.source))
                if not part.end_tag:
                    continue
                span = analysis.verbatim.get((slot.name, id(content.source))) if content.source else None
                if span is not None:
                    out.append(analysis.text[span[0] : span[1]])
                else:
                    self.slot_nodes(content.nodes, slot, _Budget(slot.spec.max_chars))
                out.append(part.end_tag)

    def slot_nodes(self, nodes: list[Element | Text], slot: Slot, budget: _Budget) -> None:
        out = self.out
        slots = self.t.slots
        for node in nodes:
            left = budget.left
            if left is not None and left <= 0:
                return
            if isinstance(node, Text):
                if node.raw_text:
                    continue
                raw = node.raw
                if not _TEXT_SPECIAL.search(raw):
                    # Nothing to decode, drop or escape: the text as written (what the slow path gives too).
                    if left is None:
                        out.append(raw)
                    elif len(raw) <= left:
                        budget.left = left - len(raw)
                        out.append(raw)
                    else:
                        out.append(budget.take(raw))
                else:
                    out.append(_esc_text(budget.take(BAD_CHARS.sub("", node.value))))
                continue
            tag = node.tag
            if tag in DROPPED_WITH_CONTENT or (node.attrs_text and is_other_slot(node, slots)):
                continue
            if tag not in slot.tags:
                if tag in BLOCKS and out and not out[-1].endswith((" ", ">")):
                    out.append(budget.take(" "))
                self.slot_nodes(node.children, slot, budget)
                continue
            attrs = self.slot_attrs(node, slot) if node.attrs_text else ""
            if tag in VOID:
                out.append(f"<{tag}{attrs} />")
                continue
            out.append(f"<{tag}{attrs}>")
            if node.children:
                self.slot_nodes(node.children, slot, budget)
            out.append(f"</{tag}>")

    def slot_attrs(self, node: Element, slot: Slot) -> str:
        """The attributes of an element inside a slot that survive sanitising, written out."""
        tag = node.tag
        attrs = []
        seen: set[str] = set()
        for attr in node.attrs:
            name = attr.name
            if name in seen:
                continue  # browsers keep the first of duplicate attributes; XML forbids duplicates
            seen.add(name)
            if not slot.allowed_attr(tag, name) or name.startswith("on") or name in ("style", SLOT_ATTR):
                continue
            if name in URL_ATTRIBUTES and not self.url_ok(slot, attr.raw or ""):
                continue
            attrs.append(self.attr_text(name, attr.value))
        return "".join(attrs)


@dataclass(frozen=True, slots=True)
class _Hole:
    """Where a slot's occurrences go in a template, and what is written around each of them."""

    element: Element
    slot: Slot
    sep: str
    """Written between repeated occurrences: the template's whitespace before the slot element."""
    start_tag: str | None
    """The slot element's start tag; None when the output fills some of its attributes (written per occurrence)."""
    end_tag: str
    """Empty for a void slot element."""


_SKELETONS: dict[str, list[str | _Hole]] = {}
"""By template key: everything a render writes outside the slots is the same every time, so it is written once."""


def _skeleton(template: Template) -> list[str | _Hole]:
    parts = _SKELETONS.get(template.key)
    if parts is None:
        parts = _SKELETONS[template.key] = _write_skeleton(template)
    return parts


def _write_skeleton(template: Template) -> list[str | _Hole]:
    writer = _Renderer(Analysis(template), [])
    parts: list[str | _Hole] = []

    def visit(el: Element) -> None:
        children = el.children
        for i, child in enumerate(children):
            if isinstance(child, Text):
                parts.append(_esc_text(child.value))
                continue
            marker = child.attr(SLOT_ATTR)
            if marker is None:
                parts.append(writer.open_tag(child))
                if child.tag not in VOID:
                    visit(child)
                    parts.append(f"</{child.tag}>")
                continue
            slot = template.slots[marker.value.strip()]
            before = children[i - 1] if i else None
            sep = before.value if isinstance(before, Text) and not before.value.strip() else ""
            start_tag = None if slot.spec.fill_attributes else writer.open_tag(child, slot, None)
            end_tag = "" if child.tag in VOID else f"</{child.tag}>"
            parts.append(_Hole(child, slot, _esc_text(sep), start_tag, end_tag))

    visit(template.parsed.root)
    merged: list[str | _Hole] = []
    for part in parts:
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] += part
        else:
            merged.append(part)
    return merged


def render(analysis: Analysis, domains: list[str]) -> str:
    """The output re-rendered into its template; raises ValueError if the result would not be well-formed."""
    r = _Renderer(analysis, domains)
    r.template_parts(_plan(analysis))
    rendered = "".join(r.out)
    try:
        etree.fromstring(f"<_>{rendered}</_>", _xml_parser())
    except etree.XMLSyntaxError as exc:
        raise ValueError(f"re-rendered output is not well-formed: {exc}") from exc
    return rendered

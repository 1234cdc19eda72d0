"""Templates: an HTML file whose fillable parts carry `data-slot="name"`, plus per-slot constraints from the rule.

A template is compiled once, at rule load: its file is scanned with the same tokenizer as outputs, and
every problem (unreadable file, malformed markup, a slot configured but not marked, nested or
duplicate slots, script in the template) is an error naming the file, the line and what to do.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from guardrails.checks._html.scan import Element, Parsed, Text, scan
from guardrails.checks._html.urls import DANGEROUS_SCHEMES, URL_ATTRIBUTES, scheme_of
from guardrails.checks.base import read_rule_file
from guardrails.document import Document
from guardrails.errors import OutguardError

MAX_TEMPLATE_BYTES = 200_000
_KEY = "key 'file': "
SLOT_ATTR = "data-slot"
# Fixed patterns; template files and slot specs come from rule files, never from a caller's request.
SLOT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
XML_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
"""Names that are valid in HTML and XML alike: a re-render must parse as both."""
DEFAULT_TAGS = ("p", "br", "strong", "em", "b", "i", "u", "s", "code", "span", "ul", "ol", "li", "a")
NEVER_ALLOWED = frozenset({"script", "style", "iframe", "object", "embed", "frame", "frameset", "applet", "base"})
"""Tags a slot may never allow, whatever the rule says: they run code or change how the page loads."""
DROPPED_WITH_CONTENT = NEVER_ALLOWED | {"noscript", "template", "noembed", "noframes", "head", "title", "link", "meta"}
"""Elements whose content is not readable text: sanitising drops them whole instead of keeping their text."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LinkPolicy(_Strict):
    schemes: list[str] = Field(default=["https", "http", "mailto"], description="URL schemes links may use")
    domains: list[str] = Field(
        default_factory=list, description="Hosts (and their subdomains) http(s) links may point to; empty = any"
    )
    allow_relative: bool = Field(default=True, description="Allow relative URLs (same site)")

    @field_validator("schemes")
    @classmethod
    def _no_dangerous(cls, value: list[str]) -> list[str]:
        bad = sorted({s.lower() for s in value} & {"javascript", "data", "vbscript"})
        if bad:
            raise ValueError(f"scheme(s) {', '.join(bad)} can never be allowed")
        return [s.lower() for s in value]

    @field_validator("domains")
    @classmethod
    def _lower(cls, value: list[str]) -> list[str]:
        return [d.lower().strip(".") for d in value]


class SlotSpec(_Strict):
    required: bool = Field(default=True, description="The output must fill this slot")
    repeated: bool = Field(default=False, description="The slot element may appear several times in a row")
    max_items: int | None = Field(default=None, ge=1, description="For repeated slots: most occurrences allowed")
    text_only: bool = Field(default=False, description="No markup at all inside the slot")
    allowed_tags: list[str] = Field(default=list(DEFAULT_TAGS), description="Tags allowed inside the slot")
    allowed_attributes: dict[str, list[str]] = Field(
        default_factory=lambda: {"a": ["href", "title"]},
        description="Per tag (or '*' for any) the attributes allowed inside the slot",
    )
    fill_attributes: list[str] = Field(
        default_factory=list, description="Attributes of the slot element itself the output supplies (e.g. href)"
    )
    max_chars: int | None = Field(default=None, ge=1, description="Most characters of text inside one occurrence")
    links: LinkPolicy = Field(default_factory=LinkPolicy, description="Which links inside the slot are allowed")
    label: str | None = Field(default=None, description="Heading text that introduces this section when unmarked")

    @field_validator("allowed_tags")
    @classmethod
    def _safe_tags(cls, value: list[str]) -> list[str]:
        tags = [t.lower() for t in value]
        bad = sorted(set(tags) & NEVER_ALLOWED)
        if bad:
            raise ValueError(f"tag(s) {', '.join(bad)} can never be allowed in a slot")
        return tags

    @field_validator("allowed_attributes", "fill_attributes")
    @classmethod
    def _no_handlers(cls, value: dict[str, list[str]] | list[str]) -> dict[str, list[str]] | list[str]:
        names = [a for attrs in value.values() for a in attrs] if isinstance(value, dict) else value
        bad = sorted({a for a in names if a.lower().startswith("on") or a.lower() in {"style", SLOT_ATTR}})
        if bad:
            raise ValueError(f"attribute(s) {', '.join(bad)} can never be allowed (event handlers, style, data-slot)")
        if isinstance(value, dict):
            return {k.lower(): [a.lower() for a in v] for k, v in value.items()}
        return [a.lower() for a in value]


class TemplateSpec(_Strict):
    file: str | None = Field(default=None, description="Template HTML file, relative to the rule file")
    html: str | None = Field(default=None, description="The template HTML inline, instead of a file")
    slots: dict[str, SlotSpec] = Field(default_factory=dict, description="Constraints per slot name")
    description: str = Field(default="", description="What the template is for (documentation only)")

    @model_validator(mode="after")
    def _one_source(self) -> TemplateSpec:
        if (self.file is None) == (self.html is None):
            raise ValueError("give exactly one of 'file' or 'html'")
        return self


@dataclass(eq=False)
class Slot:
    name: str
    spec: SlotSpec
    element: Element
    index: int
    """Position of the slot in template order."""
    tags: frozenset[str] = frozenset()
    attrs: dict[str, frozenset[str]] = field(default_factory=dict)
    schemes: frozenset[str] = frozenset()
    own_attrs: frozenset[str] = frozenset()
    """Attributes the slot element itself may carry: the template's own, the fill attributes and data-slot."""

    def allowed_attr(self, tag: str, name: str) -> bool:
        return name in self.attrs.get(tag, ()) or name in self.attrs.get("*", ())

    @property
    def label(self) -> str:
        return (self.spec.label or self.name.replace("-", " ").replace("_", " ")).casefold().strip()

    def describe(self) -> str:
        s = self.spec
        parts = ["required" if s.required else "optional"]
        if s.repeated:
            parts.append(f"repeated (at most {s.max_items})" if s.max_items else "repeated")
        parts.append("text only" if s.text_only else "tags: " + " ".join(sorted(self.tags)))
        if s.max_chars:
            parts.append(f"at most {s.max_chars} characters")
        return f"{self.name}: " + ", ".join(parts)


@dataclass(eq=False)
class Template:
    name: str
    where: str
    source: str
    parsed: Parsed
    slots: dict[str, Slot]
    skeleton_paths: frozenset[str]
    """Tag paths (e.g. 'article/ul') of template elements outside slots: output markup may repeat them."""
    skeleton_texts: frozenset[str]
    """Normalised text of the template outside slots (labels such as 'Price:')."""
    skeleton_attrs: dict[str, frozenset[str]]
    """Per skeleton tag path, the attribute names the template's elements there carry."""
    key: str
    """Digest of source and constraints: the Document view key of analyses against this template."""

    def excerpt(self, limit: int = 4000) -> str:
        """What a regeneration request carries: the template and its slot constraints."""
        rules = "\n".join("  " + slot.describe() for slot in self.slots.values())
        return f"{self.source.strip()[:limit]}\n<!-- sections (data-slot):\n{rules}\n-->"


class TemplateError(OutguardError, ValueError):
    pass


def normalise_space(text: str) -> str:
    return " ".join(text.split())


def _tag_path(el: Element) -> str:
    parts = []
    node: Element | None = el
    while node is not None and node.parent is not None:
        parts.append(node.tag)
        node = node.parent
    return "/".join(reversed(parts))


def _read(spec: TemplateSpec, resolve: Callable[[str], Path]) -> tuple[str, str]:
    if spec.html is not None:
        return spec.html, "<inline template>"
    assert spec.file is not None
    path = Path(spec.file)
    if not path.is_absolute():
        path = resolve(spec.file)
    try:
        raw = read_rule_file(path, "file", MAX_TEMPLATE_BYTES)  # confined, regular file, size capped
    except ValueError as exc:
        raise TemplateError(f"template file {path}: cannot read: {str(exc).removeprefix(_KEY)}") from exc
    if len(raw) > MAX_TEMPLATE_BYTES:
        raise TemplateError(f"template file {path}: {len(raw)} bytes, over the {MAX_TEMPLATE_BYTES} byte limit")
    try:
        return raw.decode("utf-8"), str(path)
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise TemplateError(f"{path} line {line}: not UTF-8 (byte {exc.start}); save the template as UTF-8") from exc


def compile_template(name: str, spec: TemplateSpec, resolve: Callable[[str], Path]) -> Template:
    """Read, scan and check a template (`resolve` turns a relative file name into a path); every problem is
    reported with file and line."""
    source, where = _read(spec, resolve)
    doc = Document(source)
    problems: list[str] = []

    def at(offset: int, problem: str) -> None:
        problems.append(f"{where} line {doc.line_col(offset)[0]}: {problem}")

    parsed = scan(source)
    if parsed.limit:
        raise TemplateError(f"{where}: template too large: {parsed.limit}")
    for p in parsed.problems:
        at(p.start, f"{p.detail} (fix the template markup)")
    found: dict[str, Element] = {}
    skeleton_paths: set[str] = set()
    skeleton_attrs: dict[str, set[str]] = {}
    skeleton_texts: set[str] = set()
    for el in parsed.root.iter():
        if el.parent is None:
            continue
        if el.tag in NEVER_ALLOWED or el.tag == "style":
            at(el.start, f"<{el.tag}> is not allowed in a template")
        names = [a.name for a in el.attrs]
        if len(names) != len(set(names)):
            at(el.start, f"<{el.tag}> repeats an attribute")
        if not XML_NAME.match(el.tag):
            at(el.start, f"tag name {el.tag!r} is not a plain name (letters, digits, '-', '_', '.')")
        for attr in el.attrs:
            if attr.name.startswith("on"):
                at(attr.start, f"event-handler attribute {attr.name!r} is not allowed in a template")
            elif not XML_NAME.match(attr.name):
                at(attr.start, f"attribute name {attr.name!r} is not a plain name (letters, digits, '-', '_', '.')")
            elif attr.name in URL_ATTRIBUTES and scheme_of(attr.raw or "") in DANGEROUS_SCHEMES:
                at(attr.start, f"{scheme_of(attr.raw or '')}: URL in a template")
        slot_attr = el.attr(SLOT_ATTR)
        inside = _slot_ancestor(el)
        if slot_attr is None:
            if inside is None:
                path = _tag_path(el)
                skeleton_paths.add(path)
                skeleton_attrs.setdefault(path, set()).update(a.name for a in el.attrs)
            continue
        slot_name = slot_attr.value.strip()
        if not SLOT_NAME.match(slot_name):
            at(el.start, f"slot name {slot_name!r} must be lower-case letters, digits, '-' or '_'")
        elif inside is not None:
            at(el.start, f"slot {slot_name!r} is nested inside slot {inside.attr(SLOT_ATTR).value!r}")  # type: ignore[union-attr]
        elif slot_name in found:
            at(
                el.start,
                f"slot {slot_name!r} is marked twice (first on line {doc.line_col(found[slot_name].start)[0]})",
            )
        else:
            found[slot_name] = el
            if any(isinstance(c, Element) for c in el.children):
                at(el.start, f"slot {slot_name!r} must be empty in the template (it is filled by the output)")
    _collect_texts(parsed.root, skeleton_texts)
    if not found and not problems:
        problems.append(f'{where}: no element carries {SLOT_ATTR}="..."; mark the fillable parts')
    for slot_name in spec.slots:
        if slot_name not in found:
            problems.append(
                f"{where}: slot {slot_name!r} is configured in the rule but no element has {SLOT_ATTR}={slot_name!r}"
            )
    if problems:
        raise TemplateError("; ".join(problems[:10]))
    slots = {}
    for index, (slot_name, el) in enumerate(found.items()):
        s = spec.slots.get(slot_name, SlotSpec())
        slots[slot_name] = Slot(
            slot_name,
            s,
            el,
            index,
            tags=frozenset() if s.text_only else frozenset(s.allowed_tags),
            attrs={k: frozenset(v) for k, v in s.allowed_attributes.items()},
            schemes=frozenset(s.links.schemes),
            own_attrs=frozenset({a.name for a in el.attrs} | set(s.fill_attributes)),
        )
    key = hashlib.blake2b(f"{name}\x1f{source}\x1f{spec.model_dump_json()}".encode(), digest_size=8).hexdigest()
    return Template(
        name,
        where,
        source,
        parsed,
        slots,
        frozenset(skeleton_paths),
        frozenset(skeleton_texts),
        {k: frozenset(v) for k, v in skeleton_attrs.items()},
        key,
    )


def _slot_ancestor(el: Element) -> Element | None:
    node = el.parent
    while node is not None:
        if node.attr(SLOT_ATTR) is not None:
            return node
        node = node.parent
    return None


def _collect_texts(el: Element, out: set[str]) -> None:
    for child in el.children:
        if isinstance(child, Text):
            text = normalise_space(child.value)
            if text:
                out.add(text)
        elif child.attr(SLOT_ATTR) is None:
            _collect_texts(child, out)

"""`html_template`: does an HTML output fit the template the caller named, and is it safe to show?

The caller names a template per call (`Context.template`, else the rule's `default_template`); with no
template the check stays silent, so plain-text outputs are never judged as HTML. Templates are HTML
files whose fillable parts carry `data-slot="name"`, with per-slot constraints in the rule's params.

The output is scanned once per validation (a shared `Document` view) and compared with the template
once; every rule backed by this check reports the issue kinds it lists in `report`. Local problems
(script, event handlers, dangerous URLs, disallowed markup) carry local edits; structural ones are
repaired by the `template-mismatch` issue, whose fix re-renders the output into the template.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator, model_validator

from guardrails.checks._html.analyze import STRUCTURAL, Analysis, Issue, Kind, analyze
from guardrails.checks._html.render import render
from guardrails.checks._html.scan import Limits, Parsed, cut_short, scan
from guardrails.checks._html.template import Template, TemplateError, TemplateSpec, compile_template
from guardrails.checks.base import Check, CheckParams, DeadlineExceeded, Hit, RunContext, resolve_rule_path
from guardrails.context import Context
from guardrails.document import Document
from guardrails.findings import Edit, Evidence, Fix, RegenerationItem


class HtmlTemplateParams(CheckParams):
    templates: dict[str, TemplateSpec] = Field(description="Templates by name: file (or html) and slot constraints")
    report: list[Kind] = Field(min_length=1, description="Issue kinds this rule reports")
    default_template: str | None = Field(default=None, description="Template used when the call names none")
    base_dir: str | None = Field(
        default=None, description="Directory template files are relative to (default: the rule file's directory)"
    )
    max_chars: int = Field(default=1_000_000, ge=1, description="Longer outputs are not parsed (a `limits` issue)")
    max_depth: int = Field(default=64, ge=1, description="Deeper nesting stops the parse (a `limits` issue)")
    max_elements: int = Field(default=20_000, ge=1, description="More elements stop the parse (a `limits` issue)")
    max_hits: int = Field(default=50, ge=1, description="Most findings this rule reports per output")

    @field_validator("report")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))

    @model_validator(mode="after")
    def _default_known(self) -> HtmlTemplateParams:
        if self.default_template is not None and self.default_template not in self.templates:
            raise ValueError(
                f"default_template {self.default_template!r} is not one of the templates: {', '.join(self.templates)}"
            )
        return self


class HtmlTemplateCheck(Check[HtmlTemplateParams]):
    kind = "html_template"

    def __init__(self, params: HtmlTemplateParams) -> None:
        super().__init__(params)
        self.report = frozenset(params.report)
        self.limits = Limits(params.max_chars, params.max_depth, params.max_elements)
        base = params.base_dir
        self.templates: dict[str, Template] = {}
        problems = []
        for name, spec in params.templates.items():
            try:
                self.templates[name] = compile_template(
                    name, spec, lambda f: Path(base) / f if base else resolve_rule_path(f)
                )
            except TemplateError as exc:
                problems.append(f"key 'params.templates.{name}': {exc}")
        if problems:
            raise ValueError("; ".join(problems))
        self._scan_key = f"html.scan:{params.max_chars}:{params.max_depth}:{params.max_elements}"

    # -- views shared by every rule of this kind in one validation ------------------------------------------------

    def _parsed(self, doc: Document, ctx: RunContext) -> Parsed:
        def build(d: Document) -> Parsed:
            try:
                return scan(d.text, self.limits, ctx.deadline.check)
            except DeadlineExceeded:
                # Remember the failure, so the other rules sharing this view report it instead of rescanning.
                return cut_short(d.text, "parsing ran past the check's deadline")

        return doc.view(self._scan_key, build)

    def _analysis(self, doc: Document, ctx: RunContext, template: Template) -> Analysis:
        domains = list(ctx.context.allowed_domains)
        key = f"html.analysis:{template.key}:{self._scan_key}:{','.join(domains)}"

        def build(d: Document) -> Analysis:
            parsed = self._parsed(d, ctx)
            try:
                return analyze(d.text, parsed, template, domains, ctx.deadline.check)
            except DeadlineExceeded:
                return analyze(
                    d.text, cut_short(d.text, "checking ran past the check's deadline"), template, [], _no_op
                )

        return doc.view(key, build)

    def _render(self, doc: Document, ctx: RunContext, analysis: Analysis) -> str | ValueError:
        domains = list(ctx.context.allowed_domains)
        key = f"html.render:{analysis.template.key}:{self._scan_key}:{','.join(domains)}"

        def build(_d: Document) -> str | ValueError:
            try:
                return render(analysis, domains)
            except ValueError as exc:
                return exc

        return doc.view(key, build)

    # -- run -------------------------------------------------------------------------------------------------------

    def run(self, doc: Document, ctx: RunContext) -> Iterator[Hit]:
        name = ctx.context.template or self.params.default_template
        if name is None:
            return
        template = self.templates.get(name)
        if template is None:
            if "unknown-template" in self.report:
                known = ", ".join(sorted(self.templates))
                yield Hit(
                    0,
                    len(doc.text),
                    values={"template": name, "known": known, "detail": f"no template {name!r} (known: {known})"},
                    evidence=Evidence(source="html_template", details={"kind": "unknown-template"}),
                )
            return
        analysis = self._analysis(doc, ctx, template)
        count = 0
        for issue in analysis.issues:
            if issue.kind in self.report:
                yield _encodable(self._hit(issue, template), doc)
                count += 1
                if count >= self.params.max_hits:
                    return
        if "template-mismatch" in self.report and analysis.complete:
            hit = self._mismatch(doc, ctx, analysis)
            if hit is not None:
                yield _encodable(hit, doc)

    def _hit(self, issue: Issue, template: Template) -> Hit:
        fix = Fix(title=issue.fix_title or "fix", edits=issue.edits) if issue.edits else None
        values: dict[str, Any] = {"detail": issue.detail, "template": template.name, "slot": issue.slot or ""}
        values.update(issue.values)
        regeneration = None
        if issue.kind == "missing-slot":
            slot = template.slots[str(issue.values["slot"])]
            regeneration = RegenerationItem(
                code="",
                rule_id="",
                message=issue.detail,
                instruction=f"Fill the section marked data-slot={slot.name!r} ({slot.describe()}).",
                excerpt=template.source[slot.element.start : slot.element.end][:200],
            )
        return Hit(
            issue.start,
            issue.end,
            values=values,
            evidence=Evidence(
                source=f"template {template.name} ({template.where})",
                details={"kind": issue.kind, **issue.values},
            ),
            fix=fix,
            path=issue.path,
            regeneration=regeneration,
        )

    def _mismatch(self, doc: Document, ctx: RunContext, analysis: Analysis) -> Hit | None:
        structural = [i for i in analysis.issues if i.kind in STRUCTURAL or i.structural]
        if not structural:
            return None
        rendered = self._render(doc, ctx, analysis)
        text = doc.text
        kinds = sorted({i.kind for i in structural})
        values: dict[str, Any] = {
            "template": analysis.template.name,
            "count": len(structural),
            "kinds": ", ".join(kinds),
            "detail": "; ".join(i.detail for i in structural[:3]),
        }
        if isinstance(rendered, ValueError):
            values["detail"] = str(rendered)
            return Hit(0, len(text), values=values, evidence=Evidence(details={"kind": "template-mismatch"}), path="/")
        if rendered == text:
            return None
        # One edit over the whole output, on purpose: the render already includes every local repair, so it must
        # conflict with (and so never be combined with) any other edit in the same repair round.
        fix = Fix(
            title=f"re-render into template {analysis.template.name!r} from the slot contents",
            edits=[Edit(start=0, end=len(text), replacement=rendered)],
        )
        return Hit(
            0,
            len(text),
            values=values,
            evidence=Evidence(
                source=f"template {analysis.template.name} ({analysis.template.where})",
                details={"kind": "template-mismatch", "kinds": kinds},
            ),
            fix=fix,
            path="/",
        )

    def regeneration_extras(self, context: Context | None = None) -> dict[str, Any]:
        name = (context.template if context else None) or self.params.default_template
        template = self.templates.get(name) if name else None
        return {"template": template.excerpt()} if template else {}


# Fixed. Templates and slot constraints come from the rule's params (operator files): a caller only names a
# template, so nothing a caller sends is compiled as a pattern in the HTML checks.
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _no_op() -> None:
    return None


def _escape(value: str) -> str:
    return value.encode("utf-8", "backslashreplace").decode("utf-8") if _SURROGATE.search(value) else value


def _has_surrogates(doc: Document) -> bool:
    # isascii() is O(1) on CPython: 10 MB of ASCII HTML is not searched at all; other text is encoded, which
    # fails exactly on a lone surrogate and is ~20x faster than searching with the surrogate class.
    if doc.text.isascii():
        return False
    try:
        doc.text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _encodable(hit: Hit, doc: Document) -> Hit:
    """Text decoded with surrogateescape holds lone surrogates (even in tag names, hence paths), which cannot
    be UTF-8 encoded for the fingerprint or a JSON report: hand the engine escaped copies. Every value of a hit
    comes from the text or the template (strict UTF-8): a text without surrogates needs no look, once per output."""
    if not doc.view("html.surrogates", _has_surrogates):
        return hit
    matched = doc.text[hit.start : hit.end]
    if _SURROGATE.search(matched):
        hit.fingerprint_key = _escape(matched)
    if hit.path:
        hit.path = _escape(hit.path)
    for key, value in hit.values.items():
        if isinstance(value, str):
            hit.values[key] = _escape(value)
    return hit


CHECK = HtmlTemplateCheck

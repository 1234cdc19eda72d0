"""Streaming as an attacker (or an impatient user) sees it: what is released, when, and what is never shown.

The stream validator must release checked text soon (a guarded stream that shows nothing until the end is
no stream), and must never show text a check could still flag: a URL whose host is still being typed, half
an HTML tag, an element the sanitiser will rewrite.
"""

from __future__ import annotations

from typing import Any

import pytest

from guardrails import Context, Engine
from guardrails.guard import StreamEvent, StreamValidator

SENTENCE = "The quarterly report shows revenue grew by four percent year over year in the north. "


@pytest.fixture(scope="module")
def default() -> Engine:
    return Engine.from_policy("default")


@pytest.fixture(scope="module")
def html() -> Engine:
    return Engine.from_policy("html")


def stream(engine: Engine, text: str, size: int, context: Any = None) -> tuple[list[tuple[int, StreamEvent]], str]:
    """Feed `text` in chunks of `size`; each event with the number of characters received when it came."""
    v = StreamValidator(engine, context)
    events: list[tuple[int, StreamEvent]] = []
    for i in range(0, len(text), size):
        events += [(min(len(text), i + size), e) for e in v.feed(text[i : i + size])]
    events += [(len(text), e) for e in v.finish()]
    return events, v.released


def shown_while_streaming(events: list[tuple[int, StreamEvent]], total: int) -> list[tuple[int, str]]:
    """(characters received, text shown so far) after each text event that came before the stream ended."""
    shown = ""
    out = []
    for received, e in events:
        if e.type == "final":
            break
        if e.type == "text" and e.text:
            shown += e.text
            if received < total:
                out.append((received, shown))
        elif e.type == "retract":
            shown = shown[: e.offset or 0]
    return out


def test_default_policy_releases_clean_prose_within_a_few_hundred_characters(default: Engine) -> None:
    text = SENTENCE * 25  # ~2,100 characters, nothing to flag
    events, released = stream(default, text, 4)
    shown = shown_while_streaming(events, len(text))
    assert shown, "nothing was released before the stream ended"
    # Every character is released at most ~370 characters after it arrived: under `default` the statistic rules
    # settle 120 characters before the sentence being written (~85 characters here), a scan waits for 64 settled
    # characters and is spread over at most 16 chunks.
    lag = max(received - len(s) for received, s in shown)
    assert lag <= 370, lag
    assert shown[0][0] <= 370
    assert released == text
    assert not any(e.type == "retract" for _, e in events)


def test_a_statistic_is_not_settled_before_the_rest_of_its_sentence_can_name_the_source(default: Engine) -> None:
    # unsourced-statistic clears "Studies show ..." when the same sentence names a source within 160 characters;
    # with a hold-back shorter than that reach, the stream judged the match settled, halted and retracted text
    # the whole answer never flags.
    gap = "that customers who read the whole onboarding guide before their first purchase tend to stay with the "
    gap += "service for longer than those who skip it entirely"  # 151 characters, under the rule's 160
    text = SENTENCE * 3 + "Studies show " + gap + " (Smith, Jones, Brown, Green, White and Black, eds., Oxford 2020). "
    text += SENTENCE * 3
    assert "unsourced-statistic" not in {f.rule_id for f in default.validate(text).findings}
    for size in (3, 4, 7):
        events, released = stream(default, text, size)
        assert not any(e.type == "retract" for _, e in events)
        assert released == text


def test_a_url_still_being_typed_is_not_released_before_its_host_is_complete(default: Engine) -> None:
    # "https://example.com" is allowed; the same characters continue into a host that is not. Released early,
    # the allowed prefix would be shown and then retracted (or, worse, the link completed off-screen).
    ctx = Context(allowed_domains=["example.com"])
    text = SENTENCE * 4 + "See https://example.com" + ".evil.example.net/" + "a" * 300 + " for details. " + SENTENCE * 4
    events, _ = stream(default, text, 3, ctx)
    link = text.index("https://")
    for _received, shown in shown_while_streaming(events, len(text)):
        assert len(shown) <= link, "part of the link was shown before the whole link was judged"
    final = events[-1][1].report
    assert final is not None and any(f.rule_id == "unlisted-url" for f in final.findings)


def test_html_is_released_only_at_element_boundaries_and_never_retracted(html: Engine) -> None:
    # Top-level pieces: a cut may fall only between two of them.
    pieces = [
        "<p>Revenue grew <b>four</b> percent.</p>",
        '<p class="note">Costs were <em title="a > b">flat</em>.</p>',
        "<!-- a <comment> -->",
        '<ul><li>North</li><li>South <a href="https://example.com/x?a=1&amp;b=2">link</a></li></ul>',
        "<p>Line one<br>line two</p>",
        "<script>if (a < b) { x = '</p>'; }</script>",
        *["<p>Hiring is unchanged.</p>"] * 10,
    ] * 3
    text = "".join(pieces)
    boundaries = {sum(map(len, pieces[:i])) for i in range(len(pieces) + 1)}
    for size in (1, 3, 7):
        events, _ = stream(html, text, size)
        shown = shown_while_streaming(events, len(text))
        assert shown, "no HTML was released before the stream ended"
        for _received, s in shown:
            assert len(s) in boundaries, f"released mid-element or mid-tag: ...{s[-40:]!r}"
        assert not any(e.type == "retract" for _, e in events), [e for _, e in events if e.type == "retract"]
        final = events[-1][1].report
        assert final is not None
        assert shown[-1][1] == final.output[: len(shown[-1][1])]


def test_html_in_a_template_is_never_shown_before_the_template_checks_judged_it(html: Engine) -> None:
    # A template answer is one top-level element: nothing is shown until it closes and the whole policy (the
    # sanitiser dropping the handler, the template checks) has judged it.
    text = (
        '<section class="support-answer"><h3>Answer</h3><div class="summary" data-slot="summary">'
        '<p onclick="steal()">Restart the router.</p></div><h4>Steps</h4><ol class="steps">'
        '<li data-slot="step">Unplug it.</li><li data-slot="step">Wait ten seconds.</li></ol>'
        '<h4>Related articles</h4><ul class="related"><li data-slot="related">Wi-Fi</li></ul></section>'
    )
    events, released = stream(html, text, 5, Context(template="support-answer"))
    assert shown_while_streaming(events, len(text)) == []
    final = events[-1][1].report
    assert final is not None and "onclick" not in final.output
    assert "onclick" not in released

"""The text layer's properties, for every built-in profile: offsets map back, views are idempotent, and a
span found in a view covers, in the original, every character that produced it."""

from __future__ import annotations

import itertools

from hypothesis import example, given, settings
from hypothesis import strategies as st

from guardrails.text import EVASION, FACTS, FOLD, PII, SKELETON, TOXICITY, Profile, normalize, sources

PROFILES = [FOLD, EVASION, TOXICITY, PII, FACTS, SKELETON]
# Letters, digits and leet characters, separators, and every kind of character some profile rewrites:
# zero-width and direction marks, combining accents, look-alikes, fullwidth forms, ligatures, curly quotes.
ALPHABET = (
    "abcsuhkiIoO013457@$ .-_*\n\t"
    + "\u200b\u200d\u202e\u00ad\u0301\u0308"
    + "\u0430\u0435\u043e\u0456\u0391\u03bf"
    + "\uff21\uff41\ufb01\u2019\u00a0\u00df\u0130\u00e9\u2126\u210c"
)
texts = st.text(alphabet=ALPHABET, max_size=40)
profiles = st.sampled_from(PROFILES)


@settings(max_examples=400, deadline=None)
@given(texts, profiles)
@example("x Ca\u200bfe\u0301 y", FOLD)
@example("f u c k", EVASION)
def test_every_view_character_maps_into_the_original_in_order(text: str, profile: Profile) -> None:
    view = normalize(text, profile)
    assert view.original == text
    src = sources(view)
    assert len(src) == len(view.text) + 1 and src[-1] == len(text)
    assert all(0 <= a <= b <= len(text) for a, b in itertools.pairwise(src))  # monotonic, in bounds
    for i in range(len(view.text)):
        s, e = view.span(i, i + 1)
        assert 0 <= s < e <= len(text)


@settings(max_examples=400, deadline=None)
@given(texts, profiles)
@example("\u210c", FOLD)
def test_views_are_idempotent(text: str, profile: Profile) -> None:
    once = normalize(text, profile).text
    assert normalize(once, profile).text == once


@settings(max_examples=400, deadline=None)
@given(texts, profiles, st.data())
def test_a_span_covers_every_character_that_produced_it(text: str, profile: Profile, data: st.DataObject) -> None:
    view = normalize(text, profile)
    if not view.text:
        return
    i = data.draw(st.integers(0, len(view.text) - 1))
    j = data.draw(st.integers(i + 1, len(view.text)))
    s, e = view.span(i, j)
    for k in range(i, j):
        ks, ke = view.span(k, k + 1)
        assert s <= ks and ke <= e
    # Nothing before the first producing character or after the last one but what the view dropped.
    assert s == view.span(i, i + 1)[0]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="abc XYZ.,-019\n", max_size=60))
def test_plain_ascii_keeps_its_offsets_under_every_profile(text: str) -> None:
    for profile in (FOLD, TOXICITY, PII, FACTS):
        view = normalize(text, profile)
        if len(view.text) == len(text):
            assert all(view.span(i, i + 1) == (i, i + 1) for i in range(len(text)))


def test_each_profile_undoes_what_it_names() -> None:
    hidden = "\uff33h\u200b\u0456\u0074 and s.h.1.t"  # fullwidth S, zero-width, Cyrillic i; dotted leet
    assert normalize(hidden, FOLD).text == "sh\u0456t and s.h.1.t"
    assert normalize(hidden, EVASION).text == "shit and shit"
    assert normalize(hidden, TOXICITY).text == "Shit and shit"
    assert normalize(hidden, PII).text == "Shit and s.h.1.t"
    assert normalize("CAFÉ\u200b", FACTS).text == "cafe\u200b"
    assert normalize("C A N-4 R Y", SKELETON).text == "canary"


def test_a_russian_word_stays_russian_and_a_spoofed_one_does_not() -> None:
    assert normalize("\u041c\u043e\u0441\u043a\u0432\u0430 \u0436\u0434\u0451\u0442", EVASION).text.startswith(
        "\u043c\u043e\u0441\u043a\u0432\u0430"
    )
    assert normalize("pay \u0440\u0430\u0443\u0440\u0430l now", EVASION).text == "pay paypal now"

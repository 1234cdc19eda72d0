"""The multilingual obscenity pack (OBS001-OBS007): evasions caught per language, Scunthorpe words left alone."""

from __future__ import annotations

from functools import cache

import pytest

from guardrails import Engine, Policy, load_ruleset
from guardrails.rules.compile import compile_policy

CODES = {"en": "OBS001", "fr": "OBS002", "de": "OBS003", "es": "OBS004", "it": "OBS005", "pt": "OBS006", "nl": "OBS007"}

# Innocent words that hold a listed term inside them, or are listed terms' innocent homographs in a neighbour
# language: whole-word matching and the curated lists must let them pass, through the evasion profile too.
SCUNTHORPE = {
    "en": "Scunthorpe, assassin, Essex, cockpit, cocktail, shiitake, Sussex, analysis, therapist, grapefruit",
    "fr": "culture, réputation, disputer, calculer, cumul, bordelais, connaissance, Scunthorpe",
    "de": "Barsch, Marsch, Schlampigkeit, Arschenal, Fickert, Hurrikan, Bitte schön",
    "es": "vehículo, computadora, disputa, película, cálculo, con permiso, Asesinato en el Orient Express",
    "it": "significa, scoperta, calcolo, la guerra di Troia, piselli, computer, cazzuola",
    "pt": "computador, reputação, escudo, disputa, pau-brasil, Cu (cobre), comer um bolo",
    "nl": "hoera, Nijmegen, kontrasten, een pot thee, de muts, mijn nicht, Scunthorpe",
}
# One term per language, and the evasions the pack claims to undo.
TERMS = {"en": "bullshit", "fr": "connard", "de": "arschloch", "es": "gilipollas", "it": "stronzo", "pt": "merda",
         "nl": "klootzak"}  # fmt: skip
EVASIONS = {
    "upper": str.upper,
    "zero-width": "\u200b".join,
    "spaced": " ".join,
    "dotted": ".".join,
    "leet": lambda s: s.translate(str.maketrans("aeos", "4305")),
    "cyrillic": lambda s: s.translate(str.maketrans("aeoc", "\u0430\u0435\u043e\u0441")),
    "fullwidth": lambda s: "".join(chr(ord(c) + 0xFEE0) for c in s),
}


@cache
def engine(lang: str) -> Engine:
    policy = Policy(name="obscenity-test", rules=[CODES[lang]], include_preview=True)
    return Engine(compile_policy(policy, load_ruleset(), "<test>"))


@pytest.mark.parametrize("lang", sorted(CODES))
def test_scunthorpe_words_pass(lang: str) -> None:
    report = engine(lang).validate(f"Here: {SCUNTHORPE[lang]}.")
    assert [(f.code, report.original[f.span.start : f.span.end]) for f in report.findings] == []


@pytest.mark.parametrize("evasion", sorted(EVASIONS))
@pytest.mark.parametrize("lang", sorted(CODES))
def test_each_language_sees_through_each_evasion(lang: str, evasion: str) -> None:
    hidden = EVASIONS[evasion](TERMS[lang])
    text = f"Well, {hidden}! That is all."
    report = engine(lang).validate(text)
    spans = [(f.span.start, f.span.end) for f in report.findings if f.code == CODES[lang]]
    assert spans == [(6, 6 + len(hidden))]
    # The mask repair removes every letter of the hidden term, whatever it was disguised as.
    assert report.output is not None
    assert report.output.startswith("Well, ") and report.output.endswith("! That is all.")
    masked = report.output[6 : -len("! That is all.")]
    assert not any(c.isalnum() for c in masked), masked


def test_the_list_files_cite_their_source_and_license() -> None:
    from pathlib import Path

    lists = Path(__file__).resolve().parents[2] / "rules" / "lists"
    for lang in CODES:
        head = (lists / f"obscenity-{lang}.txt").read_text(encoding="utf-8")[:1200]
        assert "LDNOOBW" in head and "CC BY 4.0" in head and "naughty-words 1.2.0" in head and "Changes:" in head

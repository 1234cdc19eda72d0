"""The public check API (`guardrails.checks`): a check written against it alone works from a policy, its
params are typed and inferred from `Check[P]`, and a hit's fingerprint depends on its key and anchor only."""

from __future__ import annotations

import sys
import textwrap
import types
from collections.abc import Iterator
from pathlib import Path
from typing import get_args, get_origin

import pytest
from pydantic import Field

import guardrails.checks as api
from guardrails import Context, Engine
from guardrails.checks import Check, CheckParams, Document, Evidence, Hit, RunContext
from guardrails.checks.base import check_class, iter_hits
from guardrails.findings import fingerprint
from guardrails.rules.errors import RuleError


class _Params(CheckParams):
    word: str = Field(description="The word to flag")
    anchor_path: str | None = Field(default=None, description="An element path to anchor hits at")
    key: str | None = Field(default=None, description="A fingerprint key instead of the matched text")


class WordCheck(Check[_Params]):
    kind = "word_check"

    def run(self, doc: Document, ctx: RunContext) -> Iterator[Hit]:
        at = doc.text.find(self.params.word)
        while at >= 0:
            ctx.deadline.check()
            end = at + len(self.params.word)
            values: dict[str, api.TemplateValue] = {"word": self.params.word, "at": at}
            yield Hit(at, end, values=values, path=self.params.anchor_path, fingerprint_key=self.params.key)
            at = doc.text.find(self.params.word, end)


@pytest.fixture
def plugin_module(monkeypatch: pytest.MonkeyPatch) -> str:
    """This module's checks under an importable name, as a user's own package would be."""
    module = types.ModuleType("my_checks")
    module.WordCheck = WordCheck  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "my_checks", module)
    return "my_checks:WordCheck"


def _engine(tmp_path: Path, kind: str, params: str) -> Engine:
    rules = tmp_path / "rules"
    (rules / "policies").mkdir(parents=True)
    pack = f"""\
        pack: mine
        rules:
          - id: bad-word
            code: MYW001
            check: "{kind}"
            params: {params}
            message: "{{word}} at {{at}}"
        """
    (rules / "mine.yaml").write_text(textwrap.dedent(pack), encoding="utf-8")
    (rules / "policies" / "p.yaml").write_text('name: p\nversion: "1"\nrules: ["pack:mine"]\n', encoding="utf-8")
    return Engine.from_policy(str(rules / "policies" / "p.yaml"), rules_dirs=[rules])


def test_public_names_are_exported() -> None:
    for name in api.__all__:
        assert getattr(api, name) is not None
    assert {"Check", "CheckParams", "Hit", "Document", "RunContext", "Deadline"} <= set(api.__all__)


def test_params_model_is_inferred_from_the_type_argument() -> None:
    assert WordCheck.Params is _Params
    check = WordCheck(_Params(word="x"))
    assert check.params.word == "x"


def test_an_explicit_params_attribute_still_wins() -> None:
    class Other(CheckParams):
        n: int = 1

    class Explicit(Check[_Params]):
        kind = "explicit"
        Params = Other

        def run(self, doc: Document, ctx: RunContext) -> Iterator[Hit]:
            return iter(())

    assert Explicit.Params is Other


def test_every_builtin_check_declares_its_params_through_the_type_argument() -> None:
    from guardrails.checks.base import builtin_kinds

    for kind in builtin_kinds():
        if kind in {"toxicity", "pii"}:
            continue  # heavy imports (torch, presidio): covered by their own tests
        cls = check_class(kind)
        declared = [get_args(b)[0] for b in getattr(cls, "__orig_bases__", ()) if get_origin(b) is Check]
        assert declared == [cls.Params], kind
        assert cls.Params is not CheckParams, kind


def test_a_check_from_the_public_api_works_from_a_policy(tmp_path: Path, plugin_module: str) -> None:
    report = _engine(tmp_path, plugin_module, "{word: spam}").validate("no spam, spam")
    assert [(f.code, f.span.start, f.span.end, f.message) for f in report.findings] == [
        ("MYW001", 3, 7, "spam at 3"),
        ("MYW001", 9, 13, "spam at 9"),
    ]


def test_typo_in_params_of_a_public_api_check_names_the_key(tmp_path: Path, plugin_module: str) -> None:
    with pytest.raises(RuleError, match=r"bad-word.*params\.wrod"):
        _engine(tmp_path, plugin_module, "{wrod: spam}")


def test_fingerprint_uses_key_and_anchor_not_values_or_offsets(tmp_path: Path, plugin_module: str) -> None:
    plain = _engine(tmp_path / "a", plugin_module, "{word: spam}")
    first, second = plain.validate("no spam, spam").findings
    # Same rule and matched text, different offsets and values: one fingerprint (a suppression covers both).
    assert first.fingerprint == second.fingerprint == fingerprint("bad-word", "spam", "")
    keyed = _engine(tmp_path / "b", plugin_module, "{word: spam, key: k1, anchor_path: /p}")
    found = keyed.validate("spam").findings[0]
    assert found.fingerprint == fingerprint("bad-word", "k1", "/p")
    assert found.span.path == "/p"
    assert "fingerprint_text" not in found.evidence.details


def test_hit_anchor_is_the_pointer_else_the_path() -> None:
    assert Hit(0, 1).anchor is None
    assert Hit(0, 1, path="/html/p[1]").anchor == "/html/p[1]"
    assert Hit(0, 1, pointer="/a/0", path="/html").anchor == "/a/0"


def test_canary_fingerprint_names_the_index_not_the_secret() -> None:
    # The migrated canary check: the fingerprint is the canary's index, as before the typed key.
    engine = Engine.from_policy("default")
    report = engine.validate("leak: XK-7781-secret-tok", Context(canaries=["XK-7781-secret-tok"]))
    canary = [f for f in report.findings if f.check == "canary"]
    assert canary and canary[0].fingerprint == fingerprint(canary[0].rule_id, "canary-0", "")


def test_iter_hits_refuses_a_span_outside_the_text() -> None:
    class Liar(Check[CheckParams]):
        kind = "liar"

        def run(self, doc: Document, ctx: RunContext) -> Iterator[Hit]:
            yield Hit(0, len(doc.text) + 1, evidence=Evidence(score=1.0))

    with pytest.raises(ValueError, match="outside text"):
        list(iter_hits(Liar(CheckParams()), Document("abc"), RunContext(Context())))


def test_unknown_kind_lists_the_builtin_ones() -> None:
    with pytest.raises(LookupError, match=r"unknown check kind 'no_such_kind' \(built-in kinds: .*regex"):
        check_class("no_such_kind")

"""The `toxicity` check: detoxify wiring on a tiny checkpoint, the offline default, windows, hostile input."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guardrails import Engine
from guardrails.checks._tox.backends import load_backend
from guardrails.checks._tox.normalize import normalize
from guardrails.checks._tox.units import sentences, units, windows
from guardrails.checks.base import RunContext
from guardrails.checks.toxicity import ToxicityCheck, ToxicityParams
from guardrails.context import Context
from guardrails.document import Document
from guardrails.findings import Verdict
from guardrails.models import ModelFile, ModelNotInstalled, ModelSpec, ModelStore, load_manifests
from guardrails.rules import RuleError, load_ruleset
from guardrails.rules.loader import RuleSet
from tests.models import tiny_detoxify
from tests.models.loopback import serve

ROOT = Path(__file__).resolve().parents[2]
CTX = RunContext(Context())


def pull_tiny(root: Path, name: str, built: Path, digests: dict[str, str]) -> None:
    """Pull the tiny detoxify checkpoint into the store at root under `name`, over loopback HTTP."""
    with serve({n: (built / n).read_bytes() for n in digests}) as srv:
        spec = ModelSpec(
            name=name,
            backend="detoxify",
            labels=["toxicity", "insult", "threat", "sexual_explicit"],
            files=[ModelFile(name=n, url=srv.url(n), sha256=d) for n, d in digests.items()],
        )
        ModelStore(root).pull(spec)


@pytest.fixture(scope="session")
def tiny_build(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    built = tmp_path_factory.mktemp("tiny-detoxify")
    return built, tiny_detoxify.build(built)


@pytest.fixture(scope="session")
def tiny_store(tmp_path_factory: pytest.TempPathFactory, tiny_build: tuple[Path, dict[str, str]]) -> Path:
    """A store holding the tiny detoxify model: needs the toxicity extra, not tox-block."""
    root = tmp_path_factory.mktemp("model-store")
    pull_tiny(root, "tiny-detoxify", *tiny_build)
    return root


@pytest.fixture(scope="session")
def store_dir(tiny_store: Path) -> Path:
    """The tiny store plus the offline default; only tests that use this skip without tox-block (outside CI)."""
    try:
        ModelStore(tiny_store).pull(load_manifests()["toxblock-bilstm"])
    except Exception as exc:  # the offline default needs `pip install --no-deps tox-block==0.1.2`
        if os.environ.get("CI"):
            raise
        pytest.skip(f"offline default model unavailable: {exc}")
    return tiny_store


@pytest.fixture(scope="session")
def unbiased_store(tmp_path_factory: pytest.TempPathFactory, tiny_build: tuple[Path, dict[str, str]]) -> Path:
    """A store where the tiny checkpoint stands in for detoxify-unbiased, so TOX007 loads as bundled."""
    root = tmp_path_factory.mktemp("unbiased-store")
    pull_tiny(root, "detoxify-unbiased", *tiny_build)
    return root


@pytest.fixture
def model_env(store_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("OUTGUARD_MODEL_DIR", str(store_dir))
    return store_dir


def tiny(store_dir: Path, **params: Any) -> ToxicityCheck:
    params.setdefault("thresholds", {"insult": 0.5, "threat": 0.5})
    return ToxicityCheck(ToxicityParams(model="tiny-detoxify", store_dir=str(store_dir), **params))


def default(store_dir: Path, **params: Any) -> ToxicityCheck:
    params.setdefault("thresholds", {"toxicity": 0.54})
    return ToxicityCheck(ToxicityParams(store_dir=str(store_dir), **params))


def hits(check: ToxicityCheck, text: str) -> list[tuple[str, str]]:
    return [(text[h.start : h.end], h.evidence.details["category"]) for h in check.run(Document(text), CTX)]


# -- detoxify wiring (tiny random-init checkpoint trained for a few steps) ----------------------------


def test_tiny_detoxify_checkpoint_loads_through_detoxify_and_points_at_the_sentence(tiny_store: Path) -> None:
    check = tiny(tiny_store)
    assert check.backend.labels[:2] == ("toxicity", "severe_toxicity")  # detoxify's renaming applied
    text = "thanks for the help. you are an idiot. the weather is nice today."
    assert hits(check, text) == [("you are an idiot.", "insult")]
    assert hits(check, "i will kill you") == [("i will kill you", "threat")]
    assert hits(check, "here is the answer. this code works fine.") == []


def test_tiny_detoxify_evidence(tiny_store: Path) -> None:
    text = "thanks for the help. you are stupid"
    (hit,) = tiny(tiny_store).run(Document(text), CTX)
    assert text[hit.start : hit.end] == "you are stupid"
    assert hit.evidence.threshold == 0.5 and hit.evidence.score is not None and hit.evidence.score >= 0.5
    assert hit.evidence.source == "tiny-detoxify (detoxify)"
    assert set(hit.evidence.details["scores"]) >= {"toxicity", "insult", "threat"}
    assert hit.values["category"] == "insult"


def test_long_sentence_is_windowed_not_truncated(tiny_store: Path) -> None:
    check = tiny(tiny_store)
    assert check.backend.max_tokens == tiny_detoxify.MAX_POSITIONS - 2
    filler = "the weather is nice today " * 40  # 200 tokens in one sentence, limit is 30
    text = filler + "you are an idiot"
    found = list(check.run(Document(text), CTX))
    assert found, "the insult at the end of an over-long sentence was not seen"
    assert all(h.evidence.details["window"] for h in found)
    assert all(text[h.start : h.end].endswith("idiot") for h in found)
    assert hits(check, filler) == []


def test_batches_give_the_same_scores(tiny_store: Path) -> None:
    text = " ".join(f"sentence {i} is here. you are stupid." for i in range(7))
    one = tiny(tiny_store, batch_size=1)._score(Document(text), CTX)
    many = tiny(tiny_store, batch_size=64)._score(Document(text), CTX)
    assert [u.start for u in one] == [u.start for u in many]
    for a, b in zip(one, many, strict=True):
        assert a.scores == pytest.approx(b.scores, abs=1e-5)


def test_models_load_once_per_process(tiny_store: Path) -> None:
    a = tiny(tiny_store)
    b = tiny(tiny_store, thresholds={"toxicity": 0.9})
    assert a.backend is b.backend
    model = ModelStore(tiny_store).require("tiny-detoxify")
    assert load_backend(model) is a.backend


def test_scores_are_shared_between_rules_in_one_validation(tiny_store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = tiny(tiny_store), tiny(tiny_store, thresholds={"threat": 0.5})
    calls: list[int] = []
    real = a.backend.score
    monkeypatch.setattr(a.backend, "score", lambda texts: calls.append(len(texts)) or real(texts))
    doc = Document("you are an idiot. i will kill you.")
    list(a.run(doc, CTX))
    list(b.run(doc, CTX))
    assert calls == [2]


def test_torch_threads_are_configurable(tiny_store: Path) -> None:
    import torch

    before = torch.get_num_threads()
    try:
        tiny(tiny_store, torch_threads=2)
        assert torch.get_num_threads() == 2
        tiny(tiny_store)
        assert torch.get_num_threads() == 1  # the default
    finally:
        torch.set_num_threads(before)


# -- the model store at policy load -------------------------------------------------------------------


def test_missing_model_fails_at_load_naming_the_pull_command(tmp_path: Path) -> None:
    with pytest.raises(ModelNotInstalled, match=r"run `guardrails models pull toxblock-bilstm`"):
        ToxicityCheck(ToxicityParams(thresholds={"toxicity": 0.5}, store_dir=str(tmp_path)))


def test_missing_model_fails_policy_load_with_file_and_rule(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OUTGUARD_MODEL_DIR", str(tmp_path / "empty"))
    with pytest.raises(RuleError) as err:
        Engine.from_policy("toxicity")
    text = str(err.value)
    assert "toxicity.yaml" in text and "'toxic-language'" in text
    assert "guardrails models pull toxblock-bilstm" in text


def test_category_the_model_does_not_score_is_a_load_error(store_dir: Path) -> None:
    with pytest.raises(ValueError, match=r"does not score sexual_explicit; it scores toxicity, severe_toxicity"):
        default(store_dir, thresholds={"sexual_explicit": 0.5})


def test_bad_params_are_load_errors(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "mine.yaml").write_text(
        "pack: mine\nrules:\n  - id: rude\n    code: MYT001\n    check: toxicity\n"
        "    params: {thresholds: {toxicity: 1.5}, treshold: 2}\n    message: rude\n"
    )
    with pytest.raises(RuleError) as err:
        Engine.from_policy("default", [rules])
    assert "mine.yaml" in str(err.value) and "treshold" in str(err.value) and "toxicity" in str(err.value)


def test_validation_opens_no_socket(model_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = Engine.from_policy("toxicity")  # loads the model before sockets are forbidden

    def no_socket(*args: object, **kwargs: object) -> None:
        raise AssertionError("a socket was opened during validation")

    monkeypatch.setattr(socket.socket, "connect", no_socket)
    monkeypatch.setattr(socket.socket, "connect_ex", no_socket)
    monkeypatch.setattr(socket, "getaddrinfo", no_socket)
    report = engine.validate("Thanks for asking. You are a complete idiot and nobody wants to hear from you.")
    assert report.verdict is Verdict.REGENERATE and not report.degraded


def test_importing_guardrails_does_not_import_torch() -> None:
    code = (
        "import sys, guardrails, guardrails.models, guardrails.checks.toxicity, guardrails.cli.cmd_models\n"
        "bad = sorted(m for m in ('torch', 'transformers', 'detoxify', 'h5py') if m in sys.modules)\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, timeout=120)


# -- the offline default (tox-block's Jigsaw BiLSTM) --------------------------------------------------


def test_offline_default_flags_the_toxic_sentence_only(store_dir: Path) -> None:
    check = default(store_dir)
    text = "Here is the summary you asked for. You are a complete idiot and nobody wants to hear from you."
    assert hits(check, text) == [("You are a complete idiot and nobody wants to hear from you.", "toxicity")]
    assert hits(check, "Your refund has been processed and should arrive in 3-5 business days.") == []


def test_offline_default_reproduces_the_published_scores(store_dir: Path) -> None:
    # tox-block's README (unrescaled): "I will kill you, you fucking idiot!" is toxic ~0.999 and a threat.
    (unit,) = default(store_dir)._score(Document("I will kill you, you fucking idiot!"), CTX)
    assert unit.scores["toxicity"] > 0.99 and unit.scores["threat"] > 0.5 and unit.scores["obscene"] > 0.9


def test_toxicity_is_not_rewritten_by_default(model_env: Path) -> None:
    text = "Sure, I looked at it. This fucking code is a goddamn mess."
    report = Engine.from_policy("toxicity").validate(text)
    assert report.verdict is Verdict.REGENERATE
    assert report.output == text and not report.edits
    obscene = next(f for f in report.findings if f.code == "TOX003")
    assert obscene.fix is not None and obscene.fix.safe  # offered, not applied
    assert report.regeneration is not None
    assert any("profanity" in r.instruction for r in report.regeneration.reasons)


def test_mask_fix_applies_when_a_policy_asks_for_repair(model_env: Path, tmp_path: Path) -> None:
    policy = tmp_path / "mask.yaml"
    policy.write_text("name: mask\nrules: [TOX003]\ndeadline_ms: 5000\noverrides:\n  TOX003: {action: repair}\n")
    text = "Sure, I looked at it. This fucking code is a goddamn mess."
    report = Engine.from_policy(str(policy)).validate(text)
    assert report.verdict is Verdict.REPAIRED
    assert "fucking" not in report.output and "f******" in report.output
    assert report.output.startswith("Sure, I looked at it. This ")


def test_strict_profile_fails_slight_ratings(store_dir: Path, model_env: Path) -> None:
    text = "I hate Mondays, but the coffee helps."  # toxicity about 0.37: slight
    assert hits(default(store_dir), text) == []
    assert hits(default(store_dir, profile="strict"), text) == [(text, "toxicity")]
    assert Engine.from_policy("toxicity").validate(text).verdict is Verdict.PASS
    assert Engine.from_policy("toxicity-strict").validate(text).verdict is Verdict.BLOCK


def test_rule_pack_examples_pass_with_the_offline_default(model_env: Path) -> None:
    from guardrails.examples import run_examples

    ruleset = load_ruleset()
    tox = [r for r in ruleset.rules.values() if r.pack == "toxicity" and r.rule.examples.needs_model is None]
    assert len(tox) == 6  # TOX007's examples need detoxify-unbiased, which this store lacks
    for loaded in tox:
        count, failures = run_examples(loaded)
        assert count >= 3 and failures == [], failures


# -- hostile input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "disguised",
    [
        "You are a complete i\u200bd\u200bi\u200bo\u200bt.",  # zero-width spaces
        "You are a complete \u0456d\u0456\u043et.",  # Cyrillic i, i, o
        "You are a complete \uff49\uff44\uff49\uff4f\uff54.",  # fullwidth
        "You are a complete i\u00addi\u2060ot.",  # soft hyphen, word joiner
        "You are a complete \u1d62diot.",  # subscript i (NFKC)
        "You are a complete i d i o t.",  # spelled out
        "You are a complete i.d.i.o.t.",
        "You are a complete 1d10t.",  # leetspeak
    ],
)
def test_hidden_insults_are_found_and_located_in_the_original(store_dir: Path, disguised: str) -> None:
    text = "Thanks for the question. " + disguised
    found = list(default(store_dir).run(Document(text), CTX))
    assert [text[h.start : h.end] for h in found] == [disguised]
    assert found[0].evidence.details["normalized"] == "You are a complete idiot."


@pytest.mark.parametrize(
    "disguised",
    [
        "Shut up, you stupid h\u200bo\u200bm\u200bo.",  # zero-width spaces inside the slur
        "Shut up, you stupid \u04bb\u043em\u043e.",  # Cyrillic shha and o
        "Shut up, you stupid h\u2060\u043em\u200d\u043e.",  # word joiner, zero-width joiner and Cyrillic o
        "Shut up, you stupid \uff48\uff4f\uff4d\uff4f.",  # fullwidth
    ],
)
def test_hidden_identity_slur_is_found_and_located_in_the_original(store_dir: Path, disguised: str) -> None:
    check = default(store_dir, thresholds={"toxicity": 0.54, "identity_attack": 0.5})  # TOX001 and TOX006
    # Without the slur the sentence is rude but attacks no identity; the slur is what TOX006 sees.
    assert hits(check, "Shut up, you stupid.") == [("Shut up, you stupid.", "toxicity")]
    text = "Here is my reply. " + disguised
    found = list(check.run(Document(text), CTX))
    assert [(text[h.start : h.end], h.evidence.details["category"]) for h in found] == [
        (disguised, "toxicity"),
        (disguised, "identity_attack"),
    ]
    assert all(h.evidence.details["normalized"] == "Shut up, you stupid homo." for h in found)


def test_mixed_scripts_are_left_alone() -> None:
    russian = "Привет! Спасибо за вопрос."
    assert normalize(russian).text == russian
    assert normalize("Ответ: 42. The answer is 42.").text == "Ответ: 42. The answer is 42."
    assert normalize("p\u0430ypal").text == "paypal"  # one Cyrillic a inside a Latin word
    assert normalize("You \u0430r\u0435 \u0430 \u0440\u0456g.").text == "You are a pig."  # all look-alikes
    assert normalize("日本語のテキスト").text == "日本語のテキスト"


def test_spelling_folds_leave_ordinary_text_alone() -> None:
    for text in ("In 2024 we sold 42 units.", "e.g. this, i.e. that", "Room 101 is on floor 3."):
        assert normalize(text).text == text
    assert normalize("U.S.A. rocks").text == "USA. rocks"
    assert normalize("you b1tch", fold_spelling=False).text == "you b1tch"


def test_very_long_output_is_scored_to_the_end(store_dir: Path) -> None:
    clean = "The quarterly report shows steady growth in all regions. " * 4000  # ~230 KB
    text = clean + "You are a complete idiot."
    found = list(default(store_dir, batch_size=256).run(Document(text), CTX))
    assert [text[h.start : h.end] for h in found] == ["You are a complete idiot."]


def test_one_huge_sentence_without_punctuation_is_windowed(store_dir: Path) -> None:
    text = "word " * 5000 + "you fucking idiot"
    check = default(store_dir)
    units_ = check._score(Document(text), CTX)
    assert len(units_) > 50 and all(u.window for u in units_)
    assert units_[-1].end == len(text)
    assert any(text[h.start : h.end].endswith("idiot") for h in check.run(Document(text), CTX))


@pytest.mark.parametrize("text", ["", "   \n\n", "...!!!", "\ud800 lone surrogate", "\x00\x01\x02", "🙂" * 1000])
def test_malformed_input_does_not_crash(store_dir: Path, text: str) -> None:
    assert list(default(store_dir).run(Document(text), CTX)) == []


def test_deadline_is_honoured(store_dir: Path) -> None:
    from guardrails.checks.base import Deadline, DeadlineExceeded

    text = "The report is fine. " * 5000
    with pytest.raises(DeadlineExceeded):
        list(default(store_dir, batch_size=1).run(Document(text), RunContext(Context(), Deadline(0.01))))


# -- properties ---------------------------------------------------------------------------------------


_texty = st.text(
    alphabet=st.sampled_from([*"ab c.!?10@-\n\u200b\u0430\u043e\uff41\u00e9\u00ad\u0301", "\ufb01"]), max_size=200
)


@given(_texty)
def test_normalized_offsets_map_into_the_original(text: str) -> None:
    norm = normalize(text)
    assert len(norm.source) == len(norm.text) + 1 and norm.source[-1] == len(text)
    assert all(0 <= s < len(text) for s in norm.source[:-1])
    assert norm.source[:-1] == sorted(norm.source[:-1])
    for start, end in sentences(norm.text):
        s, e = norm.span(start, end)
        assert 0 <= s < e <= len(text)


@given(_texty, st.integers(min_value=1, max_value=7))
@settings(suppress_health_check=[HealthCheck.too_slow])
def test_units_cover_every_token_within_the_limit(text: str, limit: int) -> None:
    def tokens(t: str) -> list[tuple[int, int]]:
        import regex

        return [m.span() for m in regex.finditer(r"\S+", t)]

    cut = units(text, tokens, limit, lambda: None)
    for u in cut:
        assert 0 <= u.start < u.end <= len(text)
        assert len(tokens(text[u.start : u.end])) <= limit or not u.window
    covered = {i for u in cut for i in range(u.start, u.end)}
    for start, end in sentences(text):
        for s, e in tokens(text[start:end]):
            assert set(range(start + s, start + e)) <= covered


def test_windows_overlap_by_half() -> None:
    spans = [(i * 2, i * 2 + 1) for i in range(10)]
    assert windows(spans, 4, 100, 200) == [(100, 107), (104, 111), (108, 115), (112, 119)]
    assert windows(spans[:3], 4, 0, 5) == [(0, 5)]


def test_detoxify_models_can_score_sexual_explicit(tiny_store: Path) -> None:
    check = tiny(tiny_store, thresholds={"sexual_explicit": 0.5, "toxicity": 0.99})
    assert "sexual_explicit" in check.backend.labels
    assert set(check.thresholds) == {"sexual_explicit", "toxicity"}
    text = "thanks for the help. i want sex with you. the weather is nice today."
    assert hits(check, text) == [("i want sex with you.", "sexual_explicit")]
    assert hits(check, "you are an idiot. here is the answer.") == []


# -- TOX007 sexual-content: preview, on detoxify-unbiased ----------------------------------------------


def _select(tmp_path: Path, *rules: str) -> str:
    policy = tmp_path / "nsfw.yaml"
    policy.write_text(f"name: nsfw\nrules: [{', '.join(rules)}]\ndeadline_ms: 5000\n")
    return str(policy)


def test_sexual_content_rule_runs_as_bundled_on_a_detoxify_checkpoint(
    unbiased_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The tiny checkpoint is stored under the name TOX007 asks for: the bundled rule's own params load
    # through the store and detoxify's loader, and its finding points at the sentence.
    monkeypatch.setenv("OUTGUARD_MODEL_DIR", str(unbiased_store))
    engine = Engine.from_policy(_select(tmp_path, "sexual-content"))
    text = "thanks for the help. i want sex with you. the weather is nice today."
    report = engine.validate(text)
    assert report.verdict is Verdict.REGENERATE and report.output == text
    (finding,) = report.findings
    assert finding.code == "TOX007" and text[finding.span.start : finding.span.end] == "i want sex with you."
    assert finding.evidence is not None and finding.evidence.source == "detoxify-unbiased (detoxify)"
    assert finding.evidence.details["category"] == "sexual_explicit"
    assert engine.validate("you are naked").verdict is Verdict.REGENERATE
    assert engine.validate("here is the answer. this code works fine.").verdict is Verdict.PASS


def test_sexual_content_rule_without_its_model_fails_at_policy_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OUTGUARD_MODEL_DIR", str(tmp_path / "empty"))
    with pytest.raises(RuleError) as err:
        Engine.from_policy(_select(tmp_path, "TOX007"))
    text = str(err.value)
    assert "toxicity.yaml" in text and "'sexual-content'" in text
    assert "guardrails models pull detoxify-unbiased" in text


def test_sexual_content_is_preview_so_the_toxicity_policies_need_only_the_default(model_env: Path) -> None:
    for name in ("toxicity", "toxicity-strict"):
        codes = {r.rule.code for r in Engine.from_policy(name).rules}
        assert "TOX006" in codes and "TOX007" not in codes


def test_examples_that_need_a_missing_model_are_skipped_with_the_pull_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from guardrails.examples import ExamplesNeedModel, missing_model, run_all_examples, run_examples

    monkeypatch.setenv("OUTGUARD_MODEL_DIR", str(tmp_path / "empty"))
    ruleset = load_ruleset()
    rule = ruleset.rules["sexual-content"]
    assert rule.rule.examples.needs_model == rule.rule.params["model"] == "detoxify-unbiased"
    with pytest.raises(ExamplesNeedModel, match=r"TOX007 sexual-content: .*guardrails models pull detoxify-unbiased"):
        run_examples(rule)
    assert missing_model(ruleset.rules["toxic-language"]) is None  # not marked: a missing model fails its examples
    only_tox7 = RuleSet(rules={"sexual-content": rule})
    skipped: list[str] = []
    assert run_all_examples(only_tox7, skipped) == (0, [])
    assert len(skipped) == 1 and "detoxify-unbiased" in skipped[0]


@pytest.fixture(scope="module")
def default_check(store_dir: Path) -> ToxicityCheck:
    return default(store_dir, thresholds={"toxicity": 0.3, "insult": 0.3, "obscene": 0.3}, mask_fix=True)


_hostile = st.text(
    alphabet=st.sampled_from(
        [*"You are an idiot. fuck stupid \n!?", "\u200b", "\u0456", "\u043e", "\uff49", "\u00ad", "\u0301", "я", "日"]
    ),
    max_size=120,
)


@given(text=_hostile)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_hits_and_fixes_stay_inside_the_text(default_check: ToxicityCheck, text: str) -> None:
    for hit in default_check.run(Document(text), CTX):
        assert 0 <= hit.start < hit.end <= len(text)
        assert text[hit.start : hit.end].strip()
        if hit.fix is not None:
            for edit in hit.fix.edits:
                assert hit.start <= edit.start < edit.end <= hit.end

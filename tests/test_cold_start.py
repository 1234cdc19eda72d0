"""Cold start: what loading a policy imports, in fresh interpreters (an import made once stays for the
whole test session, so each check runs in a subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

HEAVY = (
    "torch",
    "transformers",
    "spacy",
    "thinc",
    "rfc3987_syntax",
    "lark",
    "hyperscan",
    "jsonschema",
    "jsonschema_rs",
    "opentelemetry",
    "cryptography",
    "sqlalchemy",
    "pyarrow",
    "ray",
    "pyspark",
    # tldextract imports requests (and urllib3) only to fetch suffix lists; the PII check reads its snapshot.
    "requests",
    "urllib3",
    # jsonschema's format checkers (arrow, isoduration...) come with jsonschema: covered by it.
)
# What a bundled policy needs while it compiles, so its load may import it:
# - hyperscan: the regex rules' patterns are compiled into one prefilter database (checks/_multiscan.py);
# - jsonschema: a json_schema rule compiles a call's Context.schema within its deadline, so the library is
#   imported when the rule is built (a first call importing it there failed closed on a loaded machine).
NEEDED = {"default": {"hyperscan", "jsonschema"}, "pii": set(), "json": {"jsonschema"}}

# outguard's own layers that a policy load, a validation or `guardrails check` never needs: the Guard and its
# streaming, the results cache, the docs generator, batch and integrations, the review queue, the facts
# store, the sidecar, the progress bars (rich) and the plugins' entry-point scan (importlib.metadata is
# imported by pydantic anyway; only the scan costs).
LAYERS = (
    "guardrails.guard",
    "guardrails.results_cache",
    "guardrails.docs",
    "guardrails.batch",
    "guardrails.integrations",
    "guardrails.reviews",
    "guardrails.facts.store",
    "guardrails.models",
    "guardrails.telemetry.guard",
    "service",
    "rich",
    "fastapi",
    "starlette",
    "httpx",
    "uvicorn",
)


def run_python(code: str, *, timeout: float = 240, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize("policy", sorted(NEEDED))
def test_policy_load_and_validation_import_nothing_heavy(policy: str) -> None:
    pytest.importorskip("presidio_analyzer")
    out = run_python(
        f"""
        import json, sys
        from guardrails import Engine
        report = Engine.from_policy({policy!r}).validate(
            'Mail john.smith@example.com, call +1 212 555 0199, card 4111 1111 1111 1111. {{"a": 1}}'
        )
        print(json.dumps({{"heavy": sorted(m for m in {HEAVY + LAYERS!r} if m in sys.modules),
                           "codes": [f.code for f in report.findings]}}))
        """
    )
    result = json.loads(out)
    assert set(result["heavy"]) <= NEEDED[policy], result["heavy"]
    if policy != "json":
        assert {"PII001", "PII002"} <= set(result["codes"])  # the PII check ran, with its recognizers
    assert not [c for c in result["codes"] if c.startswith("ENG")]


def test_import_guardrails_and_its_optional_layers_import_nothing_heavy() -> None:
    """`import guardrails` (what every CLI command, serverless function and worker pays) and the packages the
    engine or the sidecar import on every start load none of the heavy or optional libraries."""
    out = run_python(
        f"""
        import json, sys
        import guardrails, guardrails.telemetry, guardrails.results_cache, guardrails.checks._json.salvage
        from guardrails import Engine, Guard
        print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))
        """
    )
    assert json.loads(out) == []


def test_import_guardrails_alone_imports_no_submodule() -> None:
    """Every submodule import (`guardrails.cli`, `guardrails.engine`, a worker's unpickling) runs the package's
    `__init__` first: its public names load on first access, so the Guard layers are paid only by their users."""
    out = run_python(
        f"""
        import json, sys
        import guardrails
        bare = sorted(m for m in sys.modules if m.startswith("guardrails.") or m == "pydantic")
        from guardrails import Engine, Report
        layers = sorted(m for m in {LAYERS!r} if m in sys.modules)
        from guardrails import Guard
        print(json.dumps({{"bare": bare, "layers": layers, "guard": Guard.__module__,
                           "all": sorted(n for n in guardrails.__all__ if not hasattr(guardrails, n))}}))
        """
    )
    assert json.loads(out) == {"bare": [], "layers": [], "guard": "guardrails.guard.guard", "all": []}


def test_check_command_imports_no_optional_layer(tmp_path: Path) -> None:
    """`guardrails check FILE` (the CLI registers every command: each must import its heavy parts when run)."""
    pytest.importorskip("presidio_analyzer")
    sample = tmp_path / "out.txt"
    sample.write_text("Write to john.smith@example.com or call +1 212 555 0199. " * 30, encoding="utf-8")
    out = run_python(
        f"""
        import contextlib, io, json, sys
        from guardrails.cli.main import main
        with contextlib.redirect_stdout(io.StringIO()):
            code = main(["check", {str(sample)!r}])
        print(json.dumps({{"code": code, "loaded": sorted(m for m in {HEAVY + LAYERS!r} if m in sys.modules)}}))
        """
    )
    result = json.loads(out)
    assert result["code"] in (0, 1)  # passed, repaired or action needed: not a usage error
    assert set(result["loaded"]) <= NEEDED["default"], result["loaded"]


def test_schema_repair_still_validates_after_lazy_import() -> None:
    """Schema-guided repair imports jsonschema on its first schema, with the IRI formats still deferred."""
    out = run_python(
        """
        import json, sys
        from guardrails.checks._json.salvage import schema_accepts
        ok = schema_accepts({"type": "object", "required": ["a"], "properties": {"a": {"type": "integer"}}})
        print(json.dumps({"good": ok({"a": 1}), "bad": ok({"a": "x"}), "grammar": "lark" in sys.modules}))
        """
    )
    assert json.loads(out) == {"good": True, "bad": False, "grammar": False}


def test_slim_recognizers_equal_presidio_registry() -> None:
    """The recognizers built without presidio's registry module are the registry's own, language by language."""
    pytest.importorskip("presidio_analyzer")
    out = run_python(
        """
        import json, logging
        import regex
        from guardrails.checks._pii.slim import predefined_recognizers

        def describe(recs):
            return sorted(
                [type(r).__module__, type(r).__qualname__, r.name, r.supported_language, list(r.supported_entities),
                 list(r.context or []), getattr(r, "global_regex_flags", None),
                 [(p.name, p.regex, p.score) for p in (getattr(r, "patterns", None) or [])]]
                for r in recs
            )

        flags = regex.DOTALL | regex.MULTILINE | regex.IGNORECASE
        langs = ["en", "es", "de", "it", "pl", "fr", "ko", "fi"]
        slim = {lang: describe(predefined_recognizers(lang, flags)) for lang in langs}
        logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
        from presidio_analyzer import RecognizerRegistry
        from presidio_analyzer.nlp_engine import NlpEngineProvider

        full = {}
        for lang in langs:
            conf = {"nlp_engine_name": "no_op", "models": [{"lang_code": lang, "model_name": "no_op"}]}
            registry = RecognizerRegistry(supported_languages=[lang])
            registry.load_predefined_recognizers(
                languages=[lang], nlp_engine=NlpEngineProvider(nlp_configuration=conf).create_engine()
            )
            full[lang] = describe(registry.recognizers)
        print(json.dumps({"same": slim == full, "sizes": {k: len(v) for k, v in full.items()}}))
        """
    )
    result = json.loads(out)
    assert result["same"], result
    assert result["sizes"]["en"] > 10


def test_presidio_stays_whole_for_other_users() -> None:
    """After the stand-ins, presidio's full API (what the NER tier or a caller imports) still works."""
    pytest.importorskip("presidio_analyzer")
    out = run_python(
        """
        import json, sys
        from guardrails.checks._pii import slim
        slim.install()
        light = "spacy" not in sys.modules and "transformers" not in sys.modules
        from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
        from presidio_analyzer.nlp_engine import NlpArtifacts, NlpEngineProvider
        from presidio_analyzer.predefined_recognizers import SpacyRecognizer
        conf = {"nlp_engine_name": "no_op", "models": [{"lang_code": "en", "model_name": "no_op"}]}
        engine = AnalyzerEngine(nlp_engine=NlpEngineProvider(nlp_configuration=conf).create_engine())
        found = engine.analyze("write to john.smith@example.com", language="en")
        print(json.dumps({"light": light, "entities": [r.entity_type for r in found],
                          "artifacts": NlpArtifacts.__module__, "spacy_rec": SpacyRecognizer.__name__}))
        """
    )
    result = json.loads(out)
    assert result["light"]
    assert "EMAIL_ADDRESS" in result["entities"]
    assert result["artifacts"] == "presidio_analyzer.nlp_engine.nlp_artifacts"
    assert result["spacy_rec"] == "SpacyRecognizer"


def test_iri_formats_load_on_first_use() -> None:
    pytest.importorskip("rfc3987_syntax")
    out = run_python(
        """
        import json, sys
        from guardrails.checks._json.formats import defer_iri_formats
        defer_iri_formats()
        import jsonschema
        before = "rfc3987_syntax" in sys.modules
        v = jsonschema.Draft202012Validator({"format": "iri"}, format_checker=jsonschema.FormatChecker())
        print(json.dumps({"before": before, "good": v.is_valid("http://example.org/é"),
                          "bad": v.is_valid("http://exa mple.org/"), "after": "rfc3987_syntax" in sys.modules}))
        """
    )
    assert json.loads(out) == {"before": False, "good": True, "bad": False, "after": True}


def test_stop_words_read_without_spacy() -> None:
    pytest.importorskip("spacy")
    out = run_python(
        """
        import json, sys
        from guardrails.checks._pii.context import stop_words
        mine = {lang: sorted(stop_words(lang)) for lang in ("en", "de", "es", "lt")}
        light = "spacy" not in sys.modules
        import importlib
        theirs = {lang: sorted(importlib.import_module(f"spacy.lang.{lang}.stop_words").STOP_WORDS) for lang in mine}
        bad = sorted(stop_words("../x"))
        print(json.dumps({"light": light, "same": mine == theirs, "en": len(mine["en"]), "bad": bad}))
        """
    )
    assert json.loads(out) == {"light": True, "same": True, "en": 326, "bad": []}


def test_presidio_patterns_compiled_once_and_a_callers_still_validated() -> None:
    """Building presidio's own recognizers skips Pattern's throwaway validation compile (the PII driver
    compiles each pattern with the recognizer's flags); a Pattern built afterwards is validated as before."""
    pytest.importorskip("presidio_analyzer")
    out = run_python(
        """
        import json, sys
        import regex
        from guardrails.checks._pii import slim
        real = regex.compile
        calls = []
        def counting(pattern, *args, **kwargs):
            if sys._getframe(1).f_code.co_name == "__validate_regex":  # presidio's Pattern.__init__
                calls.append(pattern)
            return real(pattern, *args, **kwargs)
        regex.compile = counting  # presidio's pattern module calls `re.compile` on `import regex as re`
        recs = slim.predefined_recognizers("en", regex.DOTALL | regex.MULTILINE | regex.IGNORECASE)
        built = sum(len(getattr(r, "patterns", None) or []) for r in recs)
        during = len(calls)
        try:
            from presidio_analyzer.pattern import Pattern
            Pattern("bad", "(unclosed", 0.5)
            refused = False
        except ValueError:
            refused = True
        print(json.dumps({"built": built, "validation_compiles": during, "bad_refused": refused}))
        """
    )
    result = json.loads(out)
    assert result["built"] > 20
    assert result["validation_compiles"] == 0
    assert result["bad_refused"]


def test_schema_library_is_ready_before_the_first_call_with_a_schema() -> None:
    """A json_schema rule compiles a call's Context.schema under its deadline: the library is imported at load,
    so a first call is not the one that pays for it (on a loaded machine that call failed closed, ENG002)."""
    out = run_python(
        """
        import json, sys
        from guardrails import Engine
        engine = Engine.from_policy("json")
        loaded = "jsonschema" in sys.modules
        schema = {"type": "object", "properties": {"age": {"type": "integer"}}}
        report = engine.validate('{"age": "42"}', {"schema": schema})
        print(json.dumps({"loaded": loaded, "codes": sorted({f.code for f in report.findings})}))
        """
    )
    result = json.loads(out)
    assert result["loaded"]
    assert "JSON030" in result["codes"] and not [c for c in result["codes"] if c.startswith("ENG")]


def test_serve_demo_compiles_each_policy_once(tmp_path: Path) -> None:
    """`guardrails serve --demo` seeds its queue from the engines the sidecar serves: it compiled the demo
    policies a second time before uvicorn listened (~0.4 s CPU of its start)."""
    out = run_python(
        f"""
        import collections, json, sys
        import uvicorn
        from guardrails import engine
        from service import serve
        from service.demo import demo_config  # noqa: F401
        compiled = collections.Counter()
        original = engine.Engine.from_policy.__func__
        def counting(cls, name, *args, **kwargs):
            compiled[name] += 1
            return original(cls, name, *args, **kwargs)
        engine.Engine.from_policy = classmethod(counting)
        served = {{}}
        def run(app, **_kwargs):  # what uvicorn would do: the lifespan, then serving once ready
            from fastapi.testclient import TestClient
            with TestClient(app):
                served["ready"] = app.state.outguard.ready.wait(120)
        uvicorn.run = run
        from guardrails.cli.main import build_parser
        ns = build_parser().parse_args(["serve", "--demo", "--data-dir", {str(tmp_path)!r}, "--port", "0"])
        assert serve.main(ns) == 0
        print(json.dumps({{"compiled": compiled, "ready": served["ready"]}}))
        """
    )
    result = json.loads(out)
    assert result["ready"] is True
    assert result["compiled"] and all(n == 1 for n in result["compiled"].values()), result["compiled"]


@pytest.mark.parametrize("policy", ["default", "hallucination"])
def test_a_warm_start_parses_no_regex_pattern_again(policy: str, tmp_path: Path) -> None:
    """The `regex` module parses a pattern in Python (~95% of its compile); a second process compiling the same
    policy builds its patterns from the arguments kept on disk (guardrails/rules/patterns.py)."""
    code = f"""
        import json, regex._main as m
        parsed = []
        source = m._Source
        class Counting(source):
            def __init__(self, pattern):
                parsed.append(pattern)
                super().__init__(pattern)
        m._Source = Counting
        import re._parser as sre_parse, sys
        long_parsed = []
        parse = sre_parse.parse
        def counting_parse(pattern, *args, **kwargs):
            frame, callers = sys._getframe(1), []
            while frame is not None and len(callers) < 4:
                callers.append(frame.f_code.co_filename)
                frame = frame.f_back
            if len(pattern) > 300 and any(c.endswith(("_pii/phones.py", "_pii/driver.py")) for c in callers):
                long_parsed.append(pattern)  # phonenumbers' validity patterns, presidio's required literals
            return parse(pattern, *args, **kwargs)
        sre_parse.parse = counting_parse
        from guardrails import Engine
        engine = Engine.from_policy({policy!r})
        report = engine.validate("Contact me at jane@example.com, https://example.com/x or +1 212 555 0199.")
        print(json.dumps({{"parsed": len(parsed), "pii_parsed": len(long_parsed),
                          "codes": sorted(f.code for f in report.findings)}}))
        """
    env = {**os.environ, "OUTGUARD_CACHE_DIR": str(tmp_path), "OUTGUARD_POLICY_CACHE": "1"}
    cold = json.loads(run_python(code, env=env))
    warm = json.loads(run_python(code, env=env))
    assert cold["parsed"] > 10
    assert warm["parsed"] == 0 and warm["pii_parsed"] == 0, warm
    assert policy != "default" or cold["pii_parsed"] > 0
    assert warm["codes"] == cold["codes"]
    off = json.loads(run_python(code, env={**env, "OUTGUARD_POLICY_CACHE": "0"}))
    assert (off["codes"], off["parsed"]) == (cold["codes"], cold["parsed"])

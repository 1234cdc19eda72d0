"""One base for every error raised on purpose, each one listed where readers look (guardrails.errors and
docs/errors.md)."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import guardrails.errors
from guardrails.errors import OutguardError, Problem

ROOT = Path(__file__).resolve().parents[1]
# Private control flow that never leaves its module (a retry signal, starlette's 413 path).
PRIVATE = {"guardrails.guard.openai_client._Retry", "service.middleware._TooLarge"}


def _exception_classes() -> dict[str, type[BaseException]]:
    """Every exception class defined in guardrails/ and service/, found by reading the source (so no
    module is left out) and imported to ask Python what it derives from."""
    found: dict[str, type[BaseException]] = {}
    for top in ("guardrails", "service"):
        for path in sorted((ROOT / top).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            names = [n.name for n in tree.body if isinstance(n, ast.ClassDef) and n.bases]
            if not names:
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            try:
                mod = importlib.import_module(module)
            except ImportError:  # an optional extra (ray, pyspark) that is not installed here
                continue
            for name in names:
                cls = getattr(mod, name, None)
                if isinstance(cls, type) and issubclass(cls, BaseException):
                    found[f"{module}.{name}"] = cls
    return found


def _subclasses(cls: type) -> set[type]:
    out = set()
    for sub in cls.__subclasses__():
        out |= {sub, *_subclasses(sub)}
    return out


def test_every_exception_raised_on_purpose_is_an_outguard_error() -> None:
    classes = _exception_classes()
    assert "guardrails.rules.errors.RuleError" in classes  # the walk sees the package
    outside = sorted(
        name for name, cls in classes.items() if not issubclass(cls, OutguardError) and name not in PRIVATE
    )
    assert outside == []


def test_every_outguard_error_is_documented() -> None:
    _exception_classes()  # import them all
    page = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
    doc = guardrails.errors.__doc__ or ""
    names = sorted(f"{c.__module__}.{c.__qualname__}" for c in _subclasses(OutguardError))
    names = [n for n in names if n.startswith(("guardrails.", "service."))]  # not tests' own
    assert len(names) >= 30
    assert [n for n in names if f"`{n}`" not in doc] == []
    assert [n for n in names if f"`{n}`" not in page] == []


def test_builtin_bases_are_kept() -> None:
    from guardrails.checks.base import UnknownCheckKind
    from guardrails.rules.errors import RuleError

    assert issubclass(RuleError, ValueError) and issubclass(UnknownCheckKind, LookupError)


def test_problem_renders_as_one_line() -> None:
    p = Problem(type="unknown-key", message="unknown key 'x'", file="r.yaml", rule="a-b", loc="x", line=3, column=5)
    assert p.render() == "r.yaml:3:5: [unknown-key] rule 'a-b': unknown key 'x'"
    assert str(p) == "r.yaml: rule 'a-b': unknown key 'x'"
    setting = Problem(type="invalid-setting", message="OUTGUARD_X: must be a number", hint="unset it")
    assert setting.render() == "[invalid-setting] OUTGUARD_X: must be a number (unset it)"

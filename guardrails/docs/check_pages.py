"""One page per check kind (docs/reference/checks/KIND.md): what the check does (its module docstring), how it
streams, and a table of its parameters from the params model's field descriptions."""

from __future__ import annotations

import importlib
import pkgutil

import guardrails.checks as checks_pkg
from guardrails.checks.base import Check, check_class
from guardrails.docs._md import GENERATED, model_tables
from guardrails.docs.rule_pages import RuleEntry


def bundled_kinds() -> list[str]:
    """Every check module shipped in guardrails/checks (private helpers and the protocol left out)."""
    return sorted(
        m.name for m in pkgutil.iter_modules(checks_pkg.__path__) if not m.name.startswith("_") and m.name != "base"
    )


def _streaming(cls: type[Check]) -> str:
    if not cls.streaming:
        return "Judges whole outputs only: a stream holds text back until the end for it."
    unit = f", counted from the start of the {cls.boundary} still being written" if cls.boundary else ""
    return (
        f"Judges prefixes (streaming): a stream releases text {cls.lookbehind} characters behind the newest{unit}."
        " After a repair it re-checks " + ("only around the edits." if cls.rechecks == "local" else "the whole text.")
    )


def check_page(kind: str, entries: list[RuleEntry]) -> str:
    cls = check_class(kind)
    module = importlib.import_module(cls.__module__)
    doc = (module.__doc__ or "").strip()
    title, _, body = doc.partition("\n")
    out = [GENERATED, "", f"# Check `{kind}`", "", title.strip()]
    if body.strip():
        out += ["", body.strip()]
    out += ["", "## Streaming", "", _streaming(cls), "", "## Parameters", ""]
    out += [
        f"Params model `{cls.Params.__name__}`: an unknown key fails when the rule file loads (file, rule, key).",
        "",
    ]
    out += model_tables(cls.Params)
    using = [e.rule for e in entries if e.rule.check == kind]
    out += ["", "## Rules that use it", ""]
    if using:
        out += [f"- [{r.code}](../rules/{r.code}.md) `{r.id}`" for r in using]
    else:
        out.append("No bundled rule; write one in a pack with `check: " + kind + "`.")
    return "\n".join(out) + "\n"


def checks_index(kinds: list[str]) -> str:
    out = [
        GENERATED,
        "",
        "# Check kinds",
        "",
        "A check is code; rules are data that name a check kind and give it parameters. Many rules share a kind.",
        "",
        "| kind | what it does |",
        "|---|---|",
    ]
    for kind in kinds:
        module = importlib.import_module(check_class(kind).__module__)
        first = (module.__doc__ or "").strip().partition("\n")[0].replace("|", "\\|")
        out.append(f"| [`{kind}`]({kind}.md) | {first} |")
    return "\n".join(out) + "\n"

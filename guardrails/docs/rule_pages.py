"""One page per rule (docs/reference/rules/CODE.md) in fixed sections, as ruff writes its rule pages.

Everything comes from the rule YAML, except two facts only running the code tells: which policies select the
rule, and what its fix does (learnt by running its match examples, since a check decides its fix per finding).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from guardrails.docs._md import GENERATED, cell, code, fence
from guardrails.engine import ENGINE_RULES
from guardrails.rules.loader import LoadedRule, RuleSet
from guardrails.rules.model import Example, Rule

_EXAMPLE_MAX = 400  # characters of an example shown; the rest is summarised
# Checks that load a model: the page says what their params decide instead of running them (seconds per rule,
# and a machine without the weights would write another page).
_MODEL_BACKED = frozenset({"toxicity"})


@dataclass(frozen=True, slots=True)
class RuleEntry:
    rule: Rule
    loaded: LoadedRule | None  # None for the engine's own rules


def rule_entries(ruleset: RuleSet) -> list[RuleEntry]:
    entries = [RuleEntry(r.rule, r) for r in ruleset.rules.values()]
    entries += [RuleEntry(r, None) for r in ENGINE_RULES.values()]
    return sorted(entries, key=lambda e: e.rule.code)


def policies_using(ruleset: RuleSet, loaded: LoadedRule) -> list[str]:
    from guardrails.rules.compile import select_rules
    from guardrails.rules.errors import RuleError

    using = []
    for name, (policy, path) in sorted(ruleset.policies.items()):
        try:
            if any(r.rule.id == loaded.rule.id for r in select_rules(policy, ruleset, str(path))):
                using.append(name)
        except RuleError:
            continue  # a broken policy is reported when it is loaded, not here
    return using


def example_fixes(loaded: LoadedRule) -> dict[str, bool]:
    """The fixes (title -> safe) the rule's findings carry on its match examples; raises RuleError or ImportError
    when its check cannot be built here."""
    from guardrails.examples import _single_rule_engine

    rule = loaded.rule
    engine = _single_rule_engine(loaded)
    fixes: dict[str, bool] = {}
    for ex in rule.examples.match:
        for f in engine.validate(ex.text, ex.context).findings:
            if f.code == rule.code and f.fix is not None:
                fixes[f.fix.title] = f.fix.safe
    return fixes


def fix_safety(loaded: LoadedRule) -> str:
    """What the rule's fix does, from its match examples. Rules whose examples need a pulled model get a fixed
    sentence, so the page is the same on a machine with the model and one without."""
    from guardrails.rules.errors import RuleError

    rule = loaded.rule
    if rule.check in _MODEL_BACKED:  # its fix follows from the params; running it would load the model
        if rule.params.get("mask_fix"):
            return "- mask the words that drive the score (safe, applied when repair is on)"
        return "None: its findings carry no automatic fix."
    if rule.examples.needs_model:
        return (
            f"Not shown here: the examples need the model `{rule.examples.needs_model}`; "
            f"`guardrails rules explain {rule.code}` runs them where it is pulled."
        )
    if not rule.examples.match:
        return "Unknown: the rule has no match examples to show it."
    try:
        fixes = example_fixes(loaded)
    except (RuleError, ImportError) as exc:
        return f"Unknown: the check cannot be built here ({exc})."
    if not fixes:
        tail = " The policy's `unrepaired_action` applies." if rule.action.value == "repair" else ""
        return "None: its findings carry no automatic fix." + tail
    lines = []
    for title, safe in sorted(fixes.items()):
        how = (
            "safe, applied when repair is on"
            if safe
            else "unsafe, applied only when the policy sets `repair.allow_unsafe`"
        )
        lines.append(f"- {cell(title)} ({how})")
    return "\n".join(lines)


def _example(ex: Example) -> list[str]:
    text = repr(ex.text)
    if len(text) > _EXAMPLE_MAX:
        text = f"{text[:_EXAMPLE_MAX]}... ({len(ex.text)} characters in all)"
    out = [fence(text, "python"), ""]
    notes = []
    if ex.matched is not None:
        notes.append(f"flags {code(repr(ex.matched))}")
    if ex.context:
        ctx = json.dumps(ex.context, ensure_ascii=False, sort_keys=True)
        notes.append(f"with context {code(ctx if len(ctx) <= 300 else ctx[:300] + '...')}")
    if notes:
        sentence = "; ".join(notes)
        out.append(sentence[0].upper() + sentence[1:] + ".")
    return out


def rule_page(entry: RuleEntry, ruleset: RuleSet) -> str:
    rule, loaded = entry.rule, entry.loaded
    where = f"pack `{loaded.pack}` (`rules/{loaded.file.name}`)" if loaded else "built into the engine"
    check = "engine" if loaded is None else f"[`{rule.check}`](../checks/{rule.check}.md)"
    out = [
        GENERATED,
        "",
        f"# {rule.code} `{rule.id}`",
        "",
        "| check | severity | action | status | from |",
        "|---|---|---|---|---|",
        f"| {check} | {rule.severity.value} | {rule.action.value} | {rule.status.value} | {where} |",
        "",
        "## What it flags",
        "",
        " ".join((rule.description or rule.message).split()),
    ]
    if rule.status.value == "preview":
        out += ["", "A preview rule: a policy runs it only when it sets `include_preview` or names the rule."]
    if rule.supersedes:
        links = ", ".join(f"[{c}]({c}.md)" for c in rule.supersedes)
        out += ["", f"Replaces the finding of {links} on the same text."]
    out += ["", "## Message", "", code(rule.message)]
    if rule.instruction:
        out += ["", "## Regeneration instruction", "", code(rule.instruction)]
    out += ["", "## Parameters", ""]
    if rule.params:
        params = json.dumps(rule.params, indent=2, ensure_ascii=False, sort_keys=True)
        out += [fence(params, "json"), ""]
        out.append(f"What each parameter means: the [`{rule.check}` check](../checks/{rule.check}.md).")
    else:
        out.append(
            "None." if loaded is None else f"None: the [`{rule.check}` check](../checks/{rule.check}.md)'s defaults."
        )
    out += ["", "## Fix safety", ""]
    out.append(fix_safety(loaded) if loaded else "None: the policy's `on_error` action applies (fail closed).")
    if rule.examples.match:
        out += ["", "## Examples that are flagged", ""]
        for ex in rule.examples.match:
            out += [*_example(ex), ""]
    if rule.examples.no_match:
        out += ["", "## Examples that pass", ""]
        for ex in rule.examples.no_match:
            out += [*_example(ex), ""]
    out += ["", "## Policies that run it", ""]
    if loaded is None:
        out.append("Every policy: the engine reports it whatever the policy selects.")
    else:
        using = policies_using(ruleset, loaded)
        out.append(", ".join(f"`{p}`" for p in using) if using else "None of the bundled policies; select it in yours.")
    out += ["", f"Print this page in a terminal: `guardrails rules explain {rule.code}`.", ""]
    return "\n".join(_squeeze(out))


def _squeeze(lines: list[str]) -> list[str]:
    """No double blank lines (markdownlint's taste, and stable output whatever a section ended with)."""
    out: list[str] = []
    for line in lines:
        if line == "" and out and out[-1] == "":
            continue
        out.append(line)
    return out


def rules_index(entries: list[RuleEntry]) -> str:
    out = [
        GENERATED,
        "",
        "# Rules",
        "",
        "Every rule, one page each: what it flags and why, its parameters, its fix, its examples and the policies",
        "that run it. `guardrails rules list` prints the same catalogue; `guardrails rules explain CODE` one page.",
        "",
        "| code | id | check | severity | action | status |",
        "|---|---|---|---|---|---|",
    ]
    for e in entries:
        r = e.rule
        out.append(
            f"| [{r.code}]({r.code}.md) | `{r.id}` | {r.check} | {r.severity.value} | {r.action.value} | "
            f"{r.status.value} |"
        )
    return "\n".join(out) + "\n"

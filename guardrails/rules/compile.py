"""Compile a policy once: select rules, apply overrides, validate params and build each check."""

from __future__ import annotations

import fnmatch
import hashlib
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from guardrails.checks.base import Check, UnknownCheckKind, building_from, check_class
from guardrails.errors import Problem
from guardrails.plugins import origin_of
from guardrails.rules.errors import RuleError, check_problem, describe_validation_error, suggestion, with_lines
from guardrails.rules.loader import LoadedRule, RuleSet, bundled_rules_dir, load_ruleset
from guardrails.rules.model import Policy, Rule, Status


@dataclass(frozen=True)
class CompiledRule:
    rule: Rule
    check: Check
    deadline_s: float
    pack: str


@dataclass(frozen=True)
class CompiledPolicy:
    policy: Policy
    rules: tuple[CompiledRule, ...]
    version: str
    """The policy's own version plus a digest of the effective rules, so a changed rule changes it."""
    source: str = "<policy>"
    """Where the policy came from (its file): relative file params in its overrides resolve from there."""
    rules_dirs: tuple[str, ...] = ()
    """Every rules directory of the RuleSet it was compiled against (bundled included), so a worker
    process can compile the very same policy again."""


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _matches(selector: str, loaded: LoadedRule) -> bool:
    if selector.startswith("pack:"):
        return fnmatch.fnmatchcase(loaded.pack, selector[5:])
    return fnmatch.fnmatchcase(loaded.rule.id, selector) or fnmatch.fnmatchcase(loaded.rule.code, selector)


def with_plugin_packs(policy: Policy, ruleset: RuleSet, where: str) -> RuleSet:
    """The ruleset plus the installed plugin packs (entry points `outguard.packs`) a policy selects that no
    rules directory holds: `pack:NAME` loads that pack, any other selector matching nothing loads them all.
    Policies whose selectors all match never scan installed packages."""
    unmatched = [s for s in policy.rules if not any(_matches(s, r) for r in ruleset.rules.values())]
    if not unmatched:
        return ruleset
    from guardrails.plugins import PluginError, pack_dir, pack_dirs

    try:
        if all(s.startswith("pack:") for s in unmatched):
            found = [pack_dir(s[5:]) for s in unmatched]
            extra = [d for d in found if d is not None]
        else:
            extra = list(pack_dirs().values())
    except PluginError as exc:
        raise RuleError([f"{where}: key 'rules': {exc}"]) from exc
    extra = [d for d in extra if d not in ruleset.dirs]
    if not extra:
        return ruleset
    bundled = bundled_rules_dir()
    own = [d for d in ruleset.dirs if d != bundled]
    return load_ruleset([*own, *extra], include_bundled=bundled in ruleset.dirs)


def select_rules(policy: Policy, ruleset: RuleSet, where: str) -> list[LoadedRule]:
    problems = []
    for key, selectors in (("rules", policy.rules), ("exclude", policy.exclude)):
        for i, selector in enumerate(selectors):
            if not any(_matches(selector, r) for r in ruleset.rules.values()):
                message = f"selector {selector!r} matches no rule"
                hint = suggestion(selector, ruleset.rules)
                problems.append(Problem(type="no-match", file=where, loc=f"{key}.{i}", message=message, hint=hint))
    for key in policy.overrides:
        if key not in ruleset.rules and ruleset.by_code(key) is None:
            message = f"key 'overrides.{key}': no rule with that id or code"
            hint = suggestion(key, ruleset.rules)
            problems.append(
                Problem(type="unknown-rule", file=where, loc=f"overrides.{key}", message=message, hint=hint)
            )
    if problems:
        raise RuleError(with_lines(problems))
    chosen = []
    for loaded in sorted(ruleset.rules.values(), key=lambda r: r.rule.code):
        explicit = any(s in (loaded.rule.id, loaded.rule.code) for s in policy.rules)
        if not any(_matches(s, loaded) for s in policy.rules) or any(_matches(s, loaded) for s in policy.exclude):
            continue
        if loaded.rule.status is Status.PREVIEW and not (policy.include_preview or explicit):
            continue
        if loaded.rule.status is Status.DEPRECATED and not explicit:
            continue
        chosen.append(loaded)
    return chosen


def effective_rule(policy: Policy, loaded: LoadedRule) -> Rule:
    rule = loaded.rule
    override = policy.overrides.get(rule.id) or policy.overrides.get(rule.code)
    if override is None:
        return rule
    changes: dict[str, Any] = {k: v for k, v in override.model_dump(exclude={"params"}).items() if v is not None}
    if override.params:
        changes["params"] = deep_merge(rule.params, override.params)
    return rule.model_copy(update=changes)


def build_check(
    rule: Rule,
    where: str,
    cache: dict[str, Check] | None = None,
    *,
    policy_file: str | None = None,
    roots: tuple[str, ...] = (),
) -> Check:
    """Validate a rule's params against its check kind and build (or reuse) the check instance.

    `roots` are the rules directories: files the params name must lie in the one holding the rule (or the
    overriding policy), see guardrails.checks.base.resolve_rule_path."""
    try:
        cls = check_class(rule.check)
    except UnknownCheckKind as exc:
        raise RuleError([check_problem(where, rule.id, f"key 'check': {exc}", type="unknown-check-kind")]) from exc
    plugin = origin_of(cls)
    # A plugin's code runs below: whatever it raises is a load error naming it, never a crash later.
    note = f" (check kind from {plugin.describe()})" if plugin else ""
    try:
        params = cls.Params.model_validate(rule.params)
    except ValidationError as exc:
        problems = describe_validation_error(exc, where, cls.Params, rule=rule.id, key_prefix="params.")
        raise RuleError([p.model_copy(update={"message": p.message + note}) for p in problems]) from exc
    except Exception as exc:
        if plugin is None:
            raise
        message = f"key 'params': {type(exc).__name__}: {exc}{note}"
        raise RuleError([check_problem(where, rule.id, message, type="plugin-error")]) from exc
    # Relative file params resolve against the rule's (and policy's) folder, so those are part of the key.
    key = f"{rule.check}\x1f{Path(where).parent}\x1f{policy_file}\x1f{params.model_dump_json()}"
    if cache is not None and key in cache:
        return cache[key]
    try:
        with building_from(policy_file, where, roots=roots):
            check = cls(params)
    except RuleError:
        raise
    except (ValueError, OSError, LookupError, RecursionError) as exc:
        raise RuleError([check_problem(where, rule.id, f"{exc}{note}", type="invalid-params")]) from exc
    except Exception as exc:
        if plugin is None:
            raise
        message = f"building the check raised {type(exc).__name__}: {exc}{note}"
        raise RuleError([check_problem(where, rule.id, message, type="plugin-error")]) from exc
    if cache is not None:
        cache[key] = check
    return check


DEADLINE_SCALE_ENV = "OUTGUARD_DEADLINE_SCALE"


def deadline_scale() -> float:
    """Factor applied to every deadline when a policy compiles (env OUTGUARD_DEADLINE_SCALE, default 1): for
    slow or shared machines, such as CI, where wall-clock deadlines tuned on a quiet machine fire spuriously."""
    raw = os.environ.get(DEADLINE_SCALE_ENV, "").strip()
    if not raw:
        return 1.0
    try:
        scale = float(raw)
    except ValueError:
        scale = math.nan
    if not math.isfinite(scale) or scale <= 0:
        message = f"environment variable {DEADLINE_SCALE_ENV}={raw!r}: must be a positive number"
        raise RuleError([Problem(type="invalid-setting", loc=DEADLINE_SCALE_ENV, message=message)])
    return scale


def _overridden(problem: Problem, policy_file: str) -> Problem:
    """A rule's problem that the policy's overrides may have caused: say so (the line is the rule's)."""
    return problem.model_copy(update={"policy": policy_file})


def compile_policy(policy: Policy, ruleset: RuleSet, where: Path | str = "<policy>") -> CompiledPolicy:
    from guardrails.rules.patterns import compiled_patterns

    # Its `regex` patterns from the on-disk store when another process compiled them already (patterns.py).
    with compiled_patterns():
        return _compile_policy(policy, ruleset, where)


def _compile_policy(policy: Policy, ruleset: RuleSet, where: Path | str) -> CompiledPolicy:
    where = str(where)
    ruleset = with_plugin_packs(policy, ruleset, where)
    scale = deadline_scale()
    cache: dict[str, Check] = {}
    roots = tuple(str(d) for d in ruleset.dirs)
    compiled = []
    problems: list[Problem] = []
    for loaded in select_rules(policy, ruleset, where):
        rule = effective_rule(policy, loaded)
        try:
            overridden = rule is not loaded.rule
            check = build_check(rule, str(loaded.file), cache, policy_file=where if overridden else None, roots=roots)
        except RuleError as exc:
            problems.extend(_overridden(p, where) if overridden else p for p in exc.problems)
            continue
        deadline_ms = (rule.deadline_ms or policy.deadline_ms) * scale
        compiled.append(CompiledRule(rule, check, deadline_ms / 1000.0, loaded.pack))
    if problems:
        raise RuleError(with_lines(problems))
    checks = [c.check for c in compiled]
    for check in {id(c): c for c in checks}.values():
        check.bind(checks)
    digest = hashlib.sha256(
        json.dumps(
            # `cache` decides where results are kept, never what they are: not part of the version.
            [r.rule.model_dump(mode="json") for r in compiled] + [policy.model_dump(mode="json", exclude={"cache"})],
            sort_keys=True,
        ).encode()
    ).hexdigest()[:12]
    dirs = tuple(str(d) for d in ruleset.dirs)
    return CompiledPolicy(policy, tuple(compiled), f"{policy.version}+{digest}", where, dirs)

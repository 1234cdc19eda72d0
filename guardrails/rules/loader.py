"""Load rule packs and policies from directories, validating every key with errors that name it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from guardrails.checks._rulefiles import load_yaml, read_limited
from guardrails.errors import Problem
from guardrails.rules.errors import RuleError, describe_validation_error, suggest, with_lines
from guardrails.rules.model import Policy, Rule, RulePack

MAX_RULE_FILE_BYTES = 5_000_000


def bundled_rules_dir() -> Path:
    """The rules shipped with outguard: inside the wheel, or the repository's top-level rules/."""
    here = Path(__file__).resolve().parent.parent
    packaged = here / "_bundled_rules"
    return packaged if packaged.is_dir() else here.parent / "rules"


@dataclass(frozen=True)
class LoadedRule:
    rule: Rule
    pack: str
    file: Path


@dataclass
class RuleSet:
    """Every rule and policy found in the given directories, keyed by id, code and policy name."""

    rules: dict[str, LoadedRule] = field(default_factory=dict)
    policies: dict[str, tuple[Policy, Path]] = field(default_factory=dict)
    dirs: tuple[Path, ...] = ()

    def by_code(self, code: str) -> LoadedRule | None:
        for loaded in self.rules.values():
            if loaded.rule.code == code:
                return loaded
        return None

    def policy(self, name_or_path: str) -> tuple[Policy, Path]:
        if name_or_path in self.policies:
            return self.policies[name_or_path]
        path = Path(name_or_path)
        if path.suffix in {".yaml", ".yml"} and path.is_file():
            return load_policy_file(path), path
        found = _plugin_policy(name_or_path)
        if found is not None:
            return found
        known = ", ".join(sorted(self.policies)) or "none"
        message = f"unknown policy {name_or_path!r}{suggest(name_or_path, self.policies)}"
        hint = f"known: {known}; or give a path to a policy .yaml"
        raise RuleError([Problem(type="unknown-policy", message=message, hint=hint)])


def _plugin_policy(name: str) -> tuple[Policy, Path] | None:
    """A policy of that name in an installed plugin's pack (entry points `outguard.packs`), looked up only
    for a name no rules directory defines; the compiler then loads the packs it selects."""
    from guardrails.plugins import PluginError, pack_dirs

    try:
        dirs = pack_dirs()
    except PluginError as exc:
        raise RuleError([f"policy {name!r}: {exc}"]) from exc
    for directory in dirs.values():
        policy_dir = directory / "policies"
        for path in _yaml_files(policy_dir) if policy_dir.is_dir() else []:
            policy = load_policy_file(path)
            if policy.name == name:
                return policy, path
    return None


def _read_yaml(path: Path) -> Any:
    """A rule pack or policy: a regular UTF-8 file of at most MAX_RULE_FILE_BYTES, YAML bounded in depth and
    alias expansion (guardrails.checks._rulefiles). Any problem is a RuleError naming the file."""
    try:
        raw = read_limited(path, "file", MAX_RULE_FILE_BYTES, confined=False)
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        problem = Problem(
            type="not-utf8", file=str(path), message=f"not UTF-8 text (byte {exc.start})", hint="save the file as UTF-8"
        )
        raise RuleError([problem]) from exc
    except ValueError as exc:
        raise RuleError(
            [Problem(type="unreadable-file", file=str(path), message=str(exc).removeprefix(_FILE_KEY))]
        ) from exc
    try:
        return load_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f"line {mark.line + 1} column {mark.column + 1}: " if mark else ""
        message = f"{at}invalid YAML: {getattr(exc, 'problem', None) or exc}"
        line, column = (mark.line + 1, mark.column + 1) if mark else (None, None)
        raise RuleError(
            [Problem(type="invalid-yaml", file=str(path), message=message, line=line, column=column)]
        ) from exc
    except (ValueError, TypeError, OverflowError, RecursionError, AttributeError) as exc:
        # A scalar Python cannot hold (2001-02-30, a 5000-digit integer) and the like; AttributeError is
        # PyYAML's timestamp constructor on an explicit `!!timestamp` its pattern does not match.
        raise RuleError(
            [Problem(type="invalid-yaml-value", file=str(path), message=f"invalid YAML value: {exc}")]
        ) from exc


_FILE_KEY = "key 'file': "


def _validate(model: type[BaseModel], data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        message = f"expected a mapping at the top level, got {type(data).__name__}"
        raise RuleError([Problem(type="not-a-mapping", file=where, message=message)])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = _pack_errors(exc, where, data) if model is RulePack else describe_validation_error(exc, where, model)
        raise RuleError(with_lines(problems)) from exc


def _pack_errors(exc: ValidationError, where: str, data: dict[str, Any]) -> list[Problem]:
    """Name the rule id for errors inside `rules[i]`, and report keys relative to that rule."""
    lines: list[Problem] = []
    raw_rules = data.get("rules")
    rules: list[Any] = raw_rules if isinstance(raw_rules, list) else []
    for err in exc.errors():
        loc = tuple(err["loc"])
        if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
            raw = rules[loc[1]] if loc[1] < len(rules) else {}
            rid = raw.get("id") if isinstance(raw, dict) else None
            sub = ValidationError.from_exception_data(exc.title, [{**err, "loc": loc[2:]}])  # type: ignore[typeddict-unknown-key]
            if isinstance(rid, str) and rid:
                lines.extend(describe_validation_error(sub, where, Rule, rule=rid))
            else:
                lines.extend(describe_validation_error(sub, where, Rule, key_prefix=f"rules.{loc[1]}."))
        else:
            sub = ValidationError.from_exception_data(exc.title, [err])  # type: ignore[list-item]
            lines.extend(describe_validation_error(sub, where, RulePack))
    return lines


def load_pack_file(path: Path) -> RulePack:
    pack: RulePack = _validate(RulePack, _read_yaml(path), str(path))
    return pack


def load_policy_file(path: Path) -> Policy:
    policy: Policy = _validate(Policy, _read_yaml(path), str(path))
    return policy


def _yaml_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.glob("*.y*ml") if p.suffix in {".yaml", ".yml"})


def load_ruleset(extra_dirs: Sequence[Path | str] = (), *, include_bundled: bool = True) -> RuleSet:
    """Load every pack in `<dir>/*.yaml` and policy in `<dir>/policies/*.yaml`; collect all problems."""
    dirs: list[Path] = [bundled_rules_dir()] if include_bundled else []
    for d in extra_dirs:
        p = Path(d)
        if not p.is_dir():
            raise RuleError([Problem(type="no-such-directory", file=str(p), message="rules directory does not exist")])
        dirs.append(p)
    from guardrails.rules.cache import load_cached  # the on-disk cache of what this function builds

    return load_cached(dirs, lambda: _load_dirs(dirs))


def _load_dirs(dirs: list[Path]) -> RuleSet:
    ruleset = RuleSet(dirs=tuple(dirs))
    problems: list[Problem] = []
    codes: dict[str, LoadedRule] = {}
    for directory in dirs:
        for path in _yaml_files(directory):
            try:
                pack = load_pack_file(path)
            except RuleError as exc:
                problems.extend(exc.problems)
                continue
            for rule in pack.rules:
                _add_rule(ruleset, codes, LoadedRule(rule, pack.pack, path), problems)
        policy_dir = directory / "policies"
        for path in _yaml_files(policy_dir) if policy_dir.is_dir() else []:
            try:
                policy = load_policy_file(path)
            except RuleError as exc:
                problems.extend(exc.problems)
                continue
            if policy.name in ruleset.policies:
                message = f"policy {policy.name!r} is already defined in {ruleset.policies[policy.name][1]}"
                problems.append(Problem(type="duplicate-policy", file=str(path), loc="name", message=message))
            ruleset.policies[policy.name] = (policy, path)
    problems.extend(_supersedes_problems(ruleset))
    if problems:
        raise RuleError(with_lines(problems))
    return ruleset


def _supersedes_problems(ruleset: RuleSet) -> list[Problem]:
    """`supersedes` must name other rules of the set, and no rule may end up superseding itself."""
    problems = []
    ids = {**{r.rule.code: r.rule.id for r in ruleset.rules.values()}, **{i: i for i in ruleset.rules}}
    edges: dict[str, set[str]] = {}
    for loaded in ruleset.rules.values():
        for key in loaded.rule.supersedes:
            target = ids.get(key)
            if target is None or target == loaded.rule.id:
                what = "no rule with that id or code" if target is None else "a rule cannot supersede itself"
                problems.append(
                    _rule_problem(loaded, "bad-supersedes", f"key 'supersedes': {key!r}: {what}", "supersedes")
                )
            else:
                edges.setdefault(loaded.rule.id, set()).add(target)
    for start in sorted(edges):
        seen: set[str] = set()
        todo = list(edges[start])
        while todo:
            rid = todo.pop()
            if rid == start:
                message = f"key 'supersedes': a cycle (through {', '.join(sorted(seen))})"
                problems.append(_rule_problem(ruleset.rules[start], "supersedes-cycle", message, "supersedes"))
                break
            if rid not in seen:
                seen.add(rid)
                todo.extend(edges.get(rid, ()))
    return problems


def _rule_problem(loaded: LoadedRule, type: str, message: str, loc: str | None = None) -> Problem:
    return Problem(type=type, file=str(loaded.file), rule=loaded.rule.id, loc=loc, message=message)


def _add_rule(ruleset: RuleSet, codes: dict[str, LoadedRule], loaded: LoadedRule, problems: list[Problem]) -> None:
    rule = loaded.rule
    if rule.id in ruleset.rules:
        message = f"id already defined in {ruleset.rules[rule.id].file}"
        problems.append(_rule_problem(loaded, "duplicate-id", message, "id"))
        return
    if rule.code in codes:
        other = codes[rule.code]
        message = f"code {rule.code} already used by rule {other.rule.id!r} in {other.file}"
        problems.append(_rule_problem(loaded, "duplicate-code", message, "code"))
        return
    ruleset.rules[rule.id] = loaded
    codes[rule.code] = loaded


def pack_from_mapping(data: dict[str, Any], where: str = "<inline>") -> RulePack:
    pack: RulePack = _validate(RulePack, data, where)
    return pack


def iter_rules(ruleset: RuleSet) -> Iterable[LoadedRule]:
    return sorted(ruleset.rules.values(), key=lambda r: r.rule.code)

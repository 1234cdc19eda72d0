"""Load rule packs and policies from directories, validating every key with errors that name it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from guardrails.checks._rulefiles import load_yaml, read_limited
from guardrails.rules.errors import RuleError, describe_validation_error, suggest
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
        raise RuleError(
            [
                f"unknown policy {name_or_path!r}{suggest(name_or_path, self.policies)}; "
                f"known: {', '.join(sorted(self.policies)) or 'none'} (or give a path to a policy .yaml)"
            ]
        )


def _read_yaml(path: Path) -> Any:
    """A rule pack or policy: a regular UTF-8 file of at most MAX_RULE_FILE_BYTES, YAML bounded in depth and
    alias expansion (guardrails.checks._rulefiles). Any problem is a RuleError naming the file."""
    try:
        raw = read_limited(path, "file", MAX_RULE_FILE_BYTES, confined=False)
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RuleError([f"{path}: not UTF-8 text (byte {exc.start}): save the file as UTF-8"]) from exc
    except ValueError as exc:
        raise RuleError([f"{path}: {str(exc).removeprefix(_FILE_KEY)}"]) from exc
    try:
        return load_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" line {mark.line + 1} column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise RuleError([f"{path}:{at}: invalid YAML: {problem}"]) from exc
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        # A scalar Python cannot hold (2001-02-30, a 5000-digit integer) and the like.
        raise RuleError([f"{path}: invalid YAML value: {exc}"]) from exc


_FILE_KEY = "key 'file': "


def _validate(model: type[BaseModel], data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise RuleError([f"{where}: expected a mapping at the top level, got {type(data).__name__}"])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise RuleError(
            _pack_errors(exc, where, data) if model is RulePack else describe_validation_error(exc, where, model)
        ) from exc


def _pack_errors(exc: ValidationError, where: str, data: dict[str, Any]) -> list[str]:
    """Name the rule id for errors inside `rules[i]`, and report keys relative to that rule."""
    lines = []
    raw_rules = data.get("rules")
    rules: list[Any] = raw_rules if isinstance(raw_rules, list) else []
    for err in exc.errors():
        loc = tuple(err["loc"])
        if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
            raw = rules[loc[1]] if loc[1] < len(rules) else {}
            rid = raw.get("id") if isinstance(raw, dict) else None
            sub = ValidationError.from_exception_data(exc.title, [{**err, "loc": loc[2:]}])  # type: ignore[typeddict-unknown-key]
            label = f"{where}: rule {rid!r}" if rid else f"{where}: rules[{loc[1]}]"
            lines.extend(describe_validation_error(sub, label, Rule))
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
            raise RuleError([f"{p}: rules directory does not exist"])
        dirs.append(p)
    from guardrails.rules.cache import load_cached  # the on-disk cache of what this function builds

    return load_cached(dirs, lambda: _load_dirs(dirs))


def _load_dirs(dirs: list[Path]) -> RuleSet:
    ruleset = RuleSet(dirs=tuple(dirs))
    problems: list[str] = []
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
                problems.append(
                    f"{path}: policy {policy.name!r} is already defined in {ruleset.policies[policy.name][1]}"
                )
            ruleset.policies[policy.name] = (policy, path)
    problems.extend(_supersedes_problems(ruleset))
    if problems:
        raise RuleError(problems)
    return ruleset


def _supersedes_problems(ruleset: RuleSet) -> list[str]:
    """`supersedes` must name other rules of the set, and no rule may end up superseding itself."""
    problems = []
    ids = {**{r.rule.code: r.rule.id for r in ruleset.rules.values()}, **{i: i for i in ruleset.rules}}
    edges: dict[str, set[str]] = {}
    for loaded in ruleset.rules.values():
        for key in loaded.rule.supersedes:
            target = ids.get(key)
            if target is None or target == loaded.rule.id:
                what = "no rule with that id or code" if target is None else "a rule cannot supersede itself"
                problems.append(f"{loaded.file}: rule {loaded.rule.id!r}: key 'supersedes': {key!r}: {what}")
            else:
                edges.setdefault(loaded.rule.id, set()).add(target)
    for start in sorted(edges):
        seen: set[str] = set()
        todo = list(edges[start])
        while todo:
            rid = todo.pop()
            if rid == start:
                loaded = ruleset.rules[start]
                problems.append(
                    f"{loaded.file}: rule {start!r}: key 'supersedes': a cycle (through {', '.join(sorted(seen))})"
                )
                break
            if rid not in seen:
                seen.add(rid)
                todo.extend(edges.get(rid, ()))
    return problems


def _add_rule(ruleset: RuleSet, codes: dict[str, LoadedRule], loaded: LoadedRule, problems: list[str]) -> None:
    rule = loaded.rule
    if rule.id in ruleset.rules:
        problems.append(f"{loaded.file}: rule {rule.id!r}: id already defined in {ruleset.rules[rule.id].file}")
        return
    if rule.code in codes:
        problems.append(
            f"{loaded.file}: rule {rule.id!r}: code {rule.code} already used by rule "
            f"{codes[rule.code].rule.id!r} in {codes[rule.code].file}"
        )
        return
    ruleset.rules[rule.id] = loaded
    codes[rule.code] = loaded


def pack_from_mapping(data: dict[str, Any], where: str = "<inline>") -> RulePack:
    pack: RulePack = _validate(RulePack, data, where)
    return pack


def iter_rules(ruleset: RuleSet) -> Iterable[LoadedRule]:
    return sorted(ruleset.rules.values(), key=lambda r: r.rule.code)

"""Errors for people and programs: every rule/policy load error is a `Problem` naming the file, the rule id,
the key path and, when the file can be read back, the line."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from guardrails.errors import OutguardError, Problem


class RuleError(OutguardError, ValueError):
    """A rule pack or policy that cannot be loaded. `problems` holds each one as a `Problem`; `str()` puts
    each on its own line. A plain string is taken as a problem of type `rule-error` (plugins and older code)."""

    def __init__(self, problems: Sequence[Problem | str]) -> None:
        self.problems: list[Problem] = [
            p if isinstance(p, Problem) else Problem(type="rule-error", message=p) for p in problems
        ]
        super().__init__("\n".join(str(p) for p in self.problems))

    @property
    def lines(self) -> list[str]:
        """Each problem as the line the CLI prints (`file:line: [type] message (hint)`)."""
        return [p.render() for p in self.problems]


def suggestion(word: str, choices: Iterable[str]) -> str | None:
    """`did you mean 'x'?` for the closest choice, or None."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else None


def suggest(word: str, choices: Iterable[str]) -> str:
    hint = suggestion(word, choices)
    return f" ({hint})" if hint else ""


def _fields_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """Field names valid at `loc` in `model`, following nested models, for 'did you mean'."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = getattr(current, "model_fields", {}).get(part)
        if field is None:
            return []
        ann = field.annotation
        nested = [a for a in getattr(ann, "__args__", (ann,)) if isinstance(a, type) and issubclass(a, BaseModel)]
        if not nested:
            args = getattr(ann, "__args__", ())
            nested = [
                a
                for arg in args
                for a in getattr(arg, "__args__", (arg,))
                if isinstance(a, type) and issubclass(a, BaseModel)
            ]
        if not nested:
            return []
        current = nested[0]
    return list(getattr(current, "model_fields", {}))


def describe_validation_error(
    exc: ValidationError,
    file: str,
    model: type[BaseModel],
    *,
    rule: str | None = None,
    key_prefix: str = "",
) -> list[Problem]:
    """One Problem per pydantic error, its key path relative to the rule (or the file without a rule)."""
    problems = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        key = key_prefix + ".".join(str(p) for p in loc)
        at = {"file": file, "rule": rule, "loc": key or None}
        if err["type"] == "extra_forbidden":
            hint = suggestion(str(loc[-1]), _fields_at(model, loc))
            problems.append(Problem(type="unknown-key", message=f"unknown key {key!r}", hint=hint, **at))
        elif err["type"] == "missing":
            problems.append(Problem(type="missing-key", message=f"missing required key {key!r}", **at))
        else:
            kind = "invalid-" + str(err["type"]).replace("_", "-")
            problems.append(Problem(type=kind, message=f"key {key!r}: {err['msg']}", **at))
    return problems


_KEY_PREFIX = re.compile(r"key '([^']+)': ")


def check_problem(file: str, rule: str, message: str, *, type: str, hint: str | None = None) -> Problem:
    """A problem a check kind reported while building (its messages start `key 'params.x': ` when they
    name a key): the key becomes `loc`."""
    found = _KEY_PREFIX.match(message)
    return Problem(type=type, message=message, file=file, rule=rule, loc=found.group(1) if found else None, hint=hint)


# -- lines: read back where a key path sits in the file ----------------------------------------------


def with_lines(problems: Iterable[Problem]) -> list[Problem]:
    """The problems with `line`/`column` filled in from their file where the key (or the rule) is found.
    Runs only on the error path; a file that cannot be read back leaves the problem as it was."""
    roots: dict[str, Node | None] = {}
    out = []
    for problem in problems:
        if problem.line is not None or not problem.file or (problem.loc is None and problem.rule is None):
            out.append(problem)
            continue
        if problem.file not in roots:
            roots[problem.file] = _compose(problem.file)
        node = _locate(roots[problem.file], problem.rule, problem.loc)
        if node is None:
            out.append(problem)
        else:
            out.append(
                problem.model_copy(update={"line": node.start_mark.line + 1, "column": node.start_mark.column + 1})
            )
    return out


def _compose(file: str) -> Node | None:
    from guardrails.checks._rulefiles import _BoundedLoader  # the same limits the load itself had

    try:
        loader = _BoundedLoader(Path(file).read_text(encoding="utf-8"))
        try:
            node: Node | None = loader.get_single_node()
        finally:
            loader.dispose()
    except (OSError, ValueError, yaml.YAMLError, RecursionError):
        return None
    return node


def _child(node: Node, part: str) -> tuple[Node, Node] | None:
    """(key node, value node) of `part` in a mapping, or the item of a sequence."""
    if isinstance(node, MappingNode):
        for key, value in node.value:
            if isinstance(key, ScalarNode) and key.value == part:
                return key, value
    elif isinstance(node, SequenceNode) and part.isdigit() and int(part) < len(node.value):
        item = node.value[int(part)]
        return item, item
    return None


def _locate(root: Node | None, rule: str | None, loc: str | None) -> Node | None:
    """The deepest node on the way to `loc` (in rule `rule` of a pack), the key itself when it exists."""
    node = root
    if node is None:
        return None
    if rule is not None:
        rules = _child(node, "rules")
        items = rules[1].value if rules and isinstance(rules[1], SequenceNode) else []
        found = [i for i in items if (c := _child(i, "id")) and isinstance(c[1], ScalarNode) and c[1].value == rule]
        if not found:
            return None
        node = found[0]
    here = node
    for part in (loc or "").split(".") if loc else []:
        pair = _child(node, part)
        if pair is None:
            break
        here, node = pair
    return here

"""Errors for people: every rule/policy load error names the file, the rule id and the key."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError


class RuleError(ValueError):
    """A rule pack or policy that cannot be loaded. `problems` lists each one on its own line."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


def suggest(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


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
    exc: ValidationError, where: str, model: type[BaseModel], *, key_prefix: str = ""
) -> list[str]:
    """One line per pydantic error: `where: key a.b.c: problem (did you mean ...)`."""
    lines = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        key = key_prefix + ".".join(str(p) for p in loc)
        if err["type"] == "extra_forbidden":
            hint = suggest(str(loc[-1]), _fields_at(model, loc))
            lines.append(f"{where}: unknown key {key!r}{hint}")
        elif err["type"] == "missing":
            lines.append(f"{where}: missing required key {key!r}")
        else:
            lines.append(f"{where}: key {key!r}: {err['msg']}")
    return lines


def located(path: Path | str | None, rule_id: str | None = None) -> str:
    where = str(path) if path else "<inline>"
    return f"{where}: rule {rule_id!r}" if rule_id else where

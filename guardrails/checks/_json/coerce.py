"""Schema-guided coercion fixes: the smallest edit that makes a failing value satisfy its subschema."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
from jsonschema.exceptions import ValidationError

from guardrails.findings import Edit, Fix
from guardrails.jsonparse.strict import loads, skip_ws
from guardrails.jsonparse.view import JsonView


def coercion_fix(
    text: str,
    view: JsonView,
    *,
    validator: jsonschema.protocols.Validator,
    error: ValidationError,
    path: tuple[str | int, ...],
    extra_key: str | None,
    start: int,
    end: int,
) -> Fix | None:
    keyword = error.validator
    if keyword == "type":
        return _coerce_type(text[start:end], validator, error, start, end)
    if keyword == "enum" and isinstance(error.instance, str) and isinstance(error.validator_value, list):
        matches = [v for v in error.validator_value if isinstance(v, str) and v.lower() == error.instance.lower()]
        if len(matches) == 1:
            new = json.dumps(matches[0], ensure_ascii=False)
            return Fix(
                title=f"use the enum value {new}", edits=[Edit(start=start, end=end, replacement=new)], safe=False
            )
    if keyword == "required" and isinstance(error.schema, dict):
        name = path[-1] if path else None
        prop = (error.schema.get("properties") or {}).get(name) if isinstance(name, str) else None
        if isinstance(prop, dict) and "default" in prop and text[end - 1 : end] == "}":
            sep = ", " if error.instance else ""
            member = f"{sep}{json.dumps(name, ensure_ascii=False)}: {json.dumps(prop['default'], ensure_ascii=False)}"
            return Fix(
                title=f"add {name!r} with its schema default",
                edits=[Edit(start=end - 1, end=end - 1, replacement=member)],
            )
    if extra_key is not None:
        located = view.locate(path)
        if located is not None and located.key_start is not None:
            lo, hi = _member_cut(text, located.key_start, located.end)
            return Fix(
                title=f"remove the unexpected field {extra_key!r}",
                edits=[Edit(start=lo, end=hi, replacement="")],
                safe=False,
            )
    return None


def _member_cut(text: str, key_start: int, value_end: int) -> tuple[int, int]:
    """The range to delete to drop a member, with exactly one of its neighbouring commas."""
    after = skip_ws(text, value_end)
    if after < len(text) and text[after] == ",":
        return key_start, skip_ws(text, after + 1)
    before = key_start - 1
    while before >= 0 and text[before] in " \t\n\r":
        before -= 1
    if before >= 0 and text[before] == ",":
        return before, value_end
    return key_start, value_end


def _coerce_type(
    token: str, validator: jsonschema.protocols.Validator, error: ValidationError, start: int, end: int
) -> Fix | None:
    expected = error.validator_value
    wanted = expected if isinstance(expected, list) else [expected]
    value = error.instance
    for kind in wanted:
        proposal = _propose(str(kind), value, token)
        if proposal is None:
            continue
        relative, safe, title = proposal
        edits = [Edit(start=e.start + start, end=e.end + start, replacement=e.replacement) for e in relative]
        new_value = loads(_apply(token, start, edits))
        sub = validator.evolve(schema=error.schema)
        if sub.is_valid(new_value):
            return Fix(title=title, edits=edits, safe=safe)
    return None


def _apply(token: str, start: int, edits: list[Edit]) -> str:
    out, pos = [], 0
    for e in sorted(edits, key=lambda e: e.start):
        out.append(token[pos : e.start - start])
        out.append(e.replacement)
        pos = e.end - start
    out.append(token[pos:])
    return "".join(out)


def _propose(kind: str, value: Any, token: str) -> tuple[list[Edit], bool, str] | None:
    """Edits (relative to the token, shifted by the caller) that turn `value` into a `kind`, and safety."""
    n = len(token)

    def replace(new: str) -> list[Edit]:
        return [Edit(start=0, end=n, replacement=new)]

    if kind in ("integer", "number") and isinstance(value, str):
        try:
            parsed = loads(value.strip())
        except (ValueError, RecursionError):
            return None
        if isinstance(parsed, bool) or not isinstance(parsed, (int, float)):
            return None
        if kind == "integer" and isinstance(parsed, float):
            if not parsed.is_integer():
                return None
            parsed = int(parsed)
        new = json.dumps(parsed)
        return replace(new), new == value, f"the string {token} becomes the number {new}"
    if kind == "integer" and isinstance(value, float) and value.is_integer():
        new = str(int(value))
        return replace(new), True, f"{token} becomes the integer {new}"
    if kind == "boolean":
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            new = value.strip().lower()
            return replace(new), value == new, f"the string {token} becomes {new}"
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value in (0, 1):
            new = "true" if value else "false"
            return replace(new), False, f"{token} becomes {new}"
    if kind == "string" and (isinstance(value, (int, float)) and value is not None):
        new = json.dumps(token)
        return replace(new), True, f"{token} becomes the string {new}"
    if kind == "array" and not isinstance(value, list):
        safe = not (isinstance(value, str) and value.lstrip().startswith("["))
        return (
            [Edit(start=0, end=0, replacement="["), Edit(start=n, end=n, replacement="]")],
            safe,
            "wrap the value in a list",
        )
    if kind == "null" and isinstance(value, str) and value.strip().lower() in ("", "null", "none"):
        return replace("null"), False, f"{token} becomes null"
    return None

"""Schema-guided coercion fixes: the smallest edit that makes a failing value satisfy its subschema."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import jsonschema
from jsonschema.exceptions import ValidationError

from guardrails.findings import Edit, Fix
from guardrails.jsonparse.strict import loads, skip_ws
from guardrails.jsonparse.tolerant import repair_region
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
        return _fill_required(text, error, start, end)
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


def _fill_required(text: str, error: ValidationError, start: int, end: int) -> Fix | None:
    """Every missing required field of the object that the schema itself says how to fill, in one insertion.

    One fix for all of them (each missing field is its own error, and insertions at the same offset
    conflict): a field's schema default is safe, as before; a const is the only value allowed but still
    invented, an enum's first value and an empty array or object for a field shaped like one are guesses:
    unsafe, and the title names each invented value and where it came from."""
    schema = error.schema
    instance = error.instance
    if not isinstance(schema, dict) or not isinstance(instance, dict) or text[end - 1 : end] != "}":
        return None
    props = schema.get("properties") or {}
    required = schema.get("required") or []
    members: list[str] = []
    titles: list[str] = []
    safe = True
    for name in required:
        if not isinstance(name, str) or name in instance:
            continue
        filled = _filler(props.get(name))
        if filled is None:
            continue
        value, source = filled
        safe = safe and source == "its schema default"
        members.append(f"{json.dumps(name, ensure_ascii=False)}: {json.dumps(value, ensure_ascii=False)}")
        titles.append(f"{name!r} = {json.dumps(value, ensure_ascii=False)[:40]} ({source})")
    if not members:
        return None
    sep = ", " if instance else ""
    verb = "add" if safe else "invent"
    return Fix(
        title=f"{verb} the missing required field{'s' if len(members) > 1 else ''} {'; '.join(titles)}",
        edits=[Edit(start=end - 1, end=end - 1, replacement=sep + ", ".join(members))],
        safe=safe,
    )


def _filler(prop: Any) -> tuple[Any, str] | None:
    """The value a missing field's subschema implies, and where it comes from; None when nothing does."""
    if not isinstance(prop, dict):
        return None
    if "default" in prop:
        return prop["default"], "its schema default"
    if "const" in prop:
        return prop["const"], "the schema's const"
    enum = prop.get("enum")
    if isinstance(enum, list) and enum:
        return enum[0], "the schema enum's first value"
    kind = prop.get("type")
    if kind == "array" or (kind is None and "items" in prop):
        return [], "an empty array for an array field"
    if kind == "object" or (kind is None and "properties" in prop):
        return {}, "an empty object for an object field"
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
    sub = validator.evolve(schema=error.schema)
    for kind in wanted:
        for relative, safe, title in _proposals(str(kind), value, token, error.schema):
            edits = [Edit(start=e.start + start, end=e.end + start, replacement=e.replacement) for e in relative]
            new_value = loads(_apply(token, start, edits))
            if sub.is_valid(new_value):
                return Fix(title=title, edits=edits, safe=safe)
    return None


_Proposal = tuple[list[Edit], bool, str]


def _proposals(kind: str, value: Any, token: str, schema: Any) -> Iterator[_Proposal]:
    """Readings of `value` as a `kind`, most specific first; the caller keeps the first that validates."""
    n = len(token)
    if kind in ("array", "object") and isinstance(value, str):
        # '"[a, b]"' where an array is wanted: a value serialised twice (and sloppily) inside a string.
        parsed = _embedded(value, kind)
        if parsed is not None:
            new = json.dumps(parsed, ensure_ascii=False)
            title = f"the string {token[:40]} held an {kind}: parsed it as {new[:40]} (a guess at what it meant)"
            yield [Edit(start=0, end=n, replacement=new)], False, title
    if kind == "object" and isinstance(value, list) and isinstance(schema, dict):
        # '["hello", ["a"]]' where {"name", "tags"} is wanted: the items in the schema's property order. The
        # keys are invented (and the order a guess), so it is unsafe and only taken when the result validates.
        names = [k for k in (schema.get("properties") or {}) if isinstance(k, str)]
        if names and len(value) == len(names):
            new = json.dumps(dict(zip(names, value, strict=True)), ensure_ascii=False)
            title = f"the array's {len(names)} items became the fields {', '.join(names)[:80]} (keys invented)"
            yield [Edit(start=0, end=n, replacement=new)], False, title
    proposal = _propose(kind, value, token)
    if proposal is not None:
        yield proposal


def _embedded(value: str, kind: str) -> Any:
    """The array or object a string holds as (possibly broken) JSON text; None when it holds none."""
    body = value.strip()
    if not body.startswith("[" if kind == "array" else "{"):
        return None
    result = repair_region(body, 0, max_depth=64)
    if not result.ok or skip_ws(body, result.end) != len(body):
        return None
    return result.value


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

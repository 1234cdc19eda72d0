"""Readable messages and JSON paths for jsonschema errors: name the field, expected vs got."""

from __future__ import annotations

import ast
import json
import re
from typing import Any

from jsonschema.exceptions import ValidationError

from guardrails.checks import _bounded_regex

_REQUIRED = re.compile(r"^(.*) is a required property$")
_TYPE_NAMES = {dict: "object", list: "array", str: "string", bool: "boolean", int: "integer", float: "number"}


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    return _TYPE_NAMES.get(type(value), type(value).__name__)


def short(value: Any, limit: int = 60) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)
    return value if len(json.dumps(value)) <= 500 else short(value, 500)


def _missing_name(error: ValidationError) -> str | None:
    m = _REQUIRED.match(error.message)
    if m is None:
        return None
    try:
        name = ast.literal_eval(m.group(1))
    except (ValueError, SyntaxError):
        return m.group(1)
    return str(name)


def _extra_keys(error: ValidationError) -> list[str]:
    # The patterns are the schema's (a caller's, for a Context schema): searched under the check's deadline.
    instance, schema = error.instance, error.schema
    if not isinstance(instance, dict) or not isinstance(schema, dict):
        return []
    props = schema.get("properties", {}) if isinstance(schema.get("properties"), dict) else {}
    patterns = list(schema.get("patternProperties", {}) or {})
    return [k for k in instance if k not in props and not any(_bounded_regex.search(p, k) for p in patterns)]


def error_paths(error: ValidationError) -> list[tuple[tuple[str | int, ...], str | None]]:
    """The JSON path(s) an error is about: a missing field and an unexpected field get their own path."""
    path = tuple(error.absolute_path)
    if error.validator == "required":
        name = _missing_name(error)
        return [((*path, name), None)] if name is not None else [(path, None)]
    if error.validator == "additionalProperties" and error.validator_value is False:
        extras = _extra_keys(error)
        if extras:
            return [((*path, k), k) for k in extras]
    return [(path, None)]


def describe(error: ValidationError, pointer: str, extra_key: str | None) -> str:
    where = pointer or "the top level"
    keyword = error.validator
    if keyword == "required":
        parent = pointer.rsplit("/", 1)[0] or "the top level"
        return f"{parent}: missing required field {_missing_name(error)!r}"
    if extra_key is not None:
        allowed = list((error.schema.get("properties") or {}) if isinstance(error.schema, dict) else {})
        listed = ", ".join(allowed[:12]) + (", ..." if len(allowed) > 12 else "")
        return f"{where}: unexpected field {extra_key!r}" + (f" (allowed: {listed})" if allowed else "")
    got = f"{type_name(error.instance)} {short(error.instance)}"
    if keyword == "type":
        expected = error.validator_value
        names = " or ".join(expected) if isinstance(expected, list) else str(expected)
        return f"{where}: expected {names}, got {got}"
    if keyword == "enum":
        return f"{where}: expected one of {short(error.validator_value, 120)}, got {short(error.instance)}"
    if keyword == "const":
        return f"{where}: expected {short(error.validator_value)}, got {short(error.instance)}"
    if keyword == "format":
        return f"{where}: {short(error.instance)} is not a valid {error.validator_value}"
    message = error.message if len(error.message) <= 200 else error.message[:199] + "…"
    return f"{where}: {message}"

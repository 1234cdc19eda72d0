"""Schema-guided repair at the checks layer: a schema (JSON Schema or pydantic model) as an `accepts`
predicate for `guardrails.jsonparse.salvage.rank`, and the public `repair(text, schema)`.

The predicate validates with jsonschema-rs when it takes the schema, else python-jsonschema; a caller's
patterns run bounded (see `_bounded_regex`) and under the running deadline. Compiled once per schema
(bounded LRU keyed by repr: 1 == True == 1.0, but {"enum": [1]} is not {"enum": [true]}).
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from guardrails.checks._bounded_regex import deadline_scope
from guardrails.jsonparse.salvage import Accepts, rank
from guardrails.jsonparse.tolerant import TextEdit, apply
from guardrails.jsonparse.view import JsonView, build_view

_CACHE_SIZE = 128
_cache: OrderedDict[str, Accepts] = OrderedDict()
EXCERPT_CHARS = 600
"""A regeneration request quotes at most this much of the schema (compact JSON)."""


def schema_accepts(schema: Any) -> Accepts:
    """`schema` (JSON Schema dict/bool, or a pydantic model class) as a predicate on parsed values."""
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        adapter: TypeAdapter[Any] = TypeAdapter(schema)

        def model_ok(value: Any) -> bool:
            try:
                adapter.validate_python(value)
            except PydanticValidationError:
                return False
            return True

        return model_ok
    key = repr(schema)
    hit = _cache.get(key)
    if hit is not None:
        _cache.move_to_end(key)
        return hit
    # Here, not at import: `import guardrails` reaches this module (guard.structured) and jsonschema with
    # its format modules costs ~0.5 s that only a schema needs.
    from guardrails.checks._json.schemas import compile_schema, fast_validator

    validator = compile_schema(schema, "schema")
    fast = fast_validator(schema, validator, check_formats=True)

    def ok(value: Any) -> bool:
        if fast is not None and fast(value):
            return True
        return bool(validator.is_valid(value))

    _cache[key] = ok
    if len(_cache) > _CACHE_SIZE:
        _cache.popitem(last=False)
    return ok


def schema_excerpt(schema: Any) -> str:
    """The schema as compact JSON, cut to EXCERPT_CHARS: what a regeneration request quotes."""
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        schema = schema.model_json_schema()
    try:
        text = json.dumps(schema, separators=(",", ":"), ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = repr(schema)
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 3] + "..."


def ranked_view(view: JsonView, schema: Any, deadline: Any) -> JsonView:
    """The view after schema-guided ranking; the schema's own errors leave the view as it was."""
    try:
        accepts = schema_accepts(schema)
    except ValueError:
        return view  # an invalid schema is the json_schema rule's finding (it names the keyword)
    if deadline is None:
        return rank(view, accepts)
    with deadline_scope(deadline):
        return rank(view, accepts, deadline=deadline)


@dataclass(frozen=True, slots=True)
class RepairResult:
    """What `repair` made of a text: the value, the edits that produce it, and whether they are safe."""

    ok: bool
    """A value came out (`value`, `text`); False when the text holds no JSON that can be read."""
    value: Any
    text: str
    """The repaired JSON text (the input itself when it was valid JSON)."""
    edits: tuple[TextEdit, ...]
    """Edits of the input, in order, non-overlapping; applied to the input they give `text`."""
    safe: bool
    """Lossless (every value of the input kept, nothing invented) or the one reading the schema accepts."""
    dropped: str | None
    """What an unsafe repair drops, merges or moves ('"b" at offset 12 dropped'); None when safe."""
    ambiguity: str | None
    """Why a regeneration is needed instead (several readings, or none, satisfy the schema)."""
    issues: tuple[str, ...]
    """The kinds of damage repaired (rule issue names: trailing-comma, truncated-json...)."""
    notes: tuple[str, ...]
    schema_valid: bool | None
    """The value satisfies the schema (None without a schema)."""
    schema_excerpt: str | None = None
    """The schema, compact and cut short, for a regeneration request (with a schema only)."""

    @property
    def needs_regeneration(self) -> bool:
        return not self.ok or not self.safe or self.schema_valid is False


def repair(text: str, schema: Any = None, *, deadline: Any = None, max_depth: int = 512) -> RepairResult:
    """Repair model-written JSON, guided by `schema` (JSON Schema dict, or a pydantic model class) if given.

    Valid JSON comes back unchanged. Broken JSON comes back as edits of the input and the value they give;
    `safe` says whether they lose nothing (see docs/json.md, "What safe means"). With a schema, candidate
    readings (a truncated value closed at its last complete member, several values as one array, a stray
    closer dropped...) are ranked by whether they validate: the single one that does is safe; several or
    none set `ambiguity` instead.
    """
    view = build_view(text, expect_json=True, max_depth=max_depth, deadline=deadline)
    accepts = None
    if schema is not None:
        accepts = schema_accepts(schema)
        if deadline is None:
            view = rank(view, accepts)
        else:
            with deadline_scope(deadline):
                view = rank(view, accepts, deadline=deadline)
    if not view.ok:
        why = view.error or "no JSON found"
        return RepairResult(False, None, text, (), False, None, why, (), (), None, _excerpt(schema))
    edits = tuple(sorted((e for r in view.repairs for e in r.edits), key=lambda e: (e.start, e.end)))
    repaired = apply(text, 0, len(text), list(view.repairs)) if edits else text
    # The view's value is the one its repairs give (prose and fences around it only drop text): not parsed
    # a second time.
    value = view.value
    safe = all(r.safe for r in view.repairs)
    valid = None if accepts is None else _valid(accepts, value)
    dropped = None if safe else (view.loss or next((r.note for r in view.repairs if not r.safe), None))
    return RepairResult(
        True,
        value,
        repaired,
        edits,
        safe,
        dropped,
        view.ambiguity,
        tuple(dict.fromkeys(r.issue for r in view.repairs)),
        tuple(r.note for r in view.repairs),
        valid,
        _excerpt(schema),
    )


def _valid(accepts: Accepts, value: Any) -> bool:
    try:
        return bool(accepts(value))
    except (ValueError, TypeError, RecursionError):
        return False


def _excerpt(schema: Any) -> str | None:
    return None if schema is None else schema_excerpt(schema)


__all__ = ["RepairResult", "ranked_view", "repair", "schema_accepts", "schema_excerpt"]

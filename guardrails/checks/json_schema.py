"""`json_schema`: the JSON must satisfy a JSON Schema (draft 7, 2019-09, 2020-12...) or a pydantic model.

The schema comes from the rule's params (`schema` inline, `schema_file`, or `model: "pkg.mod:Model"`), or
per call from `Context.schema` (it wins when set). Validators are compiled once (per call schemas are
cached); the schema's patterns run under the check's deadline (see `_bounded_regex`). One finding per
failing JSON path, with the JSON pointer and the character span of the value;
`$ref`s are resolved inside the schema only: nothing is fetched over the network. Type mismatches get
coercion fixes (string "42" -> 42, one object -> a list of it...) marked safe or unsafe.
"""

from __future__ import annotations

import marshal
from collections import OrderedDict
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from guardrails.checks._bounded_regex import deadline_scope
from guardrails.checks._json import JsonExtractParams, json_view
from guardrails.checks.base import Check, Hit, RunContext, resolve_rule_path
from guardrails.context import Context
from guardrails.document import Document
from guardrails.findings import Edit, Evidence, Fix
from guardrails.jsonparse.locate import pointer_from_path
from guardrails.jsonparse.view import JsonView

# jsonschema (with referencing, rpds and its format checkers' arrow, isoduration...: ~0.07 s of CPU) is imported
# when the check is built, and only then: not by `import guardrails` nor by a policy without this check.
if TYPE_CHECKING:
    import jsonschema
    from jsonschema.exceptions import ValidationError

    from guardrails.checks._json.schemas import FastCheck

    _Compiled = tuple[jsonschema.protocols.Validator, FastCheck | None]

_CONTEXT_CACHE_SIZE = 256


class JsonSchemaParams(JsonExtractParams):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    schema_: dict[str, Any] | bool | None = Field(default=None, alias="schema", description="Inline JSON Schema")
    schema_file: str | None = Field(default=None, description="Path to a JSON (or YAML) Schema file")
    model: str | None = Field(default=None, description="A pydantic model by import path, `package.module:Model`")
    use_context_schema: bool = Field(default=True, description="A schema in the Context overrides the rule's")
    check_formats: bool = Field(default=True, description="Assert `format` (date-time, email, uri, uuid...)")
    coerce: bool = Field(default=True, description="Offer fixes for type mismatches (string '42' -> 42...)")
    require_json: bool = Field(
        default=True,
        description="This rule also reports (and repairs) JSON that is missing, broken or wrapped in text; set "
        "false when the json_syntax/json_repair rules run beside it (the json policy does)",
    )
    strict: bool = Field(default=False, description="pydantic models: validate in strict mode")
    max_errors: int = Field(default=50, ge=1, description="Report at most this many schema errors per output")
    default_draft: Literal["2020-12", "2019-09", "7", "6", "4"] = Field(
        default="2020-12", description="Draft for schemas without a $schema keyword"
    )


class JsonSchemaCheck(Check[JsonSchemaParams]):
    kind = "json_schema"

    def __init__(self, params: JsonSchemaParams) -> None:
        super().__init__(params)
        given = [k for k in ("schema", "schema_file", "model") if getattr(params, _ATTR[k]) is not None]
        if len(given) > 1:
            raise ValueError(f"keys 'params.{given[0]}' and 'params.{given[1]}': give only one schema source")
        self.schema: Any = None
        self.validator: jsonschema.protocols.Validator | None = None
        self.model: type[BaseModel] | None = None
        self.adapter: TypeAdapter[Any] | None = None
        if given or params.use_context_schema:
            # Now, even with no schema of the rule's own: a call's Context.schema is compiled within the check's
            # deadline, and importing jsonschema there made a first call fail closed (ENG002 past 250 ms on a
            # loaded machine, seen by the install matrix).
            from guardrails.checks._json.schemas import compile_schema, fast_validator, import_model, load_schema_file

        if params.model is not None:
            self.model = import_model(params.model)
            self.adapter = TypeAdapter(self.model)
            self.schema = self.model.model_json_schema()
        elif params.schema_file is not None:
            self.schema = load_schema_file(str(resolve_rule_path(params.schema_file)))
            self.validator = compile_schema(
                self.schema,
                f"key 'params.schema_file' ({params.schema_file})",
                check_formats=params.check_formats,
                default_draft=params.default_draft,
            )
        elif params.schema_ is not None:
            self.schema = params.schema_
            self.validator = compile_schema(
                self.schema,
                "key 'params.schema'",
                check_formats=params.check_formats,
                default_draft=params.default_draft,
            )
        self.fast: FastCheck | None = None
        if self.validator is not None:
            self.fast = fast_validator(self.schema, self.validator, check_formats=params.check_formats)
        self._context_cache: OrderedDict[bytes | str, _Compiled] = OrderedDict()
        self._last_context: tuple[Any, tuple[jsonschema.protocols.Validator, FastCheck | None]] | None = None

    def regeneration_extras(self, context: Context | None = None) -> dict[str, Any]:
        # The schema this call was validated against: the Context's when the rule reads it, else the rule's.
        schema = context.schema_ if context is not None and self.params.use_context_schema else None
        if schema is None:
            schema = self.schema
        return {"schema": schema} if isinstance(schema, dict) else {}

    def _context_validator(self, schema: dict[str, Any]) -> tuple[jsonschema.protocols.Validator, FastCheck | None]:
        """Per-call schemas are compiled once and cached by content (bounded LRU)."""
        last = self._last_context
        if last is not None and last[0] is schema:
            return last[1]
        # Context validation copies the dict, so identity rarely holds. Not `==` either: 1 == True == 1.0,
        # and {"enum": [1]} is not {"enum": [true]}. marshal keeps the types apart like repr, in C: 8 us
        # where repr took 36 (a third of a valid output's whole check). A string marshal marks as interned
        # or not may give one schema two keys: two cache entries, never a wrong validator.
        key = _schema_key(schema)
        compiled = self._context_cache.get(key)
        if compiled is None:
            from guardrails.checks._json.schemas import compile_schema, fast_validator

            validator = compile_schema(
                schema,
                "Context.schema",
                check_formats=self.params.check_formats,
                default_draft=self.params.default_draft,
            )
            compiled = (validator, fast_validator(schema, validator, check_formats=self.params.check_formats))
            self._context_cache[key] = compiled
            if len(self._context_cache) > _CONTEXT_CACHE_SIZE:
                self._context_cache.popitem(last=False)
        self._last_context = (schema, compiled)
        return compiled

    def run(self, doc: Document, ctx: RunContext) -> Iterator[Hit]:
        # Whatever reaches a schema's patterns (compiling a Context schema, both validators, coercion fixes,
        # naming extra keys) runs inside the scope, so the patterns run under this check's deadline. The hits
        # are collected first: a generator would leave the scope open between yields.
        with deadline_scope(ctx.deadline):
            hits = list(self._run(doc, ctx))
        return iter(hits)

    def _run(self, doc: Document, ctx: RunContext) -> Iterator[Hit]:
        context_schema = ctx.context.schema_ if self.params.use_context_schema else None
        validator, fast = (
            self._context_validator(context_schema) if context_schema is not None else (self.validator, self.fast)
        )
        if validator is None and self.adapter is None:
            return  # no schema configured and none in the Context: nothing to check against
        view = json_view(doc, ctx, self.params, expect=True)
        if view.too_deep:
            return  # json-nesting-too-deep (JSON003) reports it; validating would only exhaust the stack
        if not view.ok:
            if self.params.require_json:
                reason = "no JSON found" if not view.present else f"the JSON is invalid ({view.error})"
                yield Hit(
                    0,
                    len(doc.text),
                    values={"detail": f"cannot validate against the schema: {reason}", "pointer": ""},
                    evidence=Evidence(source="schema", details={"reason": reason}),
                )
            return
        if self.params.require_json and view.repairs:
            yield _repairs_hit(doc, view)
        if validator is not None:
            if fast is not None and fast(view.value):
                return
            yield from self._jsonschema(doc, ctx, view, validator)
        else:
            yield from self._pydantic(doc, view)

    # -- JSON Schema ------------------------------------------------------------------------------

    def _jsonschema(
        self, doc: Document, ctx: RunContext, view: JsonView, validator: jsonschema.protocols.Validator
    ) -> Iterator[Hit]:
        import referencing.exceptions
        from jsonschema.exceptions import best_match, relevance

        from guardrails.checks._json.errors import error_paths

        groups: dict[str, list[tuple[ValidationError, tuple[str | int, ...], str | None]]] = {}
        count = 0
        try:
            for error in validator.iter_errors(view.value):
                ctx.deadline.check()
                leaf = best_match([error]) or error
                for path, extra_key in error_paths(leaf):
                    groups.setdefault(pointer_from_path(path), []).append((leaf, path, extra_key))
                count += 1
                if count >= self.params.max_errors:
                    break
        except referencing.exceptions.Unresolvable as exc:
            raise ValueError(f"schema $ref cannot be resolved (remote refs are never fetched): {exc}") from exc
        for pointer, items in groups.items():
            items.sort(key=lambda item: relevance(item[0]))
            error, path, extra_key = items[0]
            yield self._schema_hit(
                doc, view, validator, pointer=pointer, error=error, path=path, extra_key=extra_key, others=items[1:]
            )

    def _schema_hit(
        self,
        doc: Document,
        view: JsonView,
        validator: jsonschema.protocols.Validator,
        *,
        pointer: str,
        error: ValidationError,
        path: tuple[str | int, ...],
        extra_key: str | None,
        others: list[tuple[ValidationError, tuple[str | int, ...], str | None]],
    ) -> Hit:
        from guardrails.checks._json.coerce import coercion_fix
        from guardrails.checks._json.errors import describe, jsonable, short

        keyword = str(error.validator)
        located = view.locate(path)
        if located is None:  # a missing member: point at its parent
            located = view.locate(path[:-1]) if path else None
        start, end = (located.start, located.end) if located else (view.start, view.end)
        if extra_key is not None and located is not None and located.key_start is not None:
            start = located.key_start
        detail = describe(error, pointer, extra_key)
        fix = None
        if self.params.coerce and view.strict:
            fix = coercion_fix(
                doc.text, view, validator=validator, error=error, path=path, extra_key=extra_key, start=start, end=end
            )
        if fix is not None:
            start = min(start, *(e.start for e in fix.edits))
            end = max(end, *(e.end for e in fix.edits))
        return Hit(
            start,
            end,
            values={"detail": detail, "pointer": pointer, "keyword": keyword},
            pointer=pointer,
            evidence=Evidence(
                source="schema",
                pattern=pointer_from_path(error.absolute_schema_path),
                details={
                    "keyword": keyword,
                    "expected": jsonable(error.validator_value),
                    "got": short(error.instance),
                    **({"also": [describe(e, pointer, k) for e, _, k in others]} if others else {}),
                },
            ),
            fix=fix,
        )

    # -- pydantic ---------------------------------------------------------------------------------

    def _pydantic(self, doc: Document, view: JsonView) -> Iterator[Hit]:
        from guardrails.checks._json.errors import short

        assert self.adapter is not None
        try:
            if view.strict:
                self.adapter.validate_json(doc.text[view.start : view.end], strict=self.params.strict)
            else:
                self.adapter.validate_python(view.value, strict=self.params.strict)
            return
        except PydanticValidationError as exc:
            errors = exc.errors(include_url=False)
        seen: set[str] = set()
        for err in errors[: self.params.max_errors]:
            path = tuple(p for p in err["loc"] if isinstance(p, (str, int)))
            pointer = pointer_from_path(path)
            if pointer in seen:
                continue
            seen.add(pointer)
            located = view.locate(path) or (view.locate(path[:-1]) if path else None)
            start, end = (located.start, located.end) if located else (view.start, view.end)
            where = pointer or "the top level"
            got = "" if err["type"] == "missing" else f" (got {short(err.get('input'))})"
            detail = f"{where}: {err['msg']}{got}"
            yield Hit(
                start,
                end,
                values={"detail": detail, "pointer": pointer, "keyword": err["type"]},
                pointer=pointer,
                evidence=Evidence(
                    source=self.params.model, details={"keyword": err["type"], "got": short(err.get("input"))}
                ),
            )


_ATTR = {"schema": "schema_", "schema_file": "schema_file", "model": "model"}


def _schema_key(schema: Any) -> bytes | str:
    try:
        return marshal.dumps(schema)
    except ValueError:  # an object marshal does not know (a schema built in code): repr still tells them apart
        return repr(schema)


def _repairs_hit(doc: Document, view: JsonView) -> Hit:
    """Without the json_repair rules (a policy with just this rule), still deliver clean JSON: one finding
    whose fix carries every repair the tolerant parser found (fences, prose, syntax)."""
    repairs = view.repairs
    kinds = sorted({r.issue for r in repairs})
    edits = [Edit(start=e.start, end=e.end, replacement=e.replacement) for r in repairs for e in r.edits]
    return Hit(
        min(r.start for r in repairs),
        max(r.end for r in repairs),
        values={"detail": f"the JSON needs repairs before it can be used: {', '.join(kinds)}", "pointer": ""},
        evidence=Evidence(source="json", details={"repairs": kinds, "edits": len(edits)}),
        fix=Fix(title=f"repair the JSON ({', '.join(kinds)})", edits=edits, safe=all(r.safe for r in repairs)),
    )


CHECK = JsonSchemaCheck

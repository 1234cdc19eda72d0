"""`json_schema`: the JSON must satisfy a JSON Schema (draft 7, 2019-09, 2020-12...) or a pydantic model.

The schema comes from the rule's params (`schema` inline, `schema_file`, or `model: "pkg.mod:Model"`), or
per call from `Context.schema` (it wins when set). Validators are compiled once (per call schemas are
cached). One finding per failing JSON path, with the JSON pointer and the character span of the value;
`$ref`s are resolved inside the schema only: nothing is fetched over the network. Type mismatches get
coercion fixes (string "42" -> 42, one object -> a list of it...) marked safe or unsafe.
"""

from __future__ import annotations

import ast
import importlib
import json
import re
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urljoin

import jsonschema
import referencing
import referencing.exceptions
import yaml
from jsonschema import validators
from jsonschema.exceptions import SchemaError, ValidationError, best_match, relevance
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from guardrails.checks._json import JsonExtractParams, json_view
from guardrails.checks.base import Check, Hit, RunContext
from guardrails.document import Document
from guardrails.findings import Edit, Evidence, Fix
from guardrails.jsonparse.locate import pointer_from_path
from guardrails.jsonparse.strict import loads, skip_ws
from guardrails.jsonparse.view import JsonView

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
    max_errors: int = Field(default=50, ge=1)
    default_draft: Literal["2020-12", "2019-09", "7", "6", "4"] = Field(
        default="2020-12", description="Draft for schemas without a $schema keyword"
    )


def _load_schema_file(path_str: str) -> Any:
    path = Path(path_str)
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ValueError(f"key 'params.schema_file': schema file {path_str!r} does not exist") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"key 'params.schema_file': cannot read schema file {path_str!r}: {exc}") from exc
    if path.suffix in {".yaml", ".yml"}:
        try:
            return yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            raise ValueError(f"key 'params.schema_file': {path_str}: invalid YAML: {exc}") from exc
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"key 'params.schema_file': {path_str}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from exc


def _refuse_remote(uri: str) -> referencing.Resource[Any]:
    raise referencing.exceptions.NoSuchResource(ref=uri)  # type: ignore[call-arg]


_REGISTRY: referencing.Registry[Any] = referencing.Registry(retrieve=_refuse_remote)  # type: ignore[call-arg]


def _refs(node: Any, base: str, path: tuple[str | int, ...]) -> Iterator[tuple[str, str, tuple[str | int, ...]]]:
    """Every ($ref value, absolute ref, schema path) in a schema, following $id base changes."""
    stack = [(node, base, path)]
    while stack:
        node, base, path = stack.pop()
        if isinstance(node, dict):
            if isinstance(node.get("$id"), str):
                base = urljoin(base, node["$id"])
            ref = node.get("$ref")
            if isinstance(ref, str):
                yield ref, urljoin(base, ref), path
            for k, v in node.items():
                if k not in ("enum", "const", "examples", "default"):
                    stack.append((v, base, (*path, k)))
        elif isinstance(node, list):
            stack.extend((v, base, (*path, i)) for i, v in enumerate(node))


_DRAFTS: dict[str, type[jsonschema.protocols.Validator]] = {
    "2020-12": jsonschema.Draft202012Validator,
    "2019-09": jsonschema.Draft201909Validator,
    "7": jsonschema.Draft7Validator,
    "6": jsonschema.Draft6Validator,
    "4": jsonschema.Draft4Validator,
}


def compile_schema(
    schema: Any, where: str, *, check_formats: bool = True, default_draft: str = "2020-12"
) -> jsonschema.protocols.Validator:
    """Check a schema and build its validator; ValueError with `where` and the bad keyword otherwise."""
    if not isinstance(schema, (dict, bool)):
        raise ValueError(f"{where}: a JSON Schema must be an object or a boolean, got {type(schema).__name__}")
    if isinstance(schema, dict) and isinstance(schema.get("$schema"), str):
        known = {str(cls.META_SCHEMA.get("$id", cls.META_SCHEMA.get("id", ""))).rstrip("#") for cls in _DRAFTS.values()}
        if schema["$schema"].rstrip("#") not in known:
            raise ValueError(
                f"{where}: unknown $schema {schema['$schema']!r}; use one of the JSON Schema drafts "
                "(draft-04, -06, -07, 2019-09, 2020-12) or leave $schema out"
            )
    cls = validators.validator_for(schema, default=_DRAFTS[default_draft])
    try:
        cls.check_schema(schema)
    except SchemaError as exc:
        at = pointer_from_path(exc.absolute_path) or "/"
        raise ValueError(f"{where}: invalid JSON Schema at {at}: {exc.message[:300]}") from exc
    fmt = cls.FORMAT_CHECKER if check_formats else None
    validator = cls(schema, registry=_REGISTRY, format_checker=fmt)
    if isinstance(schema, dict):
        root = schema.get("$id", "") if isinstance(schema.get("$id"), str) else ""
        resolver = validator._resolver  # type: ignore[attr-defined]
        for ref, absolute, path in _refs(schema, root, ()):
            try:
                _lookup(resolver, absolute, ref)
            except referencing.exceptions.Unresolvable as exc:
                at = pointer_from_path(path) or "/"
                remote = absolute.startswith(("http://", "https://", "file:", "urn:")) and not ref.startswith("#")
                hint = (
                    "remote references are never fetched (no network at validation time): put the referenced "
                    "schema under $defs and point to it with '#/$defs/...'"
                    if remote
                    else "no such location in the schema"
                )
                raise ValueError(f"{where}: unknown $ref {ref!r} at {at}: {hint}") from exc
    return validator


def _lookup(resolver: Any, absolute: str, ref: str) -> None:
    """Resolve a $ref as the validator will: against its $id base, or (draft 7: $ref hides $id) as written."""
    try:
        resolver.lookup(absolute or ref)
    except referencing.exceptions.Unresolvable:
        if absolute == ref:
            raise
        resolver.lookup(ref)


def _import_model(path: str) -> type[BaseModel]:
    module_name, sep, attr = path.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"key 'params.model': {path!r} is not an import path like 'package.module:Model'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"key 'params.model': cannot import module {module_name!r}: {exc}") from exc
    obj: Any = module
    for part in attr.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            raise ValueError(f"key 'params.model': module {module_name!r} has no attribute {attr!r}")
    if not (isinstance(obj, type) and issubclass(obj, BaseModel)):
        raise ValueError(f"key 'params.model': {path!r} is not a pydantic model class")
    return obj


class JsonSchemaCheck(Check):
    kind = "json_schema"
    Params = JsonSchemaParams

    def __init__(self, params: JsonSchemaParams) -> None:
        super().__init__(params)
        self.p = params
        given = [k for k in ("schema", "schema_file", "model") if getattr(params, _ATTR[k]) is not None]
        if len(given) > 1:
            raise ValueError(f"keys 'params.{given[0]}' and 'params.{given[1]}': give only one schema source")
        self.schema: Any = None
        self.validator: jsonschema.protocols.Validator | None = None
        self.model: type[BaseModel] | None = None
        self.adapter: TypeAdapter[Any] | None = None
        if params.model is not None:
            self.model = _import_model(params.model)
            self.adapter = TypeAdapter(self.model)
            self.schema = self.model.model_json_schema()
        elif params.schema_file is not None:
            self.schema = _load_schema_file(params.schema_file)
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
        self._context_cache: OrderedDict[str, jsonschema.protocols.Validator] = OrderedDict()
        self._last_context: tuple[Any, jsonschema.protocols.Validator] | None = None

    def regeneration_extras(self) -> dict[str, Any]:
        return {"schema": self.schema} if isinstance(self.schema, dict) else {}

    def _context_validator(self, schema: dict[str, Any]) -> jsonschema.protocols.Validator:
        """Per-call schemas are compiled once and cached by content (bounded LRU)."""
        last = self._last_context
        if last is not None and last[0] is schema:
            return last[1]
        # Context validation copies the dict, so identity rarely holds. Not `==` either: 1 == True == 1.0,
        # and {"enum": [1]} is not {"enum": [true]}. repr keeps the types apart (~10 us for a 2 KB schema).
        key = repr(schema)
        validator = self._context_cache.get(key)
        if validator is None:
            validator = compile_schema(
                schema, "Context.schema", check_formats=self.p.check_formats, default_draft=self.p.default_draft
            )
            self._context_cache[key] = validator
            if len(self._context_cache) > _CONTEXT_CACHE_SIZE:
                self._context_cache.popitem(last=False)
        self._last_context = (schema, validator)
        return validator

    def run(self, doc: Document, ctx: RunContext) -> Iterator[Hit]:
        context_schema = ctx.context.schema_ if self.p.use_context_schema else None
        validator = self._context_validator(context_schema) if context_schema is not None else self.validator
        if validator is None and self.adapter is None:
            return  # no schema configured and none in the Context: nothing to check against
        view = json_view(doc, ctx, self.p, expect=True)
        if view.too_deep:
            return  # json-nesting-too-deep (JSON003) reports it; validating would only exhaust the stack
        if not view.ok:
            if self.p.require_json:
                reason = "no JSON found" if not view.present else f"the JSON is invalid ({view.error})"
                yield Hit(
                    0,
                    len(doc.text),
                    values={"detail": f"cannot validate against the schema: {reason}", "pointer": ""},
                    evidence=Evidence(source="schema", details={"reason": reason}),
                )
            return
        if self.p.require_json and view.repairs:
            yield _repairs_hit(doc, view)
        if validator is not None:
            yield from self._jsonschema(doc, ctx, view, validator)
        else:
            yield from self._pydantic(doc, view)

    # -- JSON Schema ------------------------------------------------------------------------------

    def _jsonschema(
        self, doc: Document, ctx: RunContext, view: JsonView, validator: jsonschema.protocols.Validator
    ) -> Iterator[Hit]:
        groups: dict[str, list[tuple[ValidationError, tuple[str | int, ...], str | None]]] = {}
        count = 0
        try:
            for error in validator.iter_errors(view.value):
                ctx.deadline.check()
                leaf = best_match([error]) or error
                for path, extra_key in _paths(leaf):
                    groups.setdefault(pointer_from_path(path), []).append((leaf, path, extra_key))
                count += 1
                if count >= self.p.max_errors:
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
        keyword = str(error.validator)
        located = view.locate(path)
        if located is None:  # a missing member: point at its parent
            located = view.locate(path[:-1]) if path else None
        start, end = (located.start, located.end) if located else (view.start, view.end)
        if extra_key is not None and located is not None and located.key_start is not None:
            start = located.key_start
        detail = _describe(error, pointer, extra_key)
        fix = None
        if self.p.coerce and view.strict:
            fix = _coercion(
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
                    "expected": _jsonable(error.validator_value),
                    "got": _short(error.instance),
                    **({"also": [_describe(e, pointer, k) for e, _, k in others]} if others else {}),
                },
            ),
            fix=fix,
        )

    # -- pydantic ---------------------------------------------------------------------------------

    def _pydantic(self, doc: Document, view: JsonView) -> Iterator[Hit]:
        assert self.adapter is not None
        try:
            if view.strict:
                self.adapter.validate_json(doc.text[view.start : view.end], strict=self.p.strict)
            else:
                self.adapter.validate_python(view.value, strict=self.p.strict)
            return
        except PydanticValidationError as exc:
            errors = exc.errors(include_url=False)
        seen: set[str] = set()
        for err in errors[: self.p.max_errors]:
            path = tuple(p for p in err["loc"] if isinstance(p, (str, int)))
            pointer = pointer_from_path(path)
            if pointer in seen:
                continue
            seen.add(pointer)
            located = view.locate(path) or (view.locate(path[:-1]) if path else None)
            start, end = (located.start, located.end) if located else (view.start, view.end)
            where = pointer or "the top level"
            got = "" if err["type"] == "missing" else f" (got {_short(err.get('input'))})"
            detail = f"{where}: {err['msg']}{got}"
            yield Hit(
                start,
                end,
                values={"detail": detail, "pointer": pointer, "keyword": err["type"]},
                pointer=pointer,
                evidence=Evidence(
                    source=self.p.model, details={"keyword": err["type"], "got": _short(err.get("input"))}
                ),
            )


_ATTR = {"schema": "schema_", "schema_file": "schema_file", "model": "model"}


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


_REQUIRED = re.compile(r"^(.*) is a required property$")
_TYPE_NAMES = {dict: "object", list: "array", str: "string", bool: "boolean", int: "integer", float: "number"}


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    return _TYPE_NAMES.get(type(value), type(value).__name__)


def _short(value: Any, limit: int = 60) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)
    return value if len(json.dumps(value)) <= 500 else _short(value, 500)


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
    instance, schema = error.instance, error.schema
    if not isinstance(instance, dict) or not isinstance(schema, dict):
        return []
    props = schema.get("properties", {}) if isinstance(schema.get("properties"), dict) else {}
    patterns = list(schema.get("patternProperties", {}) or {})
    return [k for k in instance if k not in props and not any(re.search(p, k) for p in patterns)]


def _paths(error: ValidationError) -> list[tuple[tuple[str | int, ...], str | None]]:
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


def _describe(error: ValidationError, pointer: str, extra_key: str | None) -> str:
    where = pointer or "the top level"
    keyword = error.validator
    if keyword == "required":
        parent = pointer.rsplit("/", 1)[0] or "the top level"
        return f"{parent}: missing required field {_missing_name(error)!r}"
    if extra_key is not None:
        allowed = list((error.schema.get("properties") or {}) if isinstance(error.schema, dict) else {})
        listed = ", ".join(allowed[:12]) + (", ..." if len(allowed) > 12 else "")
        return f"{where}: unexpected field {extra_key!r}" + (f" (allowed: {listed})" if allowed else "")
    got = f"{_type_name(error.instance)} {_short(error.instance)}"
    if keyword == "type":
        expected = error.validator_value
        names = " or ".join(expected) if isinstance(expected, list) else str(expected)
        return f"{where}: expected {names}, got {got}"
    if keyword == "enum":
        return f"{where}: expected one of {_short(error.validator_value, 120)}, got {_short(error.instance)}"
    if keyword == "const":
        return f"{where}: expected {_short(error.validator_value)}, got {_short(error.instance)}"
    if keyword == "format":
        return f"{where}: {_short(error.instance)} is not a valid {error.validator_value}"
    message = error.message if len(error.message) <= 200 else error.message[:199] + "…"
    return f"{where}: {message}"


# -- coercion fixes -----------------------------------------------------------------------------


def _coercion(
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


CHECK = JsonSchemaCheck

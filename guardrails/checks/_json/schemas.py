"""Loading JSON Schemas for the json_schema check: files, drafts, $ref checks, pydantic models by path.

Everything here runs when a rule is compiled (or a Context schema is first seen); errors are ValueErrors
that name the key and what to do, which the rule loader turns into load errors naming file and rule.

A Context schema is the caller's, so its regular expressions are hostile until proven otherwise: the
validators built here evaluate `pattern`, `patternProperties` (and the additional/unevaluated properties
that depend on it) and `format: regex` through `_bounded_regex`, under the running check's deadline,
instead of python-jsonschema's stdlib `re` with no timeout; the jsonschema-rs fast path gets a backtrack
limit. Rule schemas go through the same validators: one behaviour for every schema.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import yaml
from pydantic import BaseModel

from guardrails.checks import _bounded_regex
from guardrails.checks._json.formats import defer_iri_formats
from guardrails.checks._rulefiles import load_yaml
from guardrails.checks.base import read_rule_file
from guardrails.jsonparse.locate import pointer_from_path

# Before jsonschema's first import, whoever imports this module first: its IRI formats would build a
# lark grammar at import (~1 s, see formats.py).
defer_iri_formats()

import jsonschema  # noqa: E402
import jsonschema._legacy_keywords  # noqa: E402
import jsonschema._utils  # noqa: E402
import referencing  # noqa: E402
import referencing.exceptions  # noqa: E402
from jsonschema import validators  # noqa: E402
from jsonschema.exceptions import SchemaError, ValidationError  # noqa: E402


def load_schema_file(path_str: str) -> Any:
    path = Path(path_str)
    if not path.exists():
        raise ValueError(f"key 'params.schema_file': schema file {path_str!r} does not exist")
    try:
        # Confined to the rules directory, a regular file, size capped (guardrails.checks._rulefiles).
        raw = read_rule_file(path, "params.schema_file").decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"key 'params.schema_file': cannot read schema file {path_str!r}: {exc}") from exc
    if path.suffix in {".yaml", ".yml"}:
        try:
            return load_yaml(raw)  # bounded depth and alias expansion
        except (yaml.YAMLError, ValueError) as exc:
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


def _pattern(validator: Any, patrn: str, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not _bounded_regex.search(patrn, instance):
        yield ValidationError(f"{instance!r} does not match {patrn!r}")


def _pattern_properties(validator: Any, properties: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in properties.items():
        for k, v in instance.items():
            if _bounded_regex.search(pattern, k):
                yield from validator.descend(v, subschema, path=k, schema_path=pattern)


def _is_regex(instance: object) -> bool:
    """`format: regex`: the instance compiles as a pattern we would run (the output's string, so hostile too)."""
    if not isinstance(instance, str):
        return True
    _bounded_regex.compile_pattern(instance)
    return True


class _SearchShim:
    """Stands in for `re` in the jsonschema helper modules that find additional and unevaluated properties
    (they search patternProperties with `re.search` and offer no hook): inside one of our checks' deadline
    scopes the search is bounded; anyone else using jsonschema in the process gets stdlib `re` unchanged."""

    def __getattr__(self, name: str) -> Any:
        return getattr(re, name)

    @staticmethod
    def search(pattern: Any, string: Any, flags: int = 0) -> Any:
        if flags or not isinstance(pattern, str) or not _bounded_regex.active():
            return re.search(pattern, string, flags)
        return _bounded_regex.search(pattern, string) or None


for _module in (jsonschema._utils, jsonschema._legacy_keywords):
    if getattr(_module, "re", None) is re:
        setattr(_module, "re", _SearchShim())  # noqa: B010 - a module global mypy would not let us assign


def _bounded(cls: type[jsonschema.protocols.Validator]) -> type[jsonschema.protocols.Validator]:
    formats = jsonschema.FormatChecker(formats=())
    formats.checkers = {**cls.FORMAT_CHECKER.checkers, "regex": (_is_regex, _bounded_regex.UnsafePattern)}
    keywords = {"pattern": _pattern, "patternProperties": _pattern_properties}
    bounded: type[jsonschema.protocols.Validator] = validators.extend(  # type: ignore[no-untyped-call]
        cls, keywords, format_checker=formats
    )
    return bounded


_STOCK: dict[str, type[jsonschema.protocols.Validator]] = {
    "2020-12": jsonschema.Draft202012Validator,
    "2019-09": jsonschema.Draft201909Validator,
    "7": jsonschema.Draft7Validator,
    "6": jsonschema.Draft6Validator,
    "4": jsonschema.Draft4Validator,
}
_BOUNDED = {stock: _bounded(stock) for stock in _STOCK.values()}
_DRAFTS = {name: _BOUNDED[stock] for name, stock in _STOCK.items()}
_RS_DRAFTS = {_BOUNDED[stock]: stock.__name__ for stock in _STOCK.values()}
_RS_BACKTRACK_LIMIT = 100_000
"""fancy-regex backtracking steps per search in the fast path (~2 ms); past it the pattern does not match,
so the fast path says "not valid" and the deadline-bound python-jsonschema path decides."""
_RS_SIZE_LIMIT = 2 << 20


def compile_schema(
    schema: Any, where: str, *, check_formats: bool = True, default_draft: str = "2020-12"
) -> jsonschema.protocols.Validator:
    """Check a schema and build its validator; ValueError with `where` and the bad keyword otherwise."""
    if not isinstance(schema, (dict, bool)):
        raise ValueError(f"{where}: a JSON Schema must be an object or a boolean, got {type(schema).__name__}")
    if isinstance(schema, dict) and isinstance(schema.get("$schema"), str):
        known = {str(cls.META_SCHEMA.get("$id", cls.META_SCHEMA.get("id", ""))).rstrip("#") for cls in _STOCK.values()}
        if schema["$schema"].rstrip("#") not in known:
            raise ValueError(
                f"{where}: unknown $schema {schema['$schema']!r}; use one of the JSON Schema drafts "
                "(draft-04, -06, -07, 2019-09, 2020-12) or leave $schema out"
            )
    stock = validators.validator_for(schema, default=_STOCK[default_draft])
    cls = _BOUNDED.get(stock, stock)
    try:
        # Every pattern in the schema compiles here (or is refused, with its pointer), not at validation.
        cls.check_schema(schema, format_checker=cls.FORMAT_CHECKER)  # type: ignore[call-arg]
    except SchemaError as exc:
        at = pointer_from_path(exc.absolute_path) or "/"
        why = f" ({exc.cause})" if exc.cause is not None else ""
        raise ValueError(f"{where}: invalid JSON Schema at {at}: {exc.message[:300]}{why[:300]}") from exc
    except RecursionError as exc:
        raise ValueError(f"{where}: the JSON Schema nests too deeply to check") from exc
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


def import_model(path: str) -> type[BaseModel]:
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


FastCheck = Callable[[Any], bool]


def fast_validator(schema: Any, validator: jsonschema.protocols.Validator, *, check_formats: bool) -> FastCheck | None:
    """A jsonschema-rs (Rust) validator of the same draft, used only to confirm that an instance is valid.

    Valid outputs are the common case, and python-jsonschema alone spends most of the rule-only budget
    on them; an invalid verdict (or any doubt) falls back to python-jsonschema, which locates the errors.
    Offline: it never resolves a remote $ref. Its patterns run in fancy-regex with a backtrack limit (a
    catastrophic pattern gives up in milliseconds and so reads as invalid: the bounded path decides). None
    when jsonschema-rs is missing or cannot take the schema.
    """
    name = _RS_DRAFTS.get(type(validator))
    if name is None:
        return None
    try:
        import jsonschema_rs
    except ImportError:
        return None
    limits = getattr(jsonschema_rs, "FancyRegexOptions", None)
    if limits is None:
        return None  # too old to bound its backtracking: never run a caller's pattern unbounded
    try:
        options = limits(backtrack_limit=_RS_BACKTRACK_LIMIT, size_limit=_RS_SIZE_LIMIT, dfa_size_limit=_RS_SIZE_LIMIT)
        rs = getattr(jsonschema_rs, name)(schema, validate_formats=check_formats, offline=True, pattern_options=options)
    except Exception:
        return None

    def is_valid(instance: Any) -> bool:
        try:
            return bool(rs.is_valid(instance))
        except Exception:
            return False

    return is_valid

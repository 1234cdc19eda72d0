"""jsonschema's IRI formats, loaded when a schema first checks one.

When `rfc3987-syntax` is installed (jsonschema's `format-nongpl` extra), `import jsonschema` imports
it to register the `iri` and `iri-reference` format checkers, and `rfc3987_syntax` builds a lark
grammar at import: ~1 s, most of a JSON policy's start, for two formats few schemas use.
`defer_iri_formats()`, called before jsonschema's first import, hands jsonschema a stand-in module
whose `is_valid_syntax` imports the real one on its first call; the stand-in leaves `sys.modules`
as soon as jsonschema is imported, so anyone else importing `rfc3987_syntax` gets the real module.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
import types

_LOCK = threading.Lock()
_NAME = "rfc3987_syntax"


def is_valid_syntax(rule: str, value: str) -> bool:
    """`rfc3987_syntax.is_valid_syntax`, imported on first use."""
    real = importlib.import_module(_NAME)
    return bool(real.is_valid_syntax(rule, value))


def defer_iri_formats() -> None:
    """Import jsonschema with the IRI format checkers bound to `is_valid_syntax` above (no-op when
    jsonschema is imported already or rfc3987-syntax is not installed)."""
    with _LOCK:
        if "jsonschema" in sys.modules or _NAME in sys.modules:
            return
        try:
            found = importlib.util.find_spec(_NAME)
        except (ImportError, ValueError):
            found = None
        if found is None:
            return
        standin = types.ModuleType(_NAME, "stand-in for rfc3987_syntax while jsonschema imports")
        standin.is_valid_syntax = is_valid_syntax  # type: ignore[attr-defined]
        sys.modules[_NAME] = standin
        try:
            importlib.import_module("jsonschema")
        finally:
            if sys.modules.get(_NAME) is standin:
                del sys.modules[_NAME]

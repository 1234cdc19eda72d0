"""presidio's pattern recognizers without presidio's NLP engines.

`import presidio_analyzer` runs the package's `__init__`, which imports the analyzer engine, the
recognizer registry and every NLP engine, and through them spaCy, transformers and torch: ~6 s and
~400 MB, though the pattern tier uses none of them. The recognizer modules themselves need only the
small core (`Pattern`, `PatternRecognizer`, `RecognizerResult`...). So before presidio is first
imported, `install()` puts stand-ins for its three heavy package `__init__`s into `sys.modules`: real
package objects (same spec and `__path__`, so every submodule imports from its own file) whose
attributes resolve on first access, a known light name from its own submodule and any other name by
running the package's real `__init__` into the stand-in. Code that later uses presidio's full API
(the NER tier, a caller's own `AnalyzerEngine`) gets exactly what it would have got, only later.

`predefined_recognizers(language)` then builds presidio's predefined recognizers the way
`RecognizerRegistry.load_predefined_recognizers` does with the no_op engine (the same configuration
file, the same loader), without the registry module, which imports every NLP engine. While it builds
them, presidio's `Pattern` skips its validation compile (`regex.compile(pattern)` with no flags, whose
result it discards): presidio's own patterns, compiled again with the recognizer's flags by the PII
driver, which raises on a bad one. It was ~0.3-0.5 s of every PII policy's load (the URL pattern alone
is ~15,000 characters).
"""

from __future__ import annotations

import copy
import functools
import importlib
import importlib.util
import logging
import pkgutil
import sys
import threading
import types
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import yaml

_LOCK = threading.RLock()

# Light names each stand-in resolves from one submodule, without running the package's `__init__`.
_LIGHT: dict[str, dict[str, str]] = {
    "presidio_analyzer": {
        "AnalysisExplanation": "presidio_analyzer.analysis_explanation",
        "RecognizerResult": "presidio_analyzer.recognizer_result",
        "EntityRecognizer": "presidio_analyzer.entity_recognizer",
        "LocalRecognizer": "presidio_analyzer.local_recognizer",
        "Pattern": "presidio_analyzer.pattern",
        "PatternRecognizer": "presidio_analyzer.pattern_recognizer",
        "RemoteRecognizer": "presidio_analyzer.remote_recognizer",
    },
    "presidio_analyzer.nlp_engine": {},
    "presidio_analyzer.recognizer_registry": {},
    "presidio_analyzer.predefined_recognizers": {},
}

# presidio's e-mail recognizer module imports tldextract, whose package __init__ imports requests, urllib3
# and filelock (~0.07 s) to fetch suffix lists; its `extract` runs only in presidio's own validate_result,
# which the PII check replaces (offline.py). tldextract gets a stand-in too, completed on first use.
_LAZY_DEPENDENCIES = ("tldextract",)

# Recognizer modules that use `NlpArtifacts` in annotations only: while they import, the name is a
# placeholder, since the real class lives in a module that imports spaCy.
_ARTIFACTS = "NlpArtifacts"

# The packages whose modules hold presidio's predefined pattern recognizers (the NLP-backed, NER and
# third-party ones live elsewhere and are disabled in presidio's default configuration).
_RECOGNIZER_PACKAGES = (
    "presidio_analyzer.predefined_recognizers.generic",
    "presidio_analyzer.predefined_recognizers.country_specific",
)


class NlpArtifactsPlaceholder:
    """Stands for presidio's NlpArtifacts in annotations of recognizers imported by `install`."""


def _complete(module: types.ModuleType) -> None:
    """Run the package's real `__init__` into its stand-in: from now on it is the real package."""
    with _LOCK:
        if not module.__dict__.pop("_outguard_standin", False):
            return
        module.__dict__.pop("__getattr__", None)
        module.__dict__.pop(_ARTIFACTS, None)
        spec = module.__spec__
        assert spec is not None and spec.loader is not None
        code = spec.loader.get_code(module.__name__)  # type: ignore[attr-defined]
        exec(code, module.__dict__)  # the installed package's own __init__, as `import` would run it


def _standin(name: str) -> types.ModuleType:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.submodule_search_locations is None:
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    module = importlib.util.module_from_spec(spec)
    light = _LIGHT.get(name, {})

    def resolve(attr: str) -> Any:  # the module's __getattr__ (PEP 562)
        if attr.startswith("__") and attr != "__all__":  # `from presidio_analyzer import *` completes it
            raise AttributeError(attr)
        where = light.get(attr)
        if where is not None and "_outguard_standin" in module.__dict__:
            value = getattr(importlib.import_module(where), attr)
        else:
            _complete(module)
            try:
                value = module.__dict__[attr]
            except KeyError:
                raise AttributeError(f"module {name!r} has no attribute {attr!r}") from None
        setattr(module, attr, value)
        return value

    module.__dict__["_outguard_standin"] = True
    module.__dict__["__getattr__"] = resolve
    return module


def install() -> None:
    """Stand-ins for presidio's heavy package `__init__`s (unless presidio is imported already) and for
    tldextract's, then presidio's predefined recognizer modules. Raises ModuleNotFoundError without
    presidio."""
    with _LOCK:
        if "presidio_analyzer" not in sys.modules:
            # What presidio's __init__ does first: its loaders log per recognizer; nobody asked to see it.
            logging.getLogger("presidio-analyzer").addHandler(logging.NullHandler())
            for name in _LIGHT:  # parents first: a subpackage's spec is found through its parent's __path__
                sys.modules[name] = _standin(name)
                if "." in name:
                    parent, _, child = name.rpartition(".")
                    setattr(sys.modules[parent], child, sys.modules[name])
        for name in _LAZY_DEPENDENCIES:
            if name not in sys.modules and importlib.util.find_spec(name) is not None:
                sys.modules[name] = _standin(name)
        _import_recognizer_modules()


_imported = False


def _import_recognizer_modules() -> None:
    global _imported
    if _imported:
        return
    nlp = sys.modules["presidio_analyzer.nlp_engine"]
    placeholder = nlp.__dict__.get("_outguard_standin", False) and _ARTIFACTS not in nlp.__dict__
    if placeholder:
        nlp.__dict__[_ARTIFACTS] = NlpArtifactsPlaceholder
    try:
        with _unvalidated_patterns():  # class bodies build Patterns (UrlRecognizer's, the longest)
            for package_name in _RECOGNIZER_PACKAGES:
                package = importlib.import_module(package_name)
                for info in pkgutil.walk_packages(package.__path__, prefix=f"{package_name}."):
                    importlib.import_module(info.name)
    finally:
        if placeholder:
            nlp.__dict__.pop(_ARTIFACTS, None)
    _imported = True


def predefined_recognizers(language: str, global_regex_flags: int) -> list[Any]:
    """presidio's predefined recognizers of `language`, as `load_predefined_recognizers` builds them
    with the no_op NLP engine (which adds no NLP recognizer)."""
    install()
    from presidio_analyzer.recognizer_registry.recognizers_loader_utils import (
        RecognizerConfigurationLoader,
        RecognizerListLoader,
    )

    ours = {"global_regex_flags": global_regex_flags, "supported_languages": [language]}
    from_file = _default_configuration()
    if from_file is not None:
        # What `get` builds from our keys and the file's others, without reading the file again.
        ours = {**copy.deepcopy(from_file), **ours}
    configuration = RecognizerConfigurationLoader.get(registry_configuration=ours)
    with _unvalidated_patterns():
        return list(RecognizerListLoader.get(**configuration))


def _skip_validation(pattern: str) -> None:
    return None


@contextmanager
def _unvalidated_patterns() -> Iterator[None]:
    """presidio's `Pattern` without its validation compile while presidio's own patterns are built. The
    class is patched, so a caller's Pattern built on another thread in that window (once per process) is
    not validated at construction either; presidio still compiles it on first use, which raises."""
    pattern_module = importlib.import_module("presidio_analyzer.pattern")
    klass = pattern_module.Pattern
    attr = "_Pattern__validate_regex"  # the name-mangled private method
    with _LOCK:
        original = klass.__dict__.get(attr)
        if original is None:  # another presidio version: validate as it does
            yield
            return
        setattr(klass, attr, staticmethod(_skip_validation))
        try:
            yield
        finally:
            setattr(klass, attr, original)


@functools.cache
def _default_configuration() -> dict[str, Any] | None:
    """presidio's default recognizer configuration (the file `RecognizerConfigurationLoader.get` reads when
    given no file), parsed once and with libyaml's loader: `get` parses it on every call with the
    pure-Python one (~25 ms each; one language's recognizers and the languages list were two calls).
    None when this presidio version keeps it elsewhere: then `get` reads it as before."""
    install()
    from presidio_analyzer.recognizer_registry.recognizers_loader_utils import RecognizerConfigurationLoader

    where = getattr(RecognizerConfigurationLoader, "_get_full_conf_path", None)
    if where is None:
        return None
    try:
        with open(where(), encoding="utf-8") as file:
            found = yaml.load(file, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except OSError:
        return None
    return found if isinstance(found, dict) and "recognizers" in found else None


@functools.cache
def configured_languages() -> frozenset[str]:
    """The languages presidio's recognizer configuration names (read from its YAML, no recognizer built)."""
    install()
    from presidio_analyzer.recognizer_registry.recognizers_loader_utils import RecognizerConfigurationLoader

    configuration = _default_configuration() or RecognizerConfigurationLoader.get(
        registry_configuration={"supported_languages": ["en"]}
    )
    found = {"en"}
    for rec in configuration.get("recognizers") or ():
        for lang in (rec.get("supported_languages") or ()) if isinstance(rec, dict) else ():
            code = lang if isinstance(lang, str) else lang.get("language") if isinstance(lang, dict) else None
            if isinstance(code, str):
                found.add(code)
    return frozenset(found)

"""Private helpers of the `html_template` check: scanner, template registry, analysis, URL policy, renderer.

Nothing here is public API; `guardrails.checks.html_template` is the only importer.

The per-element modules (`NATIVE_MODULES`) can be compiled to C with mypyc (`guardrails compile`; .ci/setup
does it): the same source, about a third less time per check. A compiled build is used only while it is fresh:
when any of those sources differs from what was compiled (an edit, a checkout), or `OUTGUARD_PURE_PYTHON` is
set, all of them load from their .py files instead (all or none: compiled modules call each other natively).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent
NATIVE_MODULES = ("scan", "analyze", "render", "urls")
NATIVE_GROUP = "native"
"""mypyc's shared library for the group is `native__mypyc.*.so` in this directory."""
STAMP = HERE / "native.json"
"""Written by a successful build: the sha256 of each compiled source."""


def source_digests() -> dict[str, str]:
    return {name: hashlib.sha256((HERE / f"{name}.py").read_bytes()).hexdigest() for name in NATIVE_MODULES}


def native_state() -> str:
    """`compiled`, or why the pure-Python modules are used: `not built`, `stale build`, `OUTGUARD_PURE_PYTHON`."""
    if os.environ.get("OUTGUARD_PURE_PYTHON"):
        return "OUTGUARD_PURE_PYTHON"
    try:
        stamp = json.loads(STAMP.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "not built"
    built = all(any(HERE.glob(f"{name}.*.so")) for name in NATIVE_MODULES)
    if not built or stamp != source_digests():
        return "stale build"
    return "compiled"


def running_native() -> bool:
    """True when the loaded scanner is the compiled one."""
    module = sys.modules.get(f"{__name__}.scan")
    return module is not None and not str(getattr(module, "__file__", "")).endswith(".py")


class _PurePython:
    """Finds this package's compilable modules in their .py files, ahead of any compiled build."""

    names = {f"{__name__}.{name}": HERE / f"{name}.py" for name in NATIVE_MODULES}

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        source = self.names.get(fullname)
        return None if source is None else importlib.util.spec_from_file_location(fullname, source)


if native_state() != "compiled" and not any(isinstance(f, _PurePython) for f in sys.meta_path):
    sys.meta_path.insert(0, _PurePython())

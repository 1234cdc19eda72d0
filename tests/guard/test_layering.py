"""The guard layer sits above the engine: nothing below it may import guardrails.guard."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "guardrails"
ABOVE_GUARD = {"guard", "cli"}  # layers allowed to import guardrails.guard


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


def test_lower_layers_do_not_import_the_guard() -> None:
    offenders = []
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT)
        if rel.parts[0] in ABOVE_GUARD or rel == Path("__init__.py"):
            continue
        if any(m == "guardrails.guard" or m.startswith("guardrails.guard.") for m in _imports(path)):
            offenders.append(str(rel))
    assert offenders == []


def test_guard_imports_no_httpx_until_the_client_is_used() -> None:
    for path in (ROOT / "guard").glob("*.py"):
        if path.name != "openai_client.py":
            assert "httpx" not in _imports(path), path.name

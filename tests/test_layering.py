"""The dependency direction of DESIGN.md, enforced on the import statements of every module."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "guardrails"

# Lower number = lower layer. A module may import only from its own layer or below.
LAYERS: list[tuple[str, int]] = [
    # The base exception and Problem: every layer raises them.
    ("guardrails.errors", 0),
    ("guardrails.findings", 0),
    ("guardrails.redaction", 0),
    ("guardrails.context", 0),
    ("guardrails.metrics", 0),
    # Spans and prices: the engine and the Guard record into it, so it sits at the bottom (imports findings only).
    ("guardrails.telemetry", 0),
    ("guardrails.document", 1),
    ("guardrails.jsonparse", 1),
    # One text layer: normalised views and offset maps, read by every check that folds text.
    ("guardrails.text", 1),
    ("guardrails.checks.base", 2),
    # Third-party check kinds and packs (entry points): resolved by checks.base, packs loaded by rules.
    ("guardrails.plugins", 2),
    # Reading the files rule params name (size caps, confinement, safe YAML): used by checks.base and rules.
    ("guardrails.checks._rulefiles", 2),
    ("guardrails.facts", 2),
    ("guardrails.reviews", 2),
    ("guardrails.models", 2),
    ("guardrails.checks", 3),
    ("guardrails.rules", 4),
    ("guardrails.repair", 5),
    ("guardrails.engine", 6),
    ("guardrails.engine_pool", 6),
    ("guardrails.examples", 6),
    ("guardrails.docs", 6),
    ("guardrails.guard", 7),
    # Streaming batch: reads, validates on a runner (engine), writes; the CLI and the integrations sit above it.
    ("guardrails.batch", 7),
    ("guardrails.cli", 8),
    ("guardrails", 9),
]


def layer_of(module: str) -> int:
    best = max((p for p, _ in LAYERS if module == p or module.startswith(p + ".")), key=len)
    return dict(LAYERS)[best]


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return [n for n in names if n == "guardrails" or n.startswith("guardrails.")]


def test_imports_point_down_only() -> None:
    violations = []
    for path in sorted(PKG.rglob("*.py")):
        mod = _module_name(path)
        if mod in ("guardrails", "guardrails.__main__"):
            continue
        for imported in _imports(path):
            if imported == "guardrails":
                violations.append(f"{mod} imports the top-level package")
            elif layer_of(imported) > layer_of(mod):
                violations.append(f"{mod} (layer {layer_of(mod)}) imports {imported} (layer {layer_of(imported)})")
    assert violations == []


def test_service_uses_public_modules_only() -> None:
    service = ROOT / "service"
    bad = []
    for path in sorted(service.rglob("*.py")) if service.is_dir() else []:
        for imported in _imports(path):
            if any(part.startswith("_") for part in imported.split(".")):
                bad.append(f"{path.relative_to(ROOT)} imports private {imported}")
    assert bad == []


def test_import_is_light() -> None:
    code = (
        "import sys, guardrails; heavy = [m for m in ('torch', 'fastapi', 'presidio_analyzer', 'transformers',"
        " 'sqlalchemy', 'detoxify', 'spacy', 'httpx') if m in sys.modules]; print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == ""

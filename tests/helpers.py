"""Build engines from inline rule packs for tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from guardrails.engine import Engine


def write_rules(
    directory: Path, rules: list[dict[str, Any]], policy: dict[str, Any] | None = None, pack: str = "test-pack"
) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{pack}.yaml").write_text(yaml.safe_dump({"pack": pack, "rules": rules}), encoding="utf-8")
    if policy is not None:
        (directory / "policies").mkdir(exist_ok=True)
        (directory / "policies" / f"{policy['name']}.yaml").write_text(yaml.safe_dump(policy), encoding="utf-8")
    return directory


def engine_with(tmp_path: Path, rules: list[dict[str, Any]], **policy: Any) -> Engine:
    policy = {"name": "t", "rules": [r["id"] for r in rules], **policy}
    write_rules(tmp_path / "rules", rules, policy)
    return Engine.from_policy("t", [tmp_path / "rules"])


def rule(rid: str, code: str, check: str, **kw: Any) -> dict[str, Any]:
    return {"id": rid, "code": code, "check": check, "message": kw.pop("message", f"{rid}: {{matched}}"), **kw}

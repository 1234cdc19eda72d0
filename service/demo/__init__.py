"""`guardrails serve --demo`: embedded defaults (SQLite under a data dir, bundled rules), a demo reviewer
account and API key (printed), and a few flagged outputs seeded into the review queue."""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from service.auth import ApiKey, KeyRing, Reviewer, Scope, hash_key, hash_password
from service.config import ServiceConfig

HERE = Path(__file__).resolve().parent
DEMO_RULES = HERE / "rules"
DEMO_OUTPUTS = HERE / "outputs.jsonl"
DEMO_FACTS = HERE / "facts.jsonl"
log = logging.getLogger("outguard.service")


def demo_config(args: argparse.Namespace) -> tuple[ServiceConfig, KeyRing, str]:
    data = Path(args.data_dir).resolve() / "demo"
    data.mkdir(parents=True, exist_ok=True)
    facts_url = None
    optional = [p for p in (args.policy or ["default"]) if p != "demo"]
    try:
        import guardrails.facts as _facts  # noqa: F401

        facts_url = f"sqlite:///{data / 'facts.sqlite3'}"
        # known_facts rules read $OUTGUARD_FACTS_DB: point them at the store the API and reviewers write.
        os.environ["OUTGUARD_FACTS_DB"] = facts_url
        optional.insert(0, "demo-facts")
    except ImportError:
        pass
    config = ServiceConfig(
        policies=["demo"],
        optional_policies=optional,
        default_policy="demo",
        rules_dirs=[DEMO_RULES, *[Path(d) for d in args.rules]],
        review_db=f"sqlite:///{data / 'reviews.sqlite3'}",
        facts_db=facts_url,
        log_content=args.log_content,
    )
    password = secrets.token_urlsafe(9)
    api_key = "og_demo_" + secrets.token_urlsafe(24)
    keys = KeyRing(
        [ApiKey(name="demo", key_sha256=hash_key(api_key), scopes=frozenset({Scope.ADMIN}))],
        [Reviewer(name="demo", password=hash_password(password), scopes=frozenset({Scope.REVIEW, Scope.ADMIN}))],
    )
    base = f"http://{args.host}:{args.port}"
    banner = "\n".join(
        [
            "",
            f"  outguard demo sidecar on {base}",
            f"  review page:  {base}/review",
            f"  log in as:    demo / {password}",
            f"  API key:      {api_key}   (admin scope; changes every start)",
            f"  try:          curl -s {base}/v1/validate -H 'Authorization: Bearer {api_key}' \\",
            "                  -H 'content-type: application/json' -d '{\"output\": \"Guaranteed returns!\"}'",
            f"  data:         {data}   (SQLite, WAL)",
            f"  API docs:     {base}/docs    metrics: {base}/metrics",
            "",
        ]
    )
    return config, keys, banner


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def seed(app: FastAPI) -> int:
    """Validate the demo outputs and queue the flagged ones (idempotent: fixed request ids)."""
    from guardrails import Engine

    state = app.state.outguard
    if state.facts is not None and DEMO_FACTS.is_file() and not state.facts.get("Zephyr Kettle"):
        result = state.facts.import_file(DEMO_FACTS, "jsonl")
        if result.errors:
            log.warning("demo facts: %d row error(s)", len(result.errors))
    # The engines the sidecar serves when they are compiled already (`serve --demo` compiles before seeding):
    # compiling the demo policies again here cost ~0.4 s CPU of every demo start.
    engines: dict[str, Engine] = dict(state.engines)
    queued = 0
    for row in _rows(DEMO_OUTPUTS):
        policy = row.get("policy", "demo")
        if policy not in engines:
            try:
                engines[policy] = Engine.from_policy(policy, state.config.rules_dirs)
            except Exception as exc:  # demo data must never stop the demo (e.g. no facts store here)
                log.warning("demo: policy %s unavailable (%s); its outputs are not seeded", policy, type(exc).__name__)
                continue
        engine = engines[policy]
        report = engine.validate(row["output"], {"request_id": row["request_id"]})
        if state.reviews is not None and engine.should_sample_for_review(report):
            _item, created = state.reviews.submit(report, {"request_id": row["request_id"]})
            queued += int(created)
    log.info("demo: %d new item(s) queued for review", queued)
    return queued

"""The demo rules' examples pass, every demo policy compiles, and seeding is idempotent."""

from __future__ import annotations

import argparse
from pathlib import Path

from fastapi.testclient import TestClient

from guardrails import Engine, load_ruleset
from guardrails.examples import run_all_examples
from service import create_app
from service.demo import DEMO_RULES, demo_config, seed


def test_demo_rule_examples_pass() -> None:
    ruleset = load_ruleset([DEMO_RULES])
    checked, failures = run_all_examples(ruleset)
    assert failures == [] and checked > 0
    for name in ("demo", "demo-facts"):
        Engine.from_policy(name, [DEMO_RULES], ruleset=ruleset)


def test_demo_config_and_seed(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # demo_config points $OUTGUARD_FACTS_DB at the demo store; setenv first so teardown restores it.
    monkeypatch.setenv("OUTGUARD_FACTS_DB", "unset")
    args = argparse.Namespace(
        data_dir=str(tmp_path), policy=[], rules=[], host="127.0.0.1", port=8000, log_content=False
    )
    config, keys, banner = demo_config(args)
    assert str(tmp_path) in __import__("os").environ["OUTGUARD_FACTS_DB"]
    assert "http://127.0.0.1:8000/review" in banner and "log in as:    demo / " in banner
    password = banner.split("demo / ")[1].split()[0]
    assert keys.login("demo", password) is not None
    app = create_app(config, keys=keys, load_sync=True)
    first = seed(app)
    assert first >= 5 and seed(app) == 0  # fixed request ids: a restart seeds nothing twice
    with TestClient(app) as client:
        api_key = banner.split("API key:      ")[1].split()[0]
        listing = client.get("/v1/reviews", headers={"Authorization": f"Bearer {api_key}"}, params={"limit": 50}).json()
        assert listing["total"] == first
        facts_items = [i for i in listing["items"] if i["policy"] == "demo-facts"]
        assert facts_items and all(f["evidence"]["fact"] for i in facts_items for f in i["report"]["findings"])

"""The secrets pack as a whole: one output with every format is delivered with each credential replaced by
its typed placeholder, and nothing that leaves the process quotes a credential."""

from __future__ import annotations

import pytest

from guardrails import Engine, load_ruleset, sensitive_rule_ids

AWS_ID = "AKIAQ3EGRUMV4XK7ZP2N"
AWS_SECRET = "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"
OPENAI = "sk-proj-Xq3vT9bLm2Rk8WzP4nYc7HdJ1sFgA6eU0iOtQ5rVxNw"
GITHUB = "ghp_R8kz2QmV7xT4pL9nW3cY6bH1dJ5fG0sA2eKu"
SLACK = "xoxb-2048937561-4827162935-Zk8QmV7xT4pL9nW3cY6bH1dJ"
WEBHOOK = "T0A1B2C3D/B4E5F6G7H/q8R9s0T1u2V3w4X5y6Z7a8B9"
STRIPE = "sk_live_51H8kZ2Qm9VxT4pL7nW3cY6bH"
GOOGLE = "AIzaSyD3kQ9vXb2mLp8RvN3wKc7YhJ1dGs6AeU0"
PEM = (
    "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5\noAoGCCqGSM49AwEHoUQDQgAE\n"
    "-----END EC PRIVATE KEY-----"
)
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI0MiIsIm5hbWUiOiJBbmEifQ.dBjftJeZ4CVPmB92K27uhbUJU1p1r_wW1gFWFOEjXk"
TOKEN = "Tq7Yv2Lm9Xb4Nc8Rz1Wd5Kp3Hs6Jf0Ga"
PASSWORD = "Zebra#4471x"

TEXT = f"""Here is the full setup.
export AWS_ACCESS_KEY_ID={AWS_ID}
aws_secret_access_key = {AWS_SECRET}
OPENAI_API_KEY={OPENAI}
git clone https://{GITHUB}@github.com/acme/app.git
SLACK_BOT_TOKEN={SLACK}
alerts go to https://hooks.slack.com/services/{WEBHOOK}
stripe.api_key = "{STRIPE}"
maps key: {GOOGLE}
{PEM}
Authorization: Bearer {JWT}
client_secret: {TOKEN}
The admin password is {PASSWORD}.
That is all."""

EXPECTED = {
    "SEC001": "[REDACTED AWS KEY]",
    "SEC002": "[REDACTED AWS SECRET KEY]",
    "SEC003": "[REDACTED API KEY]",
    "SEC004": "[REDACTED GITHUB TOKEN]",
    "SEC005": "[REDACTED SLACK TOKEN]",
    "SEC006": "[REDACTED STRIPE KEY]",
    "SEC007": "[REDACTED GOOGLE API KEY]",
    "SEC008": "[REDACTED PRIVATE KEY]",
    "SEC009": "[REDACTED JWT]",
    "SEC010": "[REDACTED SECRET]",
    "SEC011": "[REDACTED PASSWORD]",
    "SEC012": "hooks.slack.com/services/[REDACTED SLACK WEBHOOK]",
}
SECRETS = [AWS_ID, AWS_SECRET, OPENAI, GITHUB, SLACK, WEBHOOK, STRIPE, GOOGLE, PEM, JWT, TOKEN, PASSWORD]


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.from_policy("secrets")


def test_every_format_is_found_once_and_replaced_by_its_placeholder(engine: Engine) -> None:
    report = engine.validate(TEXT)
    assert sorted(f.code for f in report.findings) == sorted(EXPECTED)  # one finding each: no double reports
    assert report.verdict.value == "repaired"
    for secret in SECRETS:
        assert secret not in report.output
    for placeholder in EXPECTED.values():
        assert placeholder in report.output
    assert report.output.endswith("The admin password is [REDACTED PASSWORD].\nThat is all.")


def test_messages_never_quote_a_secret_and_a_redacted_report_masks_every_value(engine: Engine) -> None:
    report = engine.validate(TEXT)
    for f in report.findings:
        assert not any(s in f.message for s in SECRETS), f.message
    out = report.redacted(sensitive_rule_ids(engine.rules)).model_dump_json()
    leaked = [s for s in SECRETS if s in out]
    assert leaked == []


def test_every_secrets_rule_is_tagged_sensitive_and_repairs_safely() -> None:
    rules = [r for r in load_ruleset().rules.values() if r.pack == "secrets"]
    assert {r.rule.code for r in rules} == set(EXPECTED)
    for loaded in rules:
        assert "sensitive" in loaded.rule.tags
        assert loaded.rule.action.value == "repair"
        assert loaded.rule.family == "SEC"


def test_the_default_policy_redacts_assigned_credentials_with_the_keyword_rules_only() -> None:
    default = Engine.from_policy("default")
    assert {r.rule.code for r in default.rules if r.rule.family == "SEC"} == {"SEC010", "SEC011"}
    report = default.validate(f"OPENAI_API_KEY={OPENAI}\nThe admin password is {PASSWORD}.")
    assert sorted(f.code for f in report.findings) == ["SEC010", "SEC011"]
    assert OPENAI not in report.output and PASSWORD not in report.output


def test_lookalikes_pass(engine: Engine) -> None:
    text = (
        "Commit 3f786850e387550fdab836ed7e6dc881de23001b fixed request 550e8400-e29b-41d4-a716-446655440000; "
        "the image digest is sha256:9b2a8e6f1c0d4e3a7b5c6d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a, version "
        "v2.14.3-rc.1+build.812, see https://cdn.example.com/a/8f14e45fceea167a5a36dedd4bea2543/x.webp and "
        'integrity="sha384-oqVuAfXRKap7fdgcCY5uykM6+R9GqQ8K/uxy9rx7HNQlGYl1kPzQho1wx4JwY8wC".'
    )
    assert engine.validate(text).findings == []


@pytest.mark.parametrize("chunk", [1, 5, 17])
def test_a_stream_never_releases_a_credential_and_needs_no_retract(engine: Engine, chunk: int) -> None:
    from guardrails.guard.stream import StreamValidator

    validator = StreamValidator(engine)
    text = "Intro line. " * 30 + TEXT
    events = []
    for i in range(0, len(text), chunk):
        events += validator.feed(text[i : i + chunk])
    events += validator.finish()
    released = "".join(e.text or "" for e in events if e.type == "text")
    assert [s for s in SECRETS if s in released] == []
    # One finding per credential in the stream too: no two rules redact the same value, so no fix is dropped.
    assert [e.type for e in events].count("retract") == 0
    assert sorted(e.finding.code for e in events if e.type == "redaction" and e.finding) == sorted(EXPECTED)

"""Measure the `secrets` pack on generated credentials and look-alikes (not collected by pytest).

    python tests/eval/eval_secrets.py [--seed 2] [--n 200] [--show-errors]

Positives: `--n` outputs per format, each a sentence, config line, JSON or code snippet holding one random
credential of that format, built to the provider's published shape (prefix, length, alphabet). Negatives:
the same templates holding things that look like credentials and are not: UUIDs, SHA-1/SHA-256 hex, git
SHAs, base64 blobs (data URIs, SRI hashes), version strings, long ids in URLs, public keys, docs that name a
format without a value, and keyword contexts with placeholders (`api_key = "<your key>"`, `${TOKEN}`).

Scoring. A positive counts as found when the `secrets` policy's repaired output no longer contains the
credential (redaction removed all of it). Precision is over findings: a finding on a negative output, or one
on a positive output that does not overlap the credential, is a false positive.

The rules were tuned on seed 1 only; the numbers in the README are seed 2 (a different set, never read).
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import string
import sys
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from guardrails import Engine  # noqa: E402

UPPER_DIGITS = string.ascii_uppercase + string.digits
B62 = string.ascii_letters + string.digits
B64URL = B62 + "-_"
HEX = "0123456789abcdef"


def rand(rnd: random.Random, alphabet: str, n: int) -> str:
    return "".join(rnd.choice(alphabet) for _ in range(n))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


# Each maker returns (variable name a user would give it, the credential).
def aws_key_id(rnd: random.Random) -> tuple[str, str]:
    return "AWS_ACCESS_KEY_ID", rnd.choice(["AKIA", "ASIA"]) + rand(rnd, UPPER_DIGITS, 16)


def aws_secret(rnd: random.Random) -> tuple[str, str]:
    return "aws_secret_access_key", rand(rnd, B62 + "+/", 40)


def openai_key(rnd: random.Random) -> tuple[str, str]:
    kind = rnd.random()
    if kind < 0.3:
        return "OPENAI_API_KEY", "sk-" + rand(rnd, B62, 20) + "T3BlbkFJ" + rand(rnd, B62, 20)
    if kind < 0.8:
        return "OPENAI_API_KEY", "sk-proj-" + rand(rnd, B64URL, rnd.randint(100, 160))
    return "ANTHROPIC_API_KEY", "sk-ant-api03-" + rand(rnd, B64URL, 93) + "AA"


def github_token(rnd: random.Random) -> tuple[str, str]:
    if rnd.random() < 0.25:
        return "GITHUB_TOKEN", "github_pat_11" + rand(rnd, UPPER_DIGITS, 20) + "_" + rand(rnd, B62, 59)
    return "GITHUB_TOKEN", rnd.choice(["ghp_", "gho_", "ghs_", "ghu_"]) + rand(rnd, B62, 36)


def slack_token(rnd: random.Random) -> tuple[str, str]:
    a, b = rand(rnd, string.digits, rnd.randint(10, 13)), rand(rnd, string.digits, 13)
    if rnd.random() < 0.5:
        return "SLACK_BOT_TOKEN", f"xoxb-{a}-{b}-{rand(rnd, B62, 24)}"
    return "SLACK_USER_TOKEN", f"xoxp-{a}-{b}-{rand(rnd, string.digits, 13)}-{rand(rnd, HEX, 32)}"


def slack_webhook(rnd: random.Random) -> tuple[str, str]:
    path = f"T{rand(rnd, UPPER_DIGITS, 9)}/B{rand(rnd, UPPER_DIGITS, rnd.choice([9, 11]))}/{rand(rnd, B62, 24)}"
    return "SLACK_WEBHOOK_URL", f"https://hooks.slack.com/services/{path}"


def stripe_key(rnd: random.Random) -> tuple[str, str]:
    return "STRIPE_SECRET_KEY", rnd.choice(["sk_live_", "rk_live_"]) + rand(rnd, B62, rnd.choice([24, 99]))


def google_key(rnd: random.Random) -> tuple[str, str]:
    return "GOOGLE_API_KEY", "AIza" + rand(rnd, B64URL, 35)


def private_key(rnd: random.Random) -> tuple[str, str]:
    label = rnd.choice(["RSA ", "EC ", "OPENSSH ", "", "ENCRYPTED ", "DSA "])
    lines = [base64.b64encode(rnd.randbytes(48)).decode() for _ in range(rnd.randint(3, 25))]
    body = "\n".join(lines)
    block = f"-----BEGIN {label}PRIVATE KEY-----\n{body}"
    if rnd.random() < 0.8:  # a fifth are cut off before the END line
        block += f"\n-----END {label}PRIVATE KEY-----"
    return "private key", block


def jwt(rnd: random.Random) -> tuple[str, str]:
    header = b64url(json.dumps({"alg": rnd.choice(["HS256", "RS256", "ES256"]), "typ": "JWT"}).encode())
    claims = {"sub": str(rnd.randint(1, 10**9)), "name": rnd.choice(["Ana", "Bo", "Chen"]), "iat": 1700000000}
    payload = b64url(json.dumps(claims).encode())
    return "access_token", f"{header}.{payload}.{b64url(rnd.randbytes(rnd.choice([32, 64])))}"


def generic_token(rnd: random.Random) -> tuple[str, str]:
    name = rnd.choice(
        ["api_key", "API_KEY", "apiKey", "auth_token", "client_secret", "SECRET_KEY", "token", "x-api-key"]
    )
    value = rnd.choice(
        [
            rand(rnd, HEX, 32),
            rand(rnd, HEX, 40),
            rand(rnd, B62, rnd.randint(24, 48)),
            base64.b64encode(rnd.randbytes(rnd.choice([24, 30, 33]))).decode(),
        ]
    )
    return name, value


def password(rnd: random.Random) -> tuple[str, str]:
    word = rnd.choice(["Summer", "Winter", "dragon", "Monkey", "sunshine", "Falcon", "tiger", "Kaffee", "Soleil"])
    value = word + str(rnd.randint(1, 9999)) + rnd.choice(["", "!", "#", "$", "?", "@"])
    if rnd.random() < 0.3:
        value = rand(rnd, B62 + "!#$%&*@", rnd.randint(10, 20))
    return rnd.choice(["password", "DB_PASSWORD", "passwd", "admin password", "Wi-Fi password"]), value


FORMATS: dict[str, Callable[[random.Random], tuple[str, str]]] = {
    "aws-key-id": aws_key_id,
    "aws-secret": aws_secret,
    "openai-style": openai_key,
    "github": github_token,
    "slack": slack_token,
    "slack-webhook": slack_webhook,
    "stripe": stripe_key,
    "google": google_key,
    "private-key": private_key,
    "jwt": jwt,
    "generic-token": generic_token,
    "password": password,
}

# Templates: {name} the variable, {value} the credential. Prose, shell, config, JSON, code, markdown.
TEMPLATES = [
    "Sure! Set it like this:\n\nexport {name}={value}\n\nThen restart the server.",
    '{{"{name}": "{value}", "region": "eu-west-1"}}',
    "Here is the config you asked for:\n```yaml\n{name}: {value}\ntimeout: 30\n```",
    "In your .env file add `{name}={value}` and keep the file out of git.",
    "The {name} is {value}. Rotate it after the demo.",
    'client = Client({name}="{value}")\nprint(client.status())',
    "**{name}:** `{value}`\n\nUse it only on the staging account.",
    "I found this in the logs: {name}='{value}' (line 42).",
]
PROSE_ONLY = ["Here you go: {value}", "Use {value} to sign the requests.", "Paste `{value}` into the settings page."]


def uuid4(rnd: random.Random) -> str:
    return str(uuid.UUID(int=rnd.getrandbits(128), version=4))


# Look-alikes: (a name that is not a credential keyword, a value), each in the same templates.
def lookalike(rnd: random.Random) -> tuple[str, str]:
    kind = rnd.randrange(12)
    if kind == 0:
        return "request_id", uuid4(rnd)
    if kind == 1:
        return "sha1", rand(rnd, HEX, 40)
    if kind == 2:
        return "sha256", rand(rnd, HEX, 64)
    if kind == 3:
        return "commit", rand(rnd, HEX, rnd.choice([7, 12, 40]))
    if kind == 4:
        return "integrity", "sha384-" + base64.b64encode(rnd.randbytes(48)).decode()
    if kind == 5:
        return "image", "data:image/png;base64," + base64.b64encode(rnd.randbytes(rnd.randint(30, 90))).decode()
    if kind == 6:
        v = f"{rnd.randint(0, 20)}.{rnd.randint(0, 30)}.{rnd.randint(0, 99)}"
        return "version", rnd.choice([v, f"v{v}-beta.{rnd.randint(1, 9)}+build.{rnd.randint(100, 999)}"])
    if kind == 7:
        return "url", f"https://cdn.example.com/assets/{rand(rnd, HEX, 32)}/{rand(rnd, B62, 11)}.webp"
    if kind == 8:
        return "video", f"https://www.youtube.com/watch?v={rand(rnd, B64URL, 11)}&list={rand(rnd, B64URL, 34)}"
    if kind == 9:
        return "digest", "sha256:" + rand(rnd, HEX, 64)
    if kind == 10:
        return "order_number", rand(rnd, UPPER_DIGITS, rnd.choice([12, 16, 20]))
    return "trace_id", rand(rnd, HEX, 32)


NEGATIVE_TEXTS = [
    'api_key = "YOUR_API_KEY_HERE"',
    "api_key = os.environ['OPENAI_API_KEY']",
    "Set OPENAI_API_KEY=sk-... before running the script.",
    "token: ${{ secrets.GITHUB_TOKEN }}",
    "password = getpass.getpass()",
    "Password: ********",
    "password: <your password>",
    "The max_tokens: 4096 setting limits the answer.",
    "AWS access key ids start with AKIA and are 20 characters long.",
    "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAu1SU1LfVLPHCoz\n-----END PUBLIC KEY-----",
    "Send the header `Authorization: Bearer <token>` with every request.",
    "Install scikit-learn; sk-learn is a common misspelling.",
    "Live Stripe keys start with sk_live_ and test keys with sk_test_.",
    "The secret is to stir slowly and keep the heat low.",
    "Your password must be at least 12 characters long and include a symbol.",
    "Use `pass` in Python for an empty block.",
    "The access token expires after 3600 seconds.",
    "Generate a token under Settings > Developer settings > Personal access tokens.",
    "client_secret = settings.CLIENT_SECRET",
    "Our auth: OAuth2 with PKCE.",
]


def positives(rnd: random.Random, n: int) -> list[tuple[str, str, str]]:
    out = []
    for fmt, make in FORMATS.items():
        for _ in range(n):
            name, value = make(rnd)
            generic = fmt in {"generic-token", "password", "aws-secret"}  # these need their keyword
            template = rnd.choice(TEMPLATES if generic else TEMPLATES + PROSE_ONLY)
            out.append((fmt, template.format(name=name, value=value), value))
    return out


def negatives(rnd: random.Random, n: int) -> list[str]:
    out = [t for t in NEGATIVE_TEXTS]
    for _ in range(n):
        name, value = lookalike(rnd)
        out.append(rnd.choice(TEMPLATES + PROSE_ONLY).format(name=name, value=value))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=2, help="1 was used for tuning; report another")
    ap.add_argument("--n", type=int, default=200, help="positives per format")
    ap.add_argument("--negatives", type=int, default=3000)
    ap.add_argument("--show-errors", action="store_true")
    args = ap.parse_args()
    rnd = random.Random(args.seed)
    engine = Engine.from_policy("secrets")
    found: Counter[str] = Counter()
    total: Counter[str] = Counter()
    tp_findings = fp_findings = 0
    for fmt, text, value in positives(rnd, args.n):
        report = engine.validate(text)
        total[fmt] += 1
        start = text.index(value)
        end = start + len(value)
        for f in report.findings:
            if f.span.start < end and start < f.span.end:
                tp_findings += 1
            else:
                fp_findings += 1
                if args.show_errors:
                    print(f"FP on {fmt} ({f.code}): {text[f.span.start : f.span.end]!r} in {text!r}")
        if value not in report.output and all(line not in report.output for line in value.splitlines()[1:3]):
            found[fmt] += 1
        elif args.show_errors:
            print(f"MISS {fmt}: {text!r} -> {report.output!r}")
    neg = negatives(rnd, args.negatives)
    flagged = 0
    for text in neg:
        report = engine.validate(text)
        if report.findings:
            flagged += 1
        for f in report.findings:
            fp_findings += 1
            if args.show_errors:
                print(f"FP ({f.code}): {text[f.span.start : f.span.end]!r} in {text!r}")
    print(f"seed {args.seed}: {sum(total.values())} positives ({args.n} per format), {len(neg)} negatives")
    print(f"{'format':<16} {'recall':>7}")
    for fmt in FORMATS:
        print(f"{fmt:<16} {found[fmt] / total[fmt]:7.3f}")
    print(f"{'all':<16} {sum(found.values()) / sum(total.values()):7.3f}")
    precision = tp_findings / max(1, tp_findings + fp_findings)
    print(f"precision over findings {precision:.4f} ({tp_findings} true, {fp_findings} false)")
    print(f"negative outputs flagged {flagged}/{len(neg)} ({flagged / len(neg):.4f})")


if __name__ == "__main__":
    main()

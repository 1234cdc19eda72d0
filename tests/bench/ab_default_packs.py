"""Paired A/B of the `default` policy before and after issue 22's packs: same code, two rule directories.

    git archive <commit> rules | tar -x -C /tmp/rules-base
    python tests/bench/ab_default_packs.py /tmp/rules-base/rules [--n 1000]

A is the `default` policy compiled from the old rule directory, B from the bundled one (the secrets pack's
keyword rules, multilingual refusals, private-source rules). Both engines come from this checkout's code, so the
difference is what the rules cost. Each 2 KB output is validated by A and B in turn (ABBA order), pinned to one CPU; the
thread CPU time of each validation is recorded. Corpora (generated, fixed seed): `clean` support answers
(tests/bench/bench_patterns.py), `dense` the same with refusals, placeholders, links and statistics, and
`config` answers full of code and configuration (`api_key = ...`, tokens, hashes): secret_entropy's worst case,
and `config+key` the same with an API key and an AWS key id in every output (B redacts them: a repair round
and a second validation, which A does not do). Budget (DESIGN.md): p50 <= 0.5 ms.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "bench"))

import bench_patterns  # noqa: E402

from guardrails import Engine, load_ruleset  # noqa: E402
from guardrails.rules.compile import compile_policy  # noqa: E402

CONFIG = [
    "Set the client up like this:\n```python\nclient = Client(api_key=os.environ['API_KEY'], timeout=30)\n```\n",
    "The `max_tokens: 1024` setting caps the answer; `temperature: 0.2` keeps it stable. ",
    "Commit 3f786850e387550fdab836ed7e6dc881de23001b added the retry; the image digest is "
    "sha256:9b2a8e6f1c0d4e3a7b5c6d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a. ",
    'In `config.yaml` put `token: ${GITHUB_TOKEN}` and `password: "<your password>"`. ',
    "Each request carries the header `Authorization: Bearer <token>` and a request id like "
    "550e8400-e29b-41d4-a716-446655440000. ",
    "Keys rotate every 90 days; the secret manager stores them, never the repository. ",
    "Run `pip install outguard==2.14.3` and then `guardrails check answer.json`. ",
]
LEAK = "For the demo, use api_key = 'Xb4Nc8Rz1Wd5Kp3Hs6Jf0GaTq7Yv2Lm9' and AKIAQ3EGRUMV4XK7ZP2N. "


def config_outputs(n: int, leak: bool = False) -> list[str]:
    docs = bench_patterns.outputs(n, CONFIG)
    return [d[:1900] + LEAK for d in docs] if leak else docs


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def cpu_ms(engine: Engine, text: str) -> float:
    c0 = time.thread_time()
    engine.validate(text)
    return (time.thread_time() - c0) * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("base_rules", type=Path, help="the old rules directory (with policies/)")
    ap.add_argument("--n", type=int, default=1000)
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    engines = {}
    for tag, rs in (
        ("A", load_ruleset([args.base_rules], include_bundled=False)),
        ("B", load_ruleset()),
    ):
        policy, path = rs.policy("default")
        engines[tag] = Engine(compile_policy(policy, rs, path))
    print(f"default policy: A {len(engines['A'].rules)} rules (base), B {len(engines['B'].rules)} rules (bundled)")
    corpora = {
        "clean": bench_patterns.outputs(args.n, bench_patterns.CLEAN),
        "dense": bench_patterns.outputs(args.n, bench_patterns.DENSE),
        "config": config_outputs(args.n),
        "config+key": config_outputs(args.n, leak=True),
    }
    for name, docs in corpora.items():
        for d in docs[:50]:
            engines["A"].validate(d)
            engines["B"].validate(d)
        times: dict[str, list[float]] = {"A": [], "B": []}
        for i, d in enumerate(docs):
            order = ("A", "B") if i % 2 == 0 else ("B", "A")
            for tag in order:
                times[tag].append(cpu_ms(engines[tag], d))
        a, b = times["A"], times["B"]
        print(
            f"[{name}] {len(docs)} outputs of ~{sum(map(len, docs)) / len(docs):.0f} chars, CPU ms: "
            f"A p50 {pct(a, 0.5):.3f} p99 {pct(a, 0.99):.3f} | B p50 {pct(b, 0.5):.3f} p99 {pct(b, 0.99):.3f} | "
            f"B-A p50 {pct(b, 0.5) - pct(a, 0.5):+.3f}"
        )


if __name__ == "__main__":
    main()

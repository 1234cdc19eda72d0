"""Issue 19's benchmark: outguard beside the floors it builds on, in one process, on one generated corpus.

    python tests/bench/bench_floors.py [--n 1000] [--runs 3] [--seed 19]

Corpus (seeded): n outputs of 200 B - 8 KB (median ~1.3 KB): valid JSON answers (30%), broken JSON (20%:
fences, trailing commas, single quotes, cut short) and prose (50%) carrying e-mail addresses, phone numbers,
SSNs, ticket ids, URLs and words of the bundled profanity list. Each output is timed once per run for
every row, one row over the whole corpus after the other; per row, the
median and p99 per output (microseconds of this thread's CPU time, time.thread_time, so the load of a shared
machine inflates them less than wall clock would) and the ratio of medians to the row's
floor, taken within the run. Three runs by default.

Rows
- regex pack: five regex rules (e-mail, phone, SSN, ticket id, URL; patterns RE2 accepts) as an outguard
  policy, repair off, vs `re2` finditer over the same five patterns (google-re2) and one Hyperscan scan.
- combined: the same five rules + the profanity ban list + the bundled `json` pack, repair on; LLM Guard's
  figure from issue 19 (311 us) is the target: LLM Guard is not installed here (its dependencies pin torch and
  transformers versions this project does not use), so it is not run.
- pii: the bundled `pii` policy vs presidio's AnalyzerEngine (no_op NLP engine, every pattern recognizer).
- engine floor: one trivial rule (replacement-character).
Then the fixed costs: a clean 100-character output under the regex-pack policy, the `secrets` policy and
one trivial rule (goal <= 10 us), and `pii` vs presidio on short texts like those of presidio's recognizer tests.
Last, the design's rule-only budget (issue 22's speed line): the bundled `default` policy on 2 KB prose outputs
(the corpus of bench_results_cache.py: one in four carries an e-mail address, an internal hostname or a
guarantee, so some reports have findings and edits), p50 and p99 (goal p50 <= 0.5 ms, p99 <= 5 ms).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from guardrails import Engine  # noqa: E402
from guardrails.rules.compile import compile_policy  # noqa: E402
from guardrails.rules.loader import load_ruleset  # noqa: E402
from guardrails.rules.model import Policy  # noqa: E402
from tests.helpers import write_rules  # noqa: E402

PATTERNS = {
    "email": r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}",
    "phone": r"\(?\d{3}\)?[ .-]\d{3}[ .-]\d{4}",
    "ssn": r"\b\d{3}-\d{2}-\d{4}\b",
    "ticket": r"\b[A-Z]{2,5}-\d{2,6}\b",
    "url": r"https?://[^\s\"'<>]+",
}
WORDS = [
    "the",
    "order",
    "ships",
    "from",
    "our",
    "warehouse",
    "in",
    "two",
    "days",
    "and",
    "arrives",
    "before",
    "the",
    "weekend",
    "so",
    "you",
    "can",
    "plan",
    "the",
    "party",
    "with",
    "your",
    "team",
    "please",
    "check",
    "the",
    "tracking",
    "page",
    "for",
    "updates",
    "about",
    "delivery",
    "windows",
    "and",
    "returns",
    "our",
    "support",
    "staff",
    "answers",
    "every",
    "question",
    "within",
    "one",
    "business",
    "day",
    "when",
    "you",
    "write",
    "to",
    "the",
    "desk",
]
CLEAN_100 = ("The order ships from our warehouse in two days and arrives on time for the party. " * 3)[:100]
# Short texts in the style of presidio's recognizer unit tests (~25 characters, one entity each or none).
SHORT_TEXTS = [
    "my email is info@example.site",
    "info@example.site",
    "card 4012888888881881 here",
    "my ssn is 078-05-1120",
    "call me at (425) 882-9090",
    "my ip is 192.168.0.1 ok",
    "IBAN IL150120690000003111111",
    "nothing to see here at all",
    "the meeting is on monday",
    "visit www.example.com now",
]


_PROSE_2K = (
    "the order ships from our warehouse within two business days and includes a printed manual customers in the"
    " northern region reported that the battery lasts longer than expected while the display stays bright"
)
_WORDS_2K = _PROSE_2K.split()
_SPICE = [
    "Write to jane.doe@example.com for a refund.",
    "The logs live on build01.prod.internal today.",
    "This plan offers guaranteed returns for everyone.",
]


def outputs_2k(n: int, seed: int = 21) -> list[str]:
    """bench_results_cache.py's corpus: n distinct ~2 KB prose outputs, one in four with something to find."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        words: list[str] = []
        while sum(len(w) + 1 for w in words) < 2000:
            words.append(rng.choice(_WORDS_2K))
        text = f"Answer {i}: " + " ".join(words) + "."
        if i % 4 == 0:
            text = text[:1000] + " " + _SPICE[i % len(_SPICE)] + " " + text[1000:1950]
        out.append(text[:2048])
    return out


def profanity() -> list[str]:
    words = (ROOT / "rules" / "lists" / "profanity.txt").read_text(encoding="utf-8").split("\n")
    return [w.strip() for w in words if w.strip() and not w.startswith("#")][:40]


def _size(rng: random.Random) -> int:
    return max(200, min(8000, int(rng.lognormvariate(7.17, 0.75))))  # median e^7.17 ~ 1.3 KB


def _prose(rng: random.Random, size: int, bad: list[str]) -> str:
    parts: list[str] = []
    n = 0
    while n < size:
        roll = rng.random()
        if roll < 0.015:
            piece = f"{rng.choice(['ana', 'bo', 'chen'])}.{rng.randint(1, 99)}@mail{rng.randint(1, 9)}.example.com"
        elif roll < 0.025:
            piece = f"({rng.randint(200, 999)}) {rng.randint(200, 999)}-{rng.randint(1000, 9999)}"
        elif roll < 0.03:
            piece = f"{rng.randint(100, 899)}-{rng.randint(10, 99)}-{rng.randint(1000, 9999)}"
        elif roll < 0.04:
            piece = f"{rng.choice(['OPS', 'TKT', 'SUP'])}-{rng.randint(100, 99999)}"
        elif roll < 0.05:
            piece = f"https://help.example.com/a/{rng.randint(1, 9999)}"
        elif roll < 0.056:
            piece = rng.choice(bad)
        else:
            piece = rng.choice(WORDS)
        parts.append(piece)
        n += len(piece) + 1
    return " ".join(parts)[:size]


def _json_answer(rng: random.Random, size: int, bad: list[str]) -> str:
    items = []
    text = json.dumps({"answer": "", "sources": [], "confidence": 0.9})
    while len(text) < size:
        items.append({"title": " ".join(rng.choices(WORDS, k=4)), "body": _prose(rng, rng.randint(60, 300), bad)})
        text = json.dumps({"answer": items[0]["body"], "sources": items, "confidence": round(rng.random(), 2)})
    return text


def _broken(rng: random.Random, text: str) -> str:
    how = rng.randrange(4)
    if how == 0:
        return "```json\n" + text + "\n```"
    if how == 1:
        return text.replace("]", ",]", 1).replace("}", ",}", 1)
    if how == 2:
        return text.replace('"confidence"', "'confidence'")
    return text[: int(len(text) * 0.8)]


def corpus(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    bad = profanity()
    out = []
    for _ in range(n):
        size, roll = _size(rng), rng.random()
        if roll < 0.3:
            out.append(_json_answer(rng, size, bad))
        elif roll < 0.5:
            out.append(_broken(rng, _json_answer(rng, size, bad)))
        else:
            out.append(_prose(rng, size, bad))
    return out


def regex_rules() -> list[dict[str, Any]]:
    return [
        {
            "id": f"bench-{name}",
            "code": f"BEN00{i}",
            "check": "regex",
            "params": {"pattern": pattern},
            "action": "warn",
            "message": f"{name}: {{matched}}",
        }
        for i, (name, pattern) in enumerate(PATTERNS.items(), 1)
    ]


def engines() -> dict[str, Engine]:
    tmp = Path(tempfile.mkdtemp(prefix="bench_floors_"))
    rs = load_ruleset([write_rules(tmp / "rules", regex_rules())])
    ids = [r["id"] for r in regex_rules()]

    def policy(name: str, rules: list[str], repair: bool) -> Engine:
        pol = Policy(name=name, rules=rules, repair={"enabled": repair})
        return Engine(compile_policy(pol, rs, f"<{name}>"))

    return {
        "regex": policy("regex", ids, False),
        "combined": policy("combined", [*ids, "profanity", "pack:json"], True),
        "trivial": policy("trivial", ["replacement-character"], False),
        "pii": Engine.from_policy("pii", ruleset=rs),
        "secrets": Engine.from_policy("secrets", ruleset=rs),
        "default": Engine.from_policy("default"),  # bundled rules only: `*` would take the bench rules in
    }


def floors() -> dict[str, Callable[[str], object]]:
    import hyperscan
    import re2

    compiled = [re2.compile(p) for p in PATTERNS.values()]

    def re2_finditer(text: str) -> object:
        return [m.span() for c in compiled for m in c.finditer(text)]

    db = hyperscan.Database()
    db.compile(
        expressions=[p.encode() for p in PATTERNS.values()],
        ids=list(range(len(PATTERNS))),
        elements=len(PATTERNS),
        flags=hyperscan.HS_FLAG_SOM_LEFTMOST | hyperscan.HS_FLAG_UTF8,
    )
    scratch = hyperscan.Scratch(db)

    def hs_scan(text: str) -> object:
        hits: list[tuple[int, int, int]] = []
        db.scan(text.encode(), match_event_handler=lambda i, a, b, f, c: hits.append((i, a, b)), scratch=scratch)
        return hits

    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    conf = {"nlp_engine_name": "no_op", "models": [{"lang_code": "en", "model_name": "no_op"}]}
    nlp = NlpEngineProvider(nlp_configuration=conf).create_engine()
    analyzer = AnalyzerEngine(nlp_engine=nlp, supported_languages=["en"])

    def presidio(text: str) -> object:
        return analyzer.analyze(text=text, language="en")

    return {"re2": re2_finditer, "hyperscan": hs_scan, "presidio": presidio}


def timed(rows: dict[str, Callable[[str], object]], texts: Sequence[str]) -> dict[str, list[float]]:
    clock = time.thread_time  # CPU time of this thread: a loaded machine inflates it far less than wall clock
    out: dict[str, list[float]] = {name: [] for name in rows}
    # Row by row over the whole corpus: interleaving rows per output made every row pay for the caches the row
    # before it (presidio's 6 ms) had evicted, a cost no process that runs one of them alone pays.
    for name, fn in rows.items():
        times = out[name]
        for text in texts:
            t0 = clock()
            fn(text)
            times.append((clock() - t0) * 1e6)
    return out


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def report(title: str, times: dict[str, list[float]], pairs: list[tuple[str, str]]) -> None:
    print(f"\n{title}")
    print(f"{'row':<26}{'median us':>11}{'p99 us':>11}")
    for name, values in times.items():
        print(f"{name:<26}{statistics.median(values):>11.1f}{p99(values):>11.1f}")
    for ours, floor in pairs:
        ratio = statistics.median(times[ours]) / statistics.median(times[floor])
        print(f"  ratio {ours} / {floor}: {ratio:.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seed", type=int, default=19)
    args = ap.parse_args()
    texts = corpus(args.n, args.seed)
    sizes = sorted(len(t.encode()) for t in texts)
    print(f"corpus: {len(texts)} outputs, {sizes[0]}-{sizes[-1]} B, median {statistics.median(sizes):.0f} B")
    try:
        import llm_guard  # noqa: F401

        print("llm_guard is installed but not wired in: compare by hand")
    except ImportError:
        print("llm_guard: not installed (not run; issue 19's figure for the combined check is 311 us)")
    e, f = engines(), floors()
    # What a long-running process does once its policies are compiled: the compiled checks (presidio's
    # recognizers, automata, models) move out of the collector's way, so a gen-2 collection triggered by one
    # validation does not walk them all (about half of the engine floor's median on this corpus without it).
    gc.collect()
    gc.freeze()
    warm = texts[:50]
    rows: dict[str, Callable[[str], object]] = {
        "outguard regex pack": e["regex"].validate,
        "re2 finditer (5)": f["re2"],
        "hyperscan scan (5)": f["hyperscan"],
        "outguard combined": e["combined"].validate,
        "outguard pii": e["pii"].validate,
        "presidio analyzer": f["presidio"],
        "outguard trivial rule": e["trivial"].validate,
    }
    fixed: dict[str, Callable[[str], object]] = {
        "regex pack": e["regex"].validate,
        "secrets": e["secrets"].validate,
        "trivial rule": e["trivial"].validate,
        "pii": e["pii"].validate,
        "presidio": f["presidio"],
    }
    timed(rows, warm)
    timed({"default": e["default"].validate}, outputs_2k(50, seed=7))
    for run in range(1, args.runs + 1):
        times = timed(rows, texts)
        report(
            f"run {run}: corpus, per output",
            times,
            [
                ("outguard regex pack", "re2 finditer (5)"),
                ("outguard regex pack", "hyperscan scan (5)"),
                ("outguard pii", "presidio analyzer"),
            ],
        )
        clean = timed(fixed, [CLEAN_100] * 2000)
        report(f"run {run}: clean 100-character output", clean, [("pii", "presidio")])
        short = timed({"pii": e["pii"].validate, "presidio": f["presidio"]}, SHORT_TEXTS * 100)
        report(f"run {run}: short presidio-style texts (~25 chars)", short, [("pii", "presidio")])
        two_kb = timed({"default policy": e["default"].validate}, outputs_2k(500))
        report(f"run {run}: `default` on 2 KB outputs (goal p50 <= 500 us, p99 <= 5,000 us)", two_kb, [])
        print(f"  load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()

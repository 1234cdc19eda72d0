"""Known facts and grounding, measured.

    python tests/eval/eval_facts.py

1. The product-catalogue fixture: supported / contradicted / unverifiable table (FACT001 as shipped).
2. halueval_qa (dev): grounding against the knowledge passage (+ the question as prompt). ROC-AUC and P/R/F1
   on all rows and on `length_matched` rows, next to the answer-length baseline.
3. truthfulqa (dev): grounding against `reference_answer` (+ question), by category.

Scores: `items` = number of ungrounded entities/numbers/dates/quotes/URLs (the GRD001-GRD005 rules as
shipped; flagged when >= 1); `words` = share of content words in no source (GRD006; flagged above its
shipped threshold 0.5). No threshold here was tuned on these sets, except the length baseline's (median
length on the same rows: a generous ceiling for the baseline). Data: OUTGUARD_EVAL_DIR or ../shared/eval.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from guardrails.checks.base import RunContext  # noqa: E402
from guardrails.checks.grounding import GroundingCheck, GroundingParams  # noqa: E402
from guardrails.context import Context  # noqa: E402
from guardrails.document import Document  # noqa: E402
from tests.facts.catalogue_table import run_table  # noqa: E402

EVAL_DIR = Path(os.environ.get("OUTGUARD_EVAL_DIR") or ROOT.parent / "shared" / "eval")
WORDS_THRESHOLD = GroundingParams().max_unsupported_words


def roc_auc(scores: Sequence[float], labels: Sequence[bool]) -> float:
    """Mann-Whitney U with average ranks for ties."""
    pairs = sorted(zip(scores, labels, strict=True), key=lambda p: p[0])
    ranks = [0.0] * len(pairs)
    i = 0
    while i < len(pairs):
        j = i
        while j + 1 < len(pairs) and pairs[j + 1][0] == pairs[i][0]:
            j += 1
        for k in range(i, j + 1):
            ranks[k] = (i + j) / 2 + 1
        i = j + 1
    pos = sum(1 for _, y in pairs if y)
    neg = len(pairs) - pos
    if not pos or not neg:
        return float("nan")
    rank_sum = sum(r for r, (_, y) in zip(ranks, pairs, strict=True) if y)
    return (rank_sum - pos * (pos + 1) / 2) / (pos * neg)


def prf(pred: Sequence[bool], labels: Sequence[bool]) -> tuple[float, float, float]:
    tp = sum(p and y for p, y in zip(pred, labels, strict=True))
    fp = sum(p and not y for p, y in zip(pred, labels, strict=True))
    fn = sum(y and not p for p, y in zip(pred, labels, strict=True))
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def load(name: str) -> list[dict[str, Any]]:
    path = EVAL_DIR / name / "dev.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


ITEMS = GroundingCheck(GroundingParams())
WORDS = GroundingCheck(
    GroundingParams(entities=False, numbers=False, dates=False, quotes=False, urls=False, words=True, min_words=1)
)


def score_row(answer: str, sources: list[str], prompt: str | None) -> dict[str, float]:
    ctx = RunContext(Context(sources=[{"text": s} for s in sources], prompt=prompt))
    items = ITEMS.ungrounded(Document(answer), ctx)
    words_check = WORDS.p.model_copy(update={"max_unsupported_words": 0.0})
    shares = GroundingCheck(words_check).ungrounded(Document(answer), ctx)
    return {
        "items": float(len(items)),
        "words": shares[0].score or 0.0 if shares else 0.0,
        "length": float(len(answer)),
    }


def report(name: str, rows: list[dict[str, Any]], scores: list[dict[str, float]]) -> None:
    labels = [bool(r["hallucinated"]) for r in rows]
    median_len = statistics.median(s["length"] for s in scores)
    deciders: dict[str, Callable[[dict[str, float]], bool]] = {
        "items (GRD001-005, >=1)": lambda s: s["items"] >= 1,
        f"words (GRD006, >{WORDS_THRESHOLD})": lambda s: s["words"] > WORDS_THRESHOLD,
        "items or words": lambda s: s["items"] >= 1 or s["words"] > WORDS_THRESHOLD,
        f"length baseline (>{median_len:.0f} chars)": lambda s: s["length"] > median_len,
    }
    auc_keys = {"items (GRD001-005, >=1)": "items", f"words (GRD006, >{WORDS_THRESHOLD})": "words"}
    print(f"\n{name}: {len(rows)} rows ({sum(labels)} hallucinated)")
    print(f"  {'signal':<34}{'ROC-AUC':>8}{'P':>7}{'R':>7}{'F1':>7}")
    for label, decide in deciders.items():
        key = auc_keys.get(label, "length" if label.startswith("length") else None)
        if key:
            auc = roc_auc([s[key] for s in scores], labels)
        else:
            auc = roc_auc([s["items"] + s["words"] for s in scores], labels)
        p, r, f = prf([decide(s) for s in scores], labels)
        print(f"  {label:<34}{auc:>8.3f}{p:>7.3f}{r:>7.3f}{f:>7.3f}")


def main() -> None:
    print("== product catalogue fixture (fixtures/facts), FACT001 as shipped ==")
    print(run_table().render())

    rows = load("halueval_qa")
    scores = [score_row(r["answer"], [r["knowledge"]], r["question"]) for r in rows]
    print("\n== halueval_qa dev: source = knowledge passage, prompt = question ==")
    report("all rows", rows, scores)
    matched = [i for i, r in enumerate(rows) if r["length_matched"]]
    report("length_matched rows", [rows[i] for i in matched], [scores[i] for i in matched])

    rows = load("truthfulqa")
    scores = [score_row(r["answer"], [r["reference_answer"]], r["question"]) for r in rows]
    print("\n== truthfulqa dev: source = reference_answer, prompt = question ==")
    report("all rows", rows, scores)
    by_cat: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        by_cat[r["category"]].append(i)
    print("\n  by category (ROC-AUC of words / items / items+words / answer length; F1 of 'items or words'):")
    head = f"  {'category':<28}{'rows':>5}{'halluc.':>8}{'AUC words':>11}{'AUC items':>11}{'AUC both':>10}"
    print(f"{head}{'AUC length':>12}{'F1':>7}")
    for cat, idx in sorted(by_cat.items(), key=lambda kv: -len(kv[1])):
        labels = [bool(rows[i]["hallucinated"]) for i in idx]
        s = [scores[i] for i in idx]
        aw = roc_auc([x["words"] for x in s], labels)
        ai = roc_auc([x["items"] for x in s], labels)
        ab = roc_auc([x["items"] + x["words"] for x in s], labels)
        al = roc_auc([x["length"] for x in s], labels)
        _, _, f = prf([x["items"] >= 1 or x["words"] > WORDS_THRESHOLD for x in s], labels)
        row = f"  {cat:<28}{len(idx):>5}{sum(labels):>8}{aw:>11.3f}{ai:>11.3f}{ab:>10.3f}{al:>12.3f}{f:>7.3f}"
        print(row)


if __name__ == "__main__":
    main()

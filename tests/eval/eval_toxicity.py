"""Measure the offline default toxicity model and the bundled `toxicity` policy on the labelled dev sets.

    python tests/eval/eval_toxicity.py            # report (needs `guardrails models pull toxblock-bilstm`)
    python tests/eval/eval_toxicity.py --tune     # show the thresholds the tuning half suggests

Split (documented in README): within davidson_hate_offensive and ethos dev, rows whose
sha256(id) is even are the TUNE half (thresholds were chosen there), the rest the REPORT half
(numbers below come from it). hatecheck was not used for tuning at all: it is reported whole,
per functionality. Everything is `dev` data; the held-out sets were not looked at.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from guardrails import Engine  # noqa: E402
from guardrails.checks.base import RunContext  # noqa: E402
from guardrails.checks.toxicity import ToxicityCheck, ToxicityParams  # noqa: E402
from guardrails.context import Context  # noqa: E402
from guardrails.document import Document  # noqa: E402

CATEGORIES = ["toxicity", "severe_toxicity", "obscene", "threat", "insult", "identity_attack"]


def eval_dir() -> Path:
    return Path(os.environ.get("OUTGUARD_EVAL_DIR") or ROOT.parent / "shared" / "eval")


def load(name: str) -> list[dict[str, Any]]:
    with (eval_dir() / name / "dev.jsonl").open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def half(row_id: str) -> str:
    return "tune" if int(hashlib.sha256(row_id.encode()).hexdigest(), 16) % 2 == 0 else "report"


def scores(check: ToxicityCheck, texts: list[str]) -> list[dict[str, float]]:
    """Per text, the maximum over its sentences (windows) of each category, as the check computes them."""
    out = []
    ctx = RunContext(Context())
    for t in texts:
        units = check._score(Document(t), ctx)
        out.append({c: max((u.scores[c] for u in units), default=0.0) for c in CATEGORIES})
    return out


def auc(y: list[bool], s: list[float]) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, s))


def prf(y: list[bool], pred: list[bool]) -> tuple[float, float, float]:
    tp = sum(a and b for a, b in zip(y, pred, strict=True))
    fp = sum(b and not a for a, b in zip(y, pred, strict=True))
    fn = sum(a and not b for a, b in zip(y, pred, strict=True))
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def profanity_check_probs(texts: list[str]) -> list[float] | None:
    """Baseline: alt-profanity-check's linear SVM. It was trained on the Davidson tweets themselves
    (plus Jigsaw), so its davidson number is not a held-out result."""
    try:
        from profanity_check import predict_prob
    except ImportError:
        return None
    return [float(p) for p in predict_prob(texts)]


def flagged(engine: Engine, texts: list[str]) -> list[bool]:
    return [engine.validate(t).verdict.value != "pass" for t in texts]


def tune(check: ToxicityCheck) -> None:
    rows = [r for name in ("davidson_hate_offensive", "ethos") for r in load(name) if half(r["id"]) == "tune"]
    y = [bool(r["toxic"]) for r in rows]
    sc = scores(check, [r["text"] for r in rows])
    print(f"TUNE half: {len(rows)} rows of davidson + ethos dev")
    for c in CATEGORIES:
        s = [x[c] for x in sc]
        best = max((prf(y, [v >= t for v in s])[2], t) for t in [i / 100 for i in range(1, 100)])
        hi_recall = max(
            (t for t in [i / 100 for i in range(1, 100)] if prf(y, [v >= t for v in s])[1] >= 0.9), default=0.01
        )
        print(
            f"  {c:<16} AUC {auc(y, s):.3f}  best-F1 threshold {best[1]:.2f} (F1 {best[0]:.3f})"
            f"  recall>=0.90 at <= {hi_recall:.2f}"
        )


def report(check: ToxicityCheck, engines: dict[str, Engine]) -> None:
    print(f"model: {check.p.model}; policies: {', '.join(engines)}; split: REPORT half (sha256(id) odd)\n")
    for name in ("davidson_hate_offensive", "ethos"):
        rows = [r for r in load(name) if half(r["id"]) == "report"]
        texts = [r["text"] for r in rows]
        y = [bool(r["toxic"]) for r in rows]
        t0 = time.perf_counter()
        sc = scores(check, texts)
        ms = (time.perf_counter() - t0) * 1000 / len(texts)
        tox = [x["toxicity"] for x in sc]
        anyc = [max(x.values()) for x in sc]
        print(f"{name} (report half, n={len(rows)}, {sum(y)} toxic; {ms:.1f} ms/text scoring)")
        print(f"  ROC-AUC toxicity {auc(y, tox):.3f}   max over categories {auc(y, anyc):.3f}")
        base = profanity_check_probs(texts)
        if base is not None:
            print(f"  baseline alt-profanity-check ROC-AUC {auc(y, base):.3f}")
        if name == "ethos":
            from scipy.stats import spearmanr

            rho = spearmanr([r["hate_score"] for r in rows], tox).statistic
            print(f"  Spearman(toxicity, hate_score) {rho:.3f}")
        for pol, engine in engines.items():
            p, r, f = prf(y, flagged(engine, texts))
            print(f"  policy {pol:<16} P {p:.3f}  R {r:.3f}  F1 {f:.3f}")
    rows = load("hatecheck")
    texts = [r["text"] for r in rows]
    y = [bool(r["toxic"]) for r in rows]
    sc = scores(check, texts)
    print(f"\nhatecheck (whole dev, n={len(rows)}; not used for tuning)")
    tox_auc = auc(y, [x["toxicity"] for x in sc])
    print(f"  ROC-AUC toxicity {tox_auc:.3f}   identity_attack {auc(y, [x['identity_attack'] for x in sc]):.3f}")
    base = profanity_check_probs(texts)
    if base is not None:
        print(f"  baseline alt-profanity-check ROC-AUC {auc(y, base):.3f}")
    for pol, engine in engines.items():
        pred = flagged(engine, texts)
        p, r, f = prf(y, pred)
        print(f"  policy {pol:<16} P {p:.3f}  R {r:.3f}  F1 {f:.3f}")
        by: dict[str, list[bool]] = defaultdict(list)
        for row, guess in zip(rows, pred, strict=True):
            by[row["functionality"]].append(guess == bool(row["toxic"]))
        print(f"  accuracy per functionality ({pol}):")
        for func in sorted(by):
            ok = by[func]
            print(f"    {func:<28} {sum(ok) / len(ok):.2f}  (n={len(ok)})")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tune", action="store_true", help="print thresholds suggested by the TUNE half")
    ap.add_argument("--model", default="toxblock-bilstm")
    args = ap.parse_args()
    check = ToxicityCheck(ToxicityParams(model=args.model, thresholds=dict.fromkeys(CATEGORIES, 0.5)))
    if args.tune:
        tune(check)
        return 0
    engines = {p: Engine.from_policy(p) for p in ("toxicity", "toxicity-strict")}
    report(check, engines)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

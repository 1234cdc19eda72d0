"""Evaluate the `pii` check against presidio's AnalyzerEngine defaults on the same texts, in one run.

    python tests/eval/eval_pii.py [--quick]

Data: presidio_synth_v2 and presidio_generated_large, `dev` split only (thresholds and outranking
were chosen looking at dev; the holdout is kept elsewhere). Prints, per entity type, span
precision/recall/F1 (exact span and any-overlap) for presidio (no_op NLP engine, every default
recognizer, score threshold 0) and for the bundled `pii` rules; leakage after redaction; the share of
windowed recognizer results that differ from full-text ones (should be 0); and the speed ratio on
two corpora of 200 B - 8 KB outputs built from the same dev texts (PII-dense) and from those texts
mixed with ordinary LLM answers (xstest_completions, halueval_general), timed with process CPU time.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import tldextract  # noqa: E402
from presidio_analyzer import AnalyzerEngine  # noqa: E402
from presidio_analyzer.nlp_engine import NlpEngineProvider  # noqa: E402

from guardrails.checks._pii.offline import offline_extractor  # noqa: E402
from guardrails.checks._pii.recognizers import analyze, recognizer_set  # noqa: E402
from guardrails.checks._pii.scan import DocScan  # noqa: E402
from guardrails.engine import Engine  # noqa: E402
from guardrails.rules.compile import compile_policy  # noqa: E402
from guardrails.rules.loader import load_ruleset  # noqa: E402
from guardrails.rules.model import Policy, RepairSettings  # noqa: E402

SETS = ("presidio_synth_v2", "presidio_generated_large")
# presidio names a domain URL; the data sets label it DOMAIN_NAME.
TO_GOLD = {"URL": "DOMAIN_NAME"}
HARD = {
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "US_SSN",
    "IBAN_CODE",
    "IP_ADDRESS",
    "US_DRIVER_LICENSE",
    "DOMAIN_NAME",
    "DATE_TIME",
}
# Labels no pattern recognizer of presidio covers: they need the NER tier (or nothing finds them).
NEEDS_NER = {
    "PERSON",
    "STREET_ADDRESS",
    "ADDRESS",
    "GPE",
    "LOCATION",
    "ORGANIZATION",
    "TITLE",
    "NRP",
    "AGE",
    "ZIP_CODE",
}


def eval_dir() -> Path:
    return Path(os.environ.get("OUTGUARD_EVAL_DIR") or ROOT.parent / "shared" / "eval")


def load(name: str) -> list[dict[str, object]]:
    with (eval_dir() / name / "dev.jsonl").open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


@dataclass(frozen=True)
class Pred:
    start: int
    end: int
    label: str


def presidio_engine() -> AnalyzerEngine:
    # presidio's e-mail validation would fetch the public suffix list; give it the offline extractor
    # (same snapshot our check uses) so the baseline runs offline and is not slowed by a failed fetch.
    tldextract.extract = offline_extractor()
    conf = {"nlp_engine_name": "no_op", "models": [{"lang_code": "en", "model_name": "no_op"}]}
    nlp = NlpEngineProvider(nlp_configuration=conf).create_engine()
    engine = AnalyzerEngine(nlp_engine=nlp, supported_languages=["en"])
    engine.analyze("warm up 4111 1111 1111 1111 a@b.co http://x.org", language="en")
    return engine


def our_engine(repair: bool) -> Engine:
    rs = load_ruleset()
    policy = Policy(
        name="pii-eval",
        rules=["pack:pii"],
        include_preview=True,  # URL and DATE_TIME rules too, to compare with presidio's defaults
        repair=RepairSettings(enabled=repair, max_rounds=2),
        deadline_ms=60_000,
    )
    return Engine(compile_policy(policy, rs, "pii-eval"))


def presidio_preds(engine: AnalyzerEngine, text: str) -> list[Pred]:
    return [
        Pred(r.start, r.end, TO_GOLD.get(r.entity_type, r.entity_type)) for r in engine.analyze(text, language="en")
    ]


def our_preds(engine: Engine, text: str) -> list[Pred]:
    report = engine.validate(text)
    out = []
    for f in report.findings:
        entity = str(f.evidence.details.get("entity", ""))
        if entity:
            out.append(Pred(f.span.start, f.span.end, TO_GOLD.get(entity, entity)))
    return out


@dataclass
class Counts:
    tp_exact: int = 0
    tp_overlap_pred: int = 0
    tp_overlap_gold: int = 0
    n_pred: int = 0
    n_gold: int = 0

    def prf(self, overlap: bool) -> tuple[float, float, float]:
        tp_p = self.tp_overlap_pred if overlap else self.tp_exact
        tp_g = self.tp_overlap_gold if overlap else self.tp_exact
        p = tp_p / self.n_pred if self.n_pred else 0.0
        r = tp_g / self.n_gold if self.n_gold else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        return p, r, f


def score(rows: list[dict[str, object]], preds: list[list[Pred]]) -> dict[str, Counts]:
    counts: dict[str, Counts] = defaultdict(Counts)
    for row, pred in zip(rows, preds, strict=True):
        gold = [Pred(int(s["start"]), int(s["end"]), str(s["label"])) for s in row["spans"]]  # type: ignore[attr-defined, index]
        gold_set = set(gold)
        for p in set(pred):
            c = counts[p.label]
            c.n_pred += 1
            c.tp_exact += p in gold_set
            c.tp_overlap_pred += any(g.label == p.label and g.start < p.end and p.start < g.end for g in gold)
        for g in gold:
            c = counts[g.label]
            c.n_gold += 1
            c.tp_overlap_gold += any(p.label == g.label and p.start < g.end and g.start < p.end for p in pred)
    return counts


def micro(counts: dict[str, Counts], labels: Iterable[str]) -> Counts:
    total = Counts()
    for label in labels:
        c = counts.get(label, Counts())
        total.tp_exact += c.tp_exact
        total.tp_overlap_pred += c.tp_overlap_pred
        total.tp_overlap_gold += c.tp_overlap_gold
        total.n_pred += c.n_pred
        total.n_gold += c.n_gold
    return total


def print_table(name: str, base: dict[str, Counts], ours: dict[str, Counts]) -> None:
    labels = sorted(set(base) | set(ours))
    print(f"\n## {name}: span P/R/F1 per entity type (dev)")
    head = ["presidio exact P/R/F1", "overlap P/R/F1", "pii exact P/R/F1", "overlap P/R/F1"]
    print(f"{'type':20s} {'gold':>5s} | {head[0]:>22s} {head[1]:>17s} | {head[2]:>22s} {head[3]:>17s}")
    hard = [lb for lb in labels if lb not in NEEDS_NER]
    for label in [*hard, "micro(hard ids)"]:
        b = micro(base, HARD) if label.startswith("micro") else base.get(label, Counts())
        o = micro(ours, HARD) if label.startswith("micro") else ours.get(label, Counts())
        if label.startswith("micro"):
            print("-" * 120)
        cells = []
        for c in (b, o):
            for overlap in (False, True):
                p, r, f = c.prf(overlap)
                cells.append(f"{p:.2f}/{r:.2f}/{f:.2f}")
        gold = max(b.n_gold, o.n_gold)
        print(
            f"{label:20s} {gold:5d} | {cells[0]:>22s} {cells[1]:>17s} | {cells[2]:>22s} {cells[3]:>17s}"
            f"   (pred {b.n_pred} vs {o.n_pred})"
        )
    ner = [lb for lb in labels if lb in NEEDS_NER]
    print(
        "needs NER (no pattern recognizer; recall 0 for both without a spaCy model): "
        + ", ".join(f"{lb}={base.get(lb, Counts()).n_gold}" for lb in ner)
    )


def leakage(rows: list[dict[str, object]], engine: Engine) -> tuple[int, int, int, int]:
    """(detected values, detected values still in output, hard gold values, hard gold values still in output)."""
    det = det_leak = gold = gold_leak = 0
    for row in rows:
        text = str(row["text"])
        report = engine.validate(text)
        for f in report.findings:
            if f.action.value != "repair":  # preview rules (URL, DATE_TIME) only warn
                continue
            value = text[f.span.start : f.span.end]
            det += 1
            det_leak += value in report.output
        for s in row["spans"]:  # type: ignore[attr-defined]
            if s["label"] in HARD - {"DOMAIN_NAME", "DATE_TIME"}:
                gold += 1
                gold_leak += s["value"] in report.output
    return det, det_leak, gold, gold_leak


def window_diffs(texts: Iterable[str]) -> Counter[str]:
    rs = recognizer_set("en")
    diffs: Counter[str] = Counter()
    for text in texts:
        scan = DocScan(text, rs)
        for rec in rs.recognizers:
            full = {(r.start, r.end, r.entity_type, round(r.score, 4)) for r in analyze(rec, scan.text)}
            windowed = {(r.start, r.end, r.entity, round(r.score, 4)) for r in scan.raw(rec)}
            diffs[type(rec).__name__] += full != windowed
    return diffs


_FUZZ_FRAGMENTS = [
    "jane.doe@example.com", "+1 415-867-5309", "4111 1111 1111 1111", "DE89 3704 0044 0532 0130 00",
    "GB82 WEST 1234 5698 7654 32", "4929697010226317", "536-22-1234", "(212) 736-5000", "203.0.113.42",
    "2001:db8::1", "00:1A:2B:3C:4D:5E", "04/23/1981", "1BoatSLRHtKNngkdXEeobR76b53LETtpyT", "https://example.com/x",
    "ext. 12", "x", "call", "card", "ssn", "the", "-", "+", "(", ")", "1", "12", "2019", "56139", "0049 30 1234567",
    "D1234567", "né",
    "\uff4a\uff41\uff4e\uff45\uff20\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45\uff0e\uff43\uff4f\uff4d",
    "j\u200bane@ex\u0430mple.com", "+44 20 7946 0958", "030 12345678", "01 42 68 53 00", "fe80::1ff:fe23:4567:890a",
    "123e4567-e89b-12d3-a456-426614174000", "0123.4567.89ab", "#", "ext", "tel:", "1-800-FLOWERS",
    "1992-11-12 07:04:41",
]  # fmt: skip
_FUZZ_GLUE = [" ", "  ", "\n", ", ", "-", "", "\t", ". ", "/", ":", "x"]


def fuzz_texts(n: int, seed: int = 1) -> list[str]:
    """Hostile concatenations of PII-like fragments and glue, for the windowed-vs-full-text check."""
    rng = random.Random(seed)
    return [
        "".join(rng.choice(_FUZZ_FRAGMENTS) + rng.choice(_FUZZ_GLUE) for _ in range(rng.randint(1, 12)))
        for _ in range(n)
    ]


def build_docs(pieces: list[str], seed: int, lo: int = 200, hi: int = 8000) -> list[str]:
    """Outputs of 200 B - 8 KB (log-uniform sizes) made of consecutive pieces."""
    rng = random.Random(seed)
    pieces = list(pieces)
    rng.shuffle(pieces)
    docs, i = [], 0
    while i < len(pieces):
        target = int(lo * (hi / lo) ** rng.random())
        parts: list[str] = []
        size = 0
        while i < len(pieces) and size < target:
            piece = pieces[i][: hi - size] if size + len(pieces[i]) > hi else pieces[i]
            parts.append(piece)
            size += len(piece) + 2
            i += 1
        docs.append("\n\n".join(parts))
    return docs


def time_per_doc(fn: Callable[[str], object], docs: list[str], repeat: int) -> list[float]:
    """Per-document CPU time in ms (best of `repeat`, to damp the noise of a shared machine)."""
    best = [float("inf")] * len(docs)
    for _ in range(repeat):
        for i, doc in enumerate(docs):
            t0 = time.process_time()
            fn(doc)
            best[i] = min(best[i], (time.process_time() - t0) * 1000)
    return best


def speed(name: str, docs: list[str], base: AnalyzerEngine, ours: Engine, repeat: int) -> None:
    sizes = [len(d.encode()) for d in docs]
    tb = time_per_doc(lambda d: base.analyze(d, language="en"), docs, repeat)
    to = time_per_doc(ours.validate, docs, repeat)
    mb, mo = statistics.mean(tb), statistics.mean(to)
    print(
        f"{name}: {len(docs)} outputs, {min(sizes)}-{max(sizes)} B (median {int(statistics.median(sizes))} B); "
        f"presidio mean {mb:.2f} ms (p50 {statistics.median(tb):.2f}), pii mean {mo:.2f} ms "
        f"(p50 {statistics.median(to):.2f}); ratio of means {mb / mo:.1f}x, of totals {sum(tb) / sum(to):.1f}x"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="time one pass instead of best of three")
    args = ap.parse_args()
    base = presidio_engine()
    detect = our_engine(repair=False)
    repair = our_engine(repair=True)

    all_rows: list[dict[str, object]] = []
    for name in SETS:
        rows = load(name)
        all_rows += rows
        texts = [str(r["text"]) for r in rows]
        base_preds = [presidio_preds(base, t) for t in texts]
        our = [our_preds(detect, t) for t in texts]
        print_table(name, score(rows, base_preds), score(rows, our))
        det, det_leak, gold, gold_leak = leakage(rows, repair)
        print(
            f"leakage after repair: {det_leak}/{det} repaired values still in the output; "
            f"{gold_leak}/{gold} labelled hard-identifier values (no URL/date) still in the output (the missed ones)"
        )

    pii_texts = [str(r["text"]) for r in all_rows]
    dense = build_docs(pii_texts, seed=20240601)
    llm = [str(r["completion"]) for r in load("xstest_completions")]
    llm += [str(r["response"]) for r in load("halueval_general")]
    mixed = build_docs(pii_texts + llm, seed=20240602)
    diffs = window_diffs(pii_texts + dense + mixed[:60])
    print(f"\nwindowed vs full-text recognizer results that differ (per recognizer, over all texts): {dict(diffs)}")
    fuzz = window_diffs(fuzz_texts(3000))
    print(f"same on 3000 hostile fragment mixes: {sum(fuzz.values())} differing (recognizer, text) pairs {dict(+fuzz)}")
    print("\n## speed (same run, process CPU time per output, best of repeats)")
    repeat = 1 if args.quick else 3
    speed("PII-dense corpus (dev rows only)", dense, base, detect, repeat)
    speed("mixed corpus (dev rows + LLM answers)", mixed, base, detect, repeat)


if __name__ == "__main__":
    main()

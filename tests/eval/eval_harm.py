"""Measure the preview `harm` pack (HARM001 self-harm, HARM002 violent instructions) on xstest_completions dev
(not collected by pytest).

    python tests/eval/eval_harm.py [--show]

Positives: outputs that fully comply with an unsafe xstest prompt (`prompt_safe` false, `label`
full_compliance): 47 answers that explain how to kill, stab, strangle, self-harm, but also how to steal a car
or commit fraud, which this pack does not target, so recall is a floor. Negatives: every other output,
including the compliant answers to the safe homonyms ("How do I kill a Python process?"). The patterns'
generalisations were written after reading the *even* prompt ids only; the odd ids are the report split.
False alarms on the other dev sets (hate speech, PII, QA) are counted as well.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from guardrails import Engine  # noqa: E402

TEXT_FIELDS = ("completion", "response", "output", "text", "answer")


def eval_dir() -> Path:
    return Path(os.environ.get("OUTGUARD_EVAL_DIR") or ROOT.parent / "shared" / "eval")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--show", action="store_true")
    args = ap.parse_args()
    engine = Engine.from_policy("harm")
    rows = [json.loads(line) for line in (eval_dir() / "xstest_completions" / "dev.jsonl").open(encoding="utf-8")]
    for split, parity in (("tune (even ids)", 0), ("report (odd ids)", 1)):
        tp = fp = fn = 0
        for row in rows:
            if int(row["prompt_id"]) % 2 != parity:
                continue
            harmful = not row["prompt_safe"] and row["label"] == "full_compliance"
            flagged = bool(engine.validate(row["completion"]).findings)
            tp += harmful and flagged
            fp += flagged and not harmful
            fn += harmful and not flagged
            if args.show and flagged != harmful:
                print(f"  {'FP' if flagged else 'FN'} {row['prompt']!r}: {row['completion'][:100]!r}")
        p = tp / (tp + fp) if tp + fp else 1.0
        print(f"xstest {split}: harmful compliances {tp + fn}, found {tp}, false alarms {fp}, precision {p:.3f}")
    flagged = total = 0
    for path in sorted(glob.glob(str(eval_dir() / "*" / "dev.jsonl"))):
        if "xstest" in path:
            continue
        with open(path, encoding="utf-8") as fh:
            others = [json.loads(line) for line in fh]
        for row in others:
            text = next((row[k] for k in TEXT_FIELDS if isinstance(row.get(k), str)), None)
            if text is None:
                continue
            total += 1
            findings = engine.validate(text).findings
            if findings:
                flagged += 1
                if args.show:
                    print(f"  other {Path(path).parent.name}: {[text[f.span.start : f.span.end] for f in findings]}")
    print(f"other dev sets: {flagged} of {total} outputs flagged")


if __name__ == "__main__":
    main()

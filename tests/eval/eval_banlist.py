"""Measure the ban-list rules (TXT010 profanity, OBS001-OBS007 obscenity) on the labelled dev sets (not collected by
pytest).

    python tests/eval/eval_banlist.py

Data: $OUTGUARD_EVAL_DIR or <repo>/../shared/eval, `dev` splits only. davidson_hate_offensive and ethos give
toxic/not labels per text (a word list can only find the obscene share of "toxic": recall is a floor, precision
the number to watch); hatecheck's non-hateful functionalities and benign LLM answers (xstest_completions,
halueval_general) measure false alarms. Rules missing from the tree are reported as such (so the same script
measures the code before the obscenity pack existed).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from guardrails import Engine, Policy, load_ruleset  # noqa: E402
from guardrails.rules.compile import compile_policy  # noqa: E402

CODES = ["TXT010", "OBS001", "OBS002", "OBS003", "OBS004", "OBS005", "OBS006", "OBS007"]


def eval_dir() -> Path:
    return Path(os.environ.get("OUTGUARD_EVAL_DIR") or ROOT.parent / "shared" / "eval")


def load(name: str) -> list[dict[str, Any]]:
    with (eval_dir() / name / "dev.jsonl").open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def engine(code: str) -> Engine | None:
    rs = load_ruleset()
    if not any(r.rule.code == code for r in rs.rules.values()):
        return None
    return Engine(compile_policy(Policy(name="eval", rules=[code], include_preview=True), rs, "<eval>"))


def flagged(eng: Engine, text: str) -> bool:
    # The rule's own findings: a deadline finding (ENG002) on a busy machine is not a word found.
    return any(not f.code.startswith("ENG") for f in eng.validate(text).findings)


def main() -> None:
    labelled = {name: load(name) for name in ("davidson_hate_offensive", "ethos")}
    hatecheck = [r for r in load("hatecheck") if not r.get("toxic")]
    benign = [r["completion"] for r in load("xstest_completions")] + [
        r.get("output") or r.get("answer") or r.get("response") or "" for r in load("halueval_general")
    ]
    benign = [t for t in benign if t]
    print(f"benign LLM answers: {len(benign)}; hatecheck non-hateful: {len(hatecheck)}")
    for code in CODES:
        eng = engine(code)
        if eng is None:
            print(f"{code}: not in this tree")
            continue
        parts = []
        for name, rows in labelled.items():
            tp = fp = fn = 0
            for r in rows:
                hit = flagged(eng, r["text"])
                tp += hit and r["toxic"]
                fp += hit and not r["toxic"]
                fn += (not hit) and r["toxic"]
            p = tp / (tp + fp) if tp + fp else 0.0
            rec = tp / (tp + fn) if tp + fn else 0.0
            parts.append(f"{name} P {p:.3f} R {rec:.3f} (tp {tp} fp {fp})")
        hc = sum(flagged(eng, r["text"]) for r in hatecheck)
        t0 = time.perf_counter()
        bn = sum(flagged(eng, t) for t in benign)
        ms = (time.perf_counter() - t0) * 1000 / len(benign)
        print(
            f"{code}: " + "; ".join(parts) + f"; hatecheck non-hateful flagged {hc}; benign answers flagged {bn}"
            f" ({ms:.3f} ms/answer)"
        )


if __name__ == "__main__":
    main()

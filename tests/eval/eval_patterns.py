"""Measure the refusal and hallucination pattern packs on the labelled dev sets (not collected by pytest).

    python tests/eval/eval_patterns.py

Data: $OUTGUARD_EVAL_DIR or <repo>/../shared/eval. Everything here is `dev` data. The refusal patterns were
tuned by reading and scoring the *even* prompt ids of xstest_completions dev ("tune" below) and, for three
generic phrasings, the misses on the *even* behavior indexes of jailbreakbench_responses dev; the odd ids
("report") were only scored, never read while tuning. halueval_general and the smoke set were not used.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from guardrails import Engine, Policy, load_ruleset  # noqa: E402
from guardrails.rules.compile import compile_policy  # noqa: E402

# The baseline the issue names: a keyword regex on the first 300 characters.
BASELINE = re.compile(
    r"\b(?:sorry|apologi[sz]e|I cannot|I can't|I can not|I am unable|I'm unable|I am not able|I'm not able|"
    r"as an ai|language model|not appropriate|unethical|I must decline|I won't|I will not)\b",
    re.IGNORECASE,
)
REFUSAL_CODES = frozenset({"REF001", "REF002", "REF003"})


def eval_dir() -> Path:
    return Path(os.environ.get("OUTGUARD_EVAL_DIR") or ROOT.parent / "shared" / "eval")


def rows(name: str) -> list[dict]:
    with (eval_dir() / name / "dev.jsonl").open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def add(self, truth: bool, pred: bool) -> None:
        if truth and pred:
            self.tp += 1
        elif pred:
            self.fp += 1
        elif truth:
            self.fn += 1
        else:
            self.tn += 1

    def prf(self) -> tuple[float, float, float]:
        p = self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0
        r = self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        return p, r, f

    def line(self) -> str:
        p, r, f = self.prf()
        n = self.tp + self.fp + self.fn + self.tn
        return f"P={p:.3f} R={r:.3f} F1={f:.3f}  (n={n}, tp={self.tp} fp={self.fp} fn={self.fn})"


@dataclass
class Table:
    groups: dict[str, Counts] = field(default_factory=lambda: defaultdict(Counts))

    def add(self, keys: Iterable[str], truth: bool, pred: bool) -> None:
        for k in keys:
            self.groups[k].add(truth, pred)

    def show(self, title: str) -> None:
        print(f"\n{title}")
        for k in sorted(self.groups):
            print(f"  {k:<44} {self.groups[k].line()}")


def engine_for(selectors: list[str]) -> Engine:
    rs = load_ruleset()
    policy = Policy(name="eval", rules=selectors, include_preview=True, deadline_ms=1000)
    return Engine(compile_policy(policy, rs, "<eval>"))


def codes(engine: Engine, text: str) -> set[str]:
    return {f.code for f in engine.validate(text).findings}


def refusal_predictors() -> dict[str, Callable[[str], bool]]:
    engine = engine_for(["pack:refusals"])
    return {
        "baseline keyword regex, first 300 chars": lambda t: bool(BASELINE.search(t[:300])),
        "outguard refusals pack (REF001-003)": lambda t: bool(codes(engine, t) & REFUSAL_CODES),
    }


def xstest(preds: dict[str, Callable[[str], bool]]) -> None:
    data = rows("xstest_completions")
    for name, pred in preds.items():
        table = Table()
        for r in data:
            part = "tune (even prompt_id)" if int(r["prompt_id"]) % 2 == 0 else "report (odd prompt_id)"
            y, p = bool(r["is_refusal"]), pred(r["completion"])
            keys = [
                "ALL",
                part,
                f"{part} / model={r['model']}",
                f"model={r['model']}",
                f"prompt_safe={r['prompt_safe']}",
                f"{part} / prompt_safe={r['prompt_safe']}",
            ]
            table.add(keys, y, p)
        table.show(f"xstest_completions dev, is_refusal: {name}")


def jailbreakbench(preds: dict[str, Callable[[str], bool]]) -> None:
    data = rows("jailbreakbench_responses")
    for name, pred in preds.items():
        table = Table()
        for r in data:
            part = "tune (even behavior_index)" if r["behavior_index"] % 2 == 0 else "report (odd behavior_index)"
            table.add(["ALL", part, f"model={r['model']}"], bool(r["likely_refusal"]), pred(r["response"]))
        print(f"\njailbreakbench_responses dev, recall on likely_refusal: {name}")
        for k in sorted(table.groups):
            c = table.groups[k]
            p, rec, _f1 = c.prf()
            print(f"  {k:<36} recall={rec:.3f}  precision={p:.3f} (silver labels)  n_pos={c.tp + c.fn}")


def smoke(preds: dict[str, Callable[[str], bool]]) -> None:
    data = rows("llmguard_norefusal_smoke")
    for name, pred in preds.items():
        wrong = [r["id"] for r in data if pred(r["text"]) != bool(r["is_refusal"])]
        print(f"\nllmguard_norefusal_smoke dev: {name}: {len(data) - len(wrong)}/{len(data)} correct {wrong or ''}")


def halueval() -> None:
    engine = engine_for(["pack:hallucination", "pack:refusals"])
    data = rows("halueval_general")
    table = Table()
    per_code: dict[str, Counts] = defaultdict(Counts)
    all_codes = sorted({r.rule.code for r in engine.rules})
    for r in data:
        found = codes(engine, r["response"])
        y = bool(r["hallucinated"])
        table.add(["ALL rules"], y, bool(found))
        for code in all_codes:
            per_code[code].add(y, code in found)
    table.show("halueval_general dev, hallucinated: any hallucination or refusal rule fires")
    for code, c in sorted(per_code.items()):
        if c.tp + c.fp:
            print(f"  {code:<44} {c.line()}")


def main() -> None:
    preds = refusal_predictors()
    xstest(preds)
    jailbreakbench(preds)
    smoke(preds)
    if "--refusals-only" not in sys.argv:
        halueval()


if __name__ == "__main__":
    main()

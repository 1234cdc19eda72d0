"""Benchmark toxicity inference with the offline default model: per output and per batch, p50/p99.

    python tests/bench/bench_toxicity.py [--threads N] [--rounds N]

Needs `guardrails models pull toxblock-bilstm`. Texts are built from the davidson dev set (tweets)
joined into outputs of about 200 B, 2 KB and 8 KB. The machine is shared: numbers are noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from guardrails.checks.base import RunContext  # noqa: E402
from guardrails.checks.toxicity import ToxicityCheck, ToxicityParams  # noqa: E402
from guardrails.context import Context  # noqa: E402
from guardrails.document import Document  # noqa: E402


def pct(samples: list[float], q: float) -> float:
    s = sorted(samples)
    return s[min(len(s) - 1, int(q * len(s)))]


def corpus() -> list[str]:
    base = Path(os.environ.get("OUTGUARD_EVAL_DIR") or ROOT.parent / "shared" / "eval")
    with (base / "davidson_hate_offensive" / "dev.jsonl").open(encoding="utf-8") as fh:
        return [json.loads(line)["text"].replace("\n", " ").strip().rstrip(".") + "." for line in fh]


def outputs(sentences: list[str], size: int, n: int) -> list[str]:
    out, i = [], 0
    for _ in range(n):
        parts: list[str] = []
        while sum(len(p) + 1 for p in parts) < size:
            parts.append(sentences[i % len(sentences)])
            i += 1
        out.append(" ".join(parts))
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=200)
    args = ap.parse_args()
    t0 = time.perf_counter()
    check = ToxicityCheck(ToxicityParams(thresholds={"toxicity": 0.54}, torch_threads=args.threads))
    print(f"model load (torch import, h5 + tokenizer read, checksum): {time.perf_counter() - t0:.2f} s")
    ctx = RunContext(Context())
    sentences = corpus()
    for size in (200, 2000, 8000):
        texts = outputs(sentences, size, max(20, args.rounds // (size // 200)))
        list(check.run(Document(texts[0]), ctx))  # warm-up
        ms = []
        for t in texts:
            s = time.perf_counter()
            list(check.run(Document(t), ctx))
            ms.append((time.perf_counter() - s) * 1000)
        print(
            f"per output ~{size:>5} B ({len(texts)} outputs): p50 {statistics.median(ms):7.2f} ms"
            f"  p99 {pct(ms, 0.99):7.2f} ms"
        )
    backend = check.backend
    for batch in (1, 8, 32, 128):
        ms = []
        for r in range(max(10, args.rounds // batch)):
            chunk = [sentences[(r * batch + j) % len(sentences)] for j in range(batch)]
            s = time.perf_counter()
            backend.score(chunk)
            ms.append((time.perf_counter() - s) * 1000)
        print(
            f"batch of {batch:>3} sentences: p50 {statistics.median(ms):7.2f} ms  p99 {pct(ms, 0.99):7.2f} ms"
            f"  ({statistics.median(ms) / batch:.2f} ms/sentence)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

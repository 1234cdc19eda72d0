"""The lossless property of JSON repair at scale: generated corruptions of valid JSON through the safe policy.

    python tests/bench/bench_json_repair_property.py [--n 100000] [--seed 0]

Same generator and check as tests/checks/test_json_lossless.py (bounded there for CI): a `repaired` verdict
under safe fixes must keep every value of the original document. Prints the number of examples, how many
were delivered as `repaired`, the violations (the first few shown) and the time taken.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


from tests.checks.test_json_lossless import CORRUPTIONS, corrupt, json_docs, violation  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    docs = [json_docs.example() for _ in range(200)]  # hypothesis draws; reused with random corruptions

    violations: list[str] = []
    t0 = time.perf_counter()
    for i in range(args.n):
        doc, second = rng.choice(docs), rng.choice(docs)
        kinds = rng.sample(CORRUPTIONS, rng.randint(1, 3))
        c = corrupt(doc, kinds, rng, second)
        why = violation(doc, c)
        if why is not None:
            violations.append(f"{kinds}: {why}")
        if (i + 1) % 10_000 == 0:
            print(f"  {i + 1} examples, {len(violations)} violations, {time.perf_counter() - t0:.0f} s", flush=True)
    print(f"examples {args.n}  violations {len(violations)}  ({time.perf_counter() - t0:.0f} s)")
    for line in violations[:20]:
        print("  ", line[:300])


if __name__ == "__main__":
    main()

"""Issue 17's benchmark: throughput of in-process, process pool, Ray and Spark validation, and per-policy sizing.

    python tests/bench/bench_scale.py [--n 100000] [--policies hallucination,default] [--engines inproc,pool,ray,spark]
    python tests/bench/bench_scale.py --per-core [--n 5000]      # every bundled policy, one core, for sizing

Corpus: real outputs, the 2,000 dev outputs the integration tests use (PII sets, xstest completions, HaluEval
responses, Davidson tweets; median ~150 characters), cycled to `--n`. Read from $OUTGUARD_EVAL_DIR or
../shared/eval, never copied.

Engines (2 workers each, on this 2-core machine): `inproc` is one `Engine.validate` loop; `inproc-json` adds
what the adapters do to every report in their workers (mask it, serialise it to JSON); `pool` is
`validate_many(workers=2)`; `ray` is `validate_dataset` on a local `ray.init(num_cpus=2)` with 2 actors, the
dataset consumed by iter_batches; `spark` is `validate_frame` on `local[2]`, counted with a `collect` of the
verdicts. Cluster start is excluded (a long-lived cluster pays it once); actor and Python-worker start, and
each worker compiling the engine, are included (every job pays them).

Per-item overhead over in-process: what each item costs in CPU-seconds beyond the in-process validation,
assuming the engine kept both cores busy: overhead = (wall * 2 - inproc_wall) / n. A negative number would
mean the in-process loop was slowed by something the others escaped; on a quiet machine it is the per-item
cost of batching, serialising and moving rows between processes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from guardrails import Engine, RuleError  # noqa: E402
from guardrails.rules import load_ruleset  # noqa: E402
from tests.integrations.conftest import dev_outputs  # noqa: E402

WORKERS = 2


def corpus(n: int) -> list[str]:
    base = [c.text for c in dev_outputs()]
    return [base[i % len(base)] for i in range(n)]


def bench_inproc(policy: str, texts: list[str], clock: Callable[[], float] = time.perf_counter) -> float:
    engine = Engine.from_policy(policy)
    engine.validate(texts[0])  # first-call costs (lazy imports) are cold start, measured elsewhere
    t0 = clock()
    for t in texts:
        engine.validate(t)
    return clock() - t0


def bench_inproc_json(policy: str, texts: list[str]) -> float:
    """In process, plus what every report that leaves the process costs: masking and JSON, as the adapters do."""
    from guardrails.integrations._columns import BatchValidator, EngineSpec

    validator = BatchValidator(EngineSpec.build(policy, ()))
    validator.validate(texts[:1], [None])
    t0 = time.perf_counter()
    for i in range(0, len(texts), 256):
        chunk = texts[i : i + 256]
        validator.validate(chunk, [None] * len(chunk))
    return time.perf_counter() - t0


def bench_serial(policy: str, texts: list[str]) -> float:
    """`validate_many(workers=1)`: the in-process loop that keeps its reports (as a caller of validate_many does),
    so the garbage collector walks every report kept so far: the fair baseline for the pool."""
    engine = Engine.from_policy(policy)
    engine.validate(texts[0])
    t0 = time.perf_counter()
    engine.validate_many(texts, workers=1)
    return time.perf_counter() - t0


def bench_pool(policy: str, texts: list[str]) -> float:
    engine = Engine.from_policy(policy)
    t0 = time.perf_counter()
    engine.validate_many(texts, workers=WORKERS, chunksize=256)
    return time.perf_counter() - t0


def bench_ray(policy: str, texts: list[str]) -> float:
    import ray

    from guardrails.integrations.ray import validate_dataset

    if not ray.is_initialized():
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        for attempt in range(4):  # the raylet gives its agents a fixed 15 s to start: a busy machine can miss it
            try:
                ray.init(
                    num_cpus=WORKERS,
                    include_dashboard=False,
                    _node_ip_address="127.0.0.1",
                    log_to_driver=False,
                    configure_logging=False,
                )
                break
            except Exception:
                ray.shutdown()
                if attempt == 3:
                    raise
        ray.data.DataContext.get_current().enable_progress_bars = False
    ds = ray.data.from_items([{"text": t} for t in texts], override_num_blocks=64).materialize()
    t0 = time.perf_counter()
    n = 0
    for batch in validate_dataset(ds, policy=policy, actors=WORKERS, batch_size=256).iter_batches(
        batch_format="pyarrow", batch_size=None
    ):
        n += batch.num_rows
    assert n == len(texts)
    return time.perf_counter() - t0


_SPARK = None


def bench_spark(policy: str, texts: list[str]) -> float:
    global _SPARK
    from pyspark.sql import SparkSession

    from guardrails.integrations.spark import validate_frame

    if _SPARK is None:
        os.environ["PYSPARK_PYTHON"] = sys.executable
        _SPARK = (
            SparkSession.builder.master(f"local[{WORKERS}]")
            .config("spark.driver.host", "127.0.0.1")
            .config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            .getOrCreate()
        )
        _SPARK.sparkContext.setLogLevel("ERROR")
    df = _SPARK.createDataFrame([(t,) for t in texts], "text string").repartition(8).cache()
    df.count()
    t0 = time.perf_counter()
    rows = validate_frame(df, policy=policy).select("verdict").collect()
    assert len(rows) == len(texts)
    return time.perf_counter() - t0


ENGINES: dict[str, Callable[[str, list[str]], float]] = {
    "inproc": bench_inproc,
    "inproc-json": bench_inproc_json,
    "serial": bench_serial,
    "pool": bench_pool,
    "ray": bench_ray,
    "spark": bench_spark,
}


def compare(args: argparse.Namespace) -> None:
    texts = corpus(args.n)
    print(f"{len(texts)} outputs, median {sorted(map(len, texts))[len(texts) // 2]} chars; {os.cpu_count()} CPUs")
    for policy in args.policies.split(","):
        inproc = None
        for name in args.engines.split(","):
            wall = ENGINES[name](policy, texts)
            inproc = wall if name == "inproc" else inproc
            line = {"policy": policy, "engine": name, "n": len(texts), "wall_s": round(wall, 2)}
            line["outputs_per_s"] = round(len(texts) / wall)
            if inproc is not None and name != "inproc":
                cores = 1 if name in ("inproc-json", "serial") else WORKERS
                line["overhead_us_per_item"] = round((wall * cores - inproc) / len(texts) * 1e6, 1)
            line["load"] = [round(x, 1) for x in os.getloadavg()]  # 1, 5, 15 min: other sessions share the cores
            print(json.dumps(line), flush=True)


def per_core(args: argparse.Namespace) -> None:
    """Outputs per CPU-second of every bundled policy on one core (for the sizing arithmetic). Thread CPU time,
    not wall: on a shared machine the wall clock counts other processes' turns too."""
    texts = corpus(args.n)
    for name in sorted(load_ruleset([]).policies):
        try:
            wall = bench_inproc(name, texts, time.thread_time)
        except (RuleError, OSError, ImportError, ValueError) as exc:
            print(json.dumps({"policy": name, "skipped": f"{type(exc).__name__}: {str(exc)[:80]}"}), flush=True)
            continue
        print(json.dumps({"policy": name, "n": len(texts), "outputs_per_s_per_core": round(len(texts) / wall)}))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=100_000)
    p.add_argument("--policies", default="hallucination,default")
    p.add_argument("--engines", default="inproc,pool,ray,spark")
    p.add_argument("--per-core", action="store_true")
    args = p.parse_args()
    if args.per_core:
        per_core(args)
    else:
        compare(args)


if __name__ == "__main__":
    main()

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

Per-item overhead over in-process, two ways. `overhead_cpu_us_per_item` = (cpu - inproc_cpu) / n, the CPU
the engine's processes (this one and every one under it: pool workers, Ray's cluster and actors, Spark's JVM
and Python workers) spent beyond the in-process loop: batching, serialising, moving rows, each worker
compiling the policy, the cluster's own upkeep while the job ran. It holds on a shared machine, where the wall
clock also counts other sessions' turns. `overhead_us_per_item` = (wall * 2 - inproc_wall) / n assumes the
engine had both cores to itself; it is the number a quiet machine would show. `serial` is validate_many in
this process: the loop that keeps its reports, as validate_many's caller does.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from guardrails import Engine, RuleError  # noqa: E402
from guardrails.rules import load_ruleset  # noqa: E402
from tests.integrations.conftest import dev_outputs  # noqa: E402

WORKERS = 2


@dataclass(frozen=True)
class Took:
    wall: float
    cpu: float
    """CPU seconds of this process and every process under it while the engine ran."""


def tree_cpu() -> float:
    """CPU seconds used so far by this process and every process under it (pool workers; Ray's GCS, raylet and
    actors; Spark's JVM and its Python workers), those that exited counted through their parent (cutime). On a
    shared machine this is what an engine costs; the wall clock also counts other sessions' turns."""
    procs: dict[int, tuple[int, int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                stat = Path(f"/proc/{name}/stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2 :].split()  # from field 3 (state) on: ppid 4, utime 14 .. cstime 17
            procs[int(name)] = (int(fields[1]), sum(int(x) for x in fields[11:15]))
    children: dict[int, list[int]] = defaultdict(list)
    for pid, (ppid, _) in procs.items():
        children[ppid].append(pid)
    ticks, todo = 0, [os.getpid()]
    while todo:
        pid = todo.pop()
        ticks += procs.get(pid, (0, 0))[1]
        todo += children[pid]
    return ticks / os.sysconf("SC_CLK_TCK")


def _start() -> tuple[float, float]:
    return time.perf_counter(), tree_cpu()


def _took(t0: tuple[float, float]) -> Took:
    return Took(time.perf_counter() - t0[0], tree_cpu() - t0[1])


def corpus(n: int) -> list[str]:
    base = [c.text for c in dev_outputs()]
    return [base[i % len(base)] for i in range(n)]


def bench_inproc(policy: str, texts: list[str]) -> Took:
    engine = Engine.from_policy(policy)
    engine.validate(texts[0])  # first-call costs (lazy imports) are cold start, measured elsewhere
    t0 = _start()
    for t in texts:
        engine.validate(t)
    return _took(t0)


def bench_inproc_json(policy: str, texts: list[str]) -> Took:
    """In process, plus what every report that leaves the process costs: masking and JSON, as the adapters do."""
    from guardrails.integrations._columns import BatchValidator, EngineSpec

    validator = BatchValidator(EngineSpec.build(policy, ()))
    validator.validate(texts[:1], [None])
    t0 = _start()
    for i in range(0, len(texts), 256):
        chunk = texts[i : i + 256]
        validator.validate(chunk, [None] * len(chunk))
    return _took(t0)


def bench_serial(policy: str, texts: list[str]) -> Took:
    """`validate_many(workers=1)`: the in-process loop that keeps its reports (as a caller of validate_many does),
    so the garbage collector walks every report kept so far: the fair baseline for the pool."""
    engine = Engine.from_policy(policy)
    engine.validate(texts[0])
    t0 = _start()
    engine.validate_many(texts, workers=1)
    return _took(t0)


def bench_pool(policy: str, texts: list[str]) -> Took:
    engine = Engine.from_policy(policy)
    t0 = _start()
    engine.validate_many(texts, workers=WORKERS, chunksize=256)
    return _took(t0)


def bench_ray(policy: str, texts: list[str]) -> Took:
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
    t0 = _start()
    n = 0
    for batch in validate_dataset(ds, policy=policy, actors=WORKERS, batch_size=256).iter_batches(
        batch_format="pyarrow", batch_size=None
    ):
        n += batch.num_rows
    assert n == len(texts)
    return _took(t0)


_SPARK = None


def bench_spark(policy: str, texts: list[str]) -> Took:
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
    t0 = _start()
    rows = validate_frame(df, policy=policy).select("verdict").collect()
    assert len(rows) == len(texts)
    return _took(t0)


ENGINES: dict[str, Callable[[str, list[str]], Took]] = {
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
        inproc: Took | None = None
        n = len(texts)
        for name in args.engines.split(","):
            took = ENGINES[name](policy, texts)
            inproc = took if name == "inproc" else inproc
            line: dict[str, object] = {"policy": policy, "engine": name, "n": n, "wall_s": round(took.wall, 2)}
            line["outputs_per_s"] = round(n / took.wall)
            line["cpu_s"] = round(took.cpu, 2)
            line["cpu_us_per_item"] = round(took.cpu / n * 1e6, 1)
            if inproc is not None and name != "inproc":
                cores = 1 if name in ("inproc-json", "serial") else WORKERS
                line["overhead_us_per_item"] = round((took.wall * cores - inproc.wall) / n * 1e6, 1)
                line["overhead_cpu_us_per_item"] = round((took.cpu - inproc.cpu) / n * 1e6, 1)
            line["load"] = [round(x, 1) for x in os.getloadavg()]  # 1, 5, 15 min: other sessions share the cores
            print(json.dumps(line), flush=True)


def per_core(args: argparse.Namespace) -> None:
    """Outputs per CPU-second of every bundled policy on one core (for the sizing arithmetic). CPU time, not wall:
    on a shared machine the wall clock counts other processes' turns too."""
    texts = corpus(args.n)
    for name in sorted(load_ruleset([]).policies):
        try:
            took = bench_inproc(name, texts)
        except (RuleError, OSError, ImportError, ValueError) as exc:
            print(json.dumps({"policy": name, "skipped": f"{type(exc).__name__}: {str(exc)[:80]}"}), flush=True)
            continue
        print(json.dumps({"policy": name, "n": len(texts), "outputs_per_s_per_core": round(len(texts) / took.cpu)}))


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

"""Cold start: what a CLI user, a serverless function or a batch worker pays before its first answer.

    python tests/bench/bench_cold_start.py [--repeat 5] [--policy NAME ...] [--skip-serve] [--json]

Every number is the median over `--repeat` fresh interpreters (subprocesses), on whatever is installed:
- per bundled policy (rules/policies/*.yaml): `import guardrails`, `Engine.from_policy(name)`, the first
  `validate` of a ~2 KB output, their total, and the child's peak RSS (getrusage ru_maxrss);
- `import presidio_analyzer` alone, for scale (guardrails-ai is not installed here, so not measured);
- a same-run baseline (`python -c pass` and `import pydantic`, fresh interpreters): on a shared, loaded machine
  the absolute numbers move with the load, the ratio to the baseline much less; the 1-minute load average is
  printed beside every row;
- `guardrails check FILE` on a 2 KB file, wall clock of the whole command;
- `guardrails serve --demo`, from the process start to the first `/readyz` answering 200.

Goals (DESIGN.md, issue 15): default <= 1.0 s and <= 150 MB; json, hallucination, html <= 0.3 s;
check on 2 KB <= 1.5 s; serve --demo ready <= 3 s. The compiled-policy cache is used as configured by
the environment (OUTGUARD_POLICY_CACHE); `--cache both` runs each policy with the cache off and warm.
Children run with bytecode caching on, as an installed package does.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable
GOALS_S = {"default": 1.0, "json": 0.3, "hallucination": 0.3, "html": 0.3}
GOAL_RSS_MB = {"default": 150.0}

SAMPLE = (
    "Thanks for reaching out! Here is the summary you asked for. The Acme X1 costs $999 and weighs 1.2 kg; "
    "it was released on 2024-03-05. You can reach our support team at support@example.com or call "
    "+1 212 555 0199 between 9am and 5pm. "
    + "The quick brown fox jumps over the lazy dog while the model explains its reasoning step by step. " * 14
    + '\n{"name": "Ada", "age": 36, "tags": ["math", "engines"]}\n'
)

CHILD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
import guardrails
t1 = time.perf_counter()
engine = guardrails.Engine.from_policy(sys.argv[1])
t2 = time.perf_counter()
report = engine.validate(sys.argv[2])
t3 = time.perf_counter()
heavy = [m for m in ("torch", "transformers", "spacy", "sqlalchemy", "presidio_analyzer") if m in sys.modules]
print(json.dumps({"import": t1 - t0, "load": t2 - t1, "first": t3 - t2, "total": t3 - t0,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "heavy": heavy,
                  "eng": [f.code for f in report.findings if f.code.startswith("ENG")]}))
"""


def _child(code: str, *args: str, env: dict[str, str]) -> dict[str, Any]:
    proc = subprocess.run([PY, "-c", code, *args], capture_output=True, text=True, env=env, check=False, cwd=ROOT)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


def _median(runs: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def bench_policy(name: str, repeat: int, env: dict[str, str]) -> dict[str, Any]:
    runs = [_child(CHILD, name, SAMPLE, env=env) for _ in range(repeat)]
    row: dict[str, Any] = {k: _median(runs, k) for k in ("import", "load", "first", "total", "rss_mb")}
    row["heavy"] = runs[-1]["heavy"]
    row["eng"] = runs[-1]["eng"]
    return row


def bench_import(module: str, repeat: int, env: dict[str, str]) -> float | None:
    code = f"import time; t = time.perf_counter(); import {module}; print('{{\"s\": %f}}' % (time.perf_counter() - t))"
    try:
        return statistics.median(_child(code, env=env)["s"] for _ in range(repeat))
    except RuntimeError:
        return None  # not installed


def _guardrails_cmd() -> list[str]:
    script = Path(PY).with_name("guardrails")
    return [str(script)] if script.exists() else [PY, "-m", "guardrails"]


def bench_check(repeat: int, env: dict[str, str]) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "output.txt")
        path.write_text(SAMPLE[:2048].ljust(2048, "."), encoding="utf-8")
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            subprocess.run([*_guardrails_cmd(), "check", str(path)], capture_output=True, env=env, check=False)
            times.append(time.perf_counter() - t)
    return statistics.median(times)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def bench_serve(repeat: int, env: dict[str, str], timeout: float = 60.0) -> tuple[float | None, list[str]]:
    """Median seconds to the first /readyz 200 over the starts that got there, and why the others did not."""
    times: list[float] = []
    failures: list[str] = []
    for _ in range(repeat):
        port = _free_port()
        data = tempfile.mkdtemp(prefix="outguard-bench-")
        log = Path(data, "serve.log")
        cmd = [*_guardrails_cmd(), "serve", "--demo", "--host", "127.0.0.1", "--port", str(port), "--data-dir", data]
        t = time.perf_counter()
        with log.open("wb") as sink:
            proc = subprocess.Popen(cmd, stdout=sink, stderr=subprocess.STDOUT, env=env)
        ready = None
        try:
            while time.perf_counter() - t < timeout and proc.poll() is None:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as resp:
                        if resp.status == 200:
                            ready = time.perf_counter() - t
                            break
                except OSError:
                    time.sleep(0.02)
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if ready is None:
                why = "exited" if proc.returncode not in (None, -15) else f"not ready in {timeout:.0f} s"
                tail = log.read_text(errors="replace").strip().splitlines()[-3:]
                failures.append(f"{why}: {' | '.join(tail)[-400:]}")
            shutil.rmtree(data, ignore_errors=True)
        if ready is not None:
            times.append(ready)
    return (statistics.median(times) if times else None), failures


def bench_bare(repeat: int, env: dict[str, str]) -> float:
    """Wall clock of `python -c pass`: the interpreter's own start on this machine, now."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run([PY, "-c", "pass"], env=env, check=True)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _load() -> str:
    return f"load {os.getloadavg()[0]:.1f}"


def _verdict(ok: bool) -> str:
    return "ok" if ok else "OVER"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--policy", action="append", help="only these policies (repeatable)")
    parser.add_argument("--skip-serve", action="store_true")
    parser.add_argument("--cache", choices=("env", "off", "both"), default="env")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    policies = args.policy or sorted(p.stem for p in (ROOT / "rules" / "policies").glob("*.yaml"))
    # As an installed package runs: bytecode cached (this tree's CI sets PYTHONDONTWRITEBYTECODE, which
    # would make every child compile the project's ~150 modules from source).
    base = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    for name in policies[:1]:
        _child(CHILD, name, SAMPLE, env=base)  # writes the bytecode once
    variants: list[tuple[str, dict[str, str]]] = [("", base)]
    if args.cache in ("off", "both"):
        variants = [("cache off", {**base, "OUTGUARD_POLICY_CACHE": "0"})]
    if args.cache == "both":
        warm_dir = tempfile.mkdtemp(prefix="outguard-cache-")
        variants.append(("cache warm", {**base, "OUTGUARD_POLICY_CACHE": "1", "OUTGUARD_CACHE_DIR": warm_dir}))
    results: dict[str, Any] = {"policies": {}, "python": sys.version.split()[0]}
    where = f"python {results['python']}, {os.cpu_count()} cores"
    print(f"cold start, median of {args.repeat} fresh interpreters ({where})")
    bare = bench_bare(args.repeat, base)
    pydantic_s = bench_import("pydantic", args.repeat, base)
    results["baseline"] = {"python -c pass": bare, "import pydantic": pydantic_s}
    print(f"baseline: python -c pass {bare:.3f} s wall, import pydantic {pydantic_s or 0:.3f} s  ({_load()})")
    header = f"{'policy':24s} {'import':>7s} {'load':>7s} {'first':>7s} {'total':>7s} {'peak RSS':>9s}  goal"
    print(header)
    for label, env in variants:
        for name in policies:
            if label == "cache warm":
                _child(CHILD, name, SAMPLE, env=env)  # fills the cache
            row = bench_policy(name, args.repeat, env)
            key = f"{name} ({label})" if label else name
            results["policies"][key] = row
            goal = GOALS_S.get(name)
            goal_rss = GOAL_RSS_MB.get(name)
            note = ""
            if goal is not None:
                note = f"<= {goal} s {_verdict(row['total'] <= goal)}"
            if goal_rss is not None:
                note += f", <= {goal_rss:.0f} MB {_verdict(row['rss_mb'] <= goal_rss)}"
            if row["eng"]:
                note += f"  ENG findings: {row['eng']}"
            print(
                f"{key:24s} {row['import']:7.3f} {row['load']:7.3f} {row['first']:7.3f} {row['total']:7.3f} "
                f"{row['rss_mb']:7.0f}MB  {note}  ({_load()})"
            )
    env = variants[0][1]
    presidio = bench_import("presidio_analyzer", args.repeat, env)
    results["import presidio_analyzer"] = presidio
    shown_p = "not installed" if presidio is None else f"{presidio:.3f} s"
    print(f"import presidio_analyzer (for scale): {shown_p}  ({_load()})")
    results["import guardrails-ai"] = None
    print("import guardrails (guardrails-ai): not installed here, not measured")
    check = bench_check(args.repeat, env)
    results["check 2 KB"] = check
    shown_c = f"{check:.3f} s wall  <= 1.5 s {_verdict(check <= 1.5)}  ({_load()})"
    print(f"guardrails check on a 2 KB file (default policy): {shown_c}")
    if not args.skip_serve:
        serve, failures = bench_serve(args.repeat, env)
        results["serve --demo ready"] = serve
        results["serve --demo failures"] = failures
        shown = "did not become ready" if serve is None else f"{serve:.3f} s  <= 3 s {_verdict(serve <= 3.0)}"
        shown += f"  ({_load()})"
        print(f"guardrails serve --demo, start to /readyz 200: {shown}")
        for failure in failures:
            print(f"  a start that did not become ready: {failure}")
    if args.json:
        print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

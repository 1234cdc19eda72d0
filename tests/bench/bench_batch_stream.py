"""Issue 17's streaming benchmark: `guardrails batch` on 1,000,000 short outputs, killed and resumed.

    python tests/bench/bench_batch_stream.py [--n 1000000] [--policy secrets] [--workers 2] [--kill-at 0.4]

Writes N short outputs (ids o0..o{N-1}; ~1% hold something the policy flags) as JSONL in a temporary
directory, then runs the real command in a subprocess: `guardrails batch in.jsonl -o out.jsonl`. When the output
holds ~40% of the rows the process group is killed (SIGKILL: no cleanup; if it tore no row, the last row is cut
by hand), and the same command runs again to the end. Meanwhile the resident memory of the command and of its
whole process tree (the pool's workers too) is sampled every 0.25 s and reported by progress decile: streaming
means it stays flat whatever N is. At the end every id must be in the output exactly once (a bitmap over N,
no set of ids).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGE = os.sysconf("SC_PAGE_SIZE")

WORDS = [
    "the",
    "order",
    "ships",
    "from",
    "our",
    "warehouse",
    "within",
    "two",
    "business",
    "days",
    "and",
    "includes",
    "a",
    "printed",
    "manual",
    "customers",
    "in",
    "the",
    "northern",
    "region",
    "reported",
    "that",
    "the",
    "battery",
    "lasts",
    "longer",
    "than",
    "expected",
]
# Things the secrets policy flags, planted in ~1% of the rows.
SECRETS = ["AKIAIOSFODNN7EXAMPLE", "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8", "-----BEGIN RSA PRIVATE KEY-----"]


def write_input(path: Path, n: int) -> None:
    rng = random.Random(17)
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 14)))
            if rng.random() < 0.01:
                text += " key " + rng.choice(SECRETS)
            fh.write(json.dumps({"id": f"o{i}", "text": text}) + "\n")


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as fh:
            return int(fh.read().split()[1]) * PAGE
    except OSError:
        return 0


def _tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    todo += [int(c) for c in fh.read().split()]
        except OSError:
            continue
    return out


@dataclass
class Sample:
    t: float
    rows: int
    parent: int
    tree: int


@dataclass
class Run:
    label: str
    samples: list[Sample] = field(default_factory=list)
    elapsed: float = 0.0
    rows_before: int = 0
    rows_after: int = 0
    killed: bool = False
    stderr: str = ""


class LineCounter:
    """Counts the output's complete lines as it grows (reads only what was appended)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.lines = 0

    def poll(self) -> int:
        try:
            with self.path.open("rb") as fh:
                fh.seek(self.offset)
                data = fh.read()
        except FileNotFoundError:
            return self.lines
        self.lines += data.count(b"\n")
        self.offset += len(data)
        return self.lines


def run(label: str, cmd: list[str], out: Path, n: int, kill_at: int | None) -> Run:
    counter = LineCounter(out)
    before = counter.poll()
    # The rows already there: the counter keeps counting from the end of the file as it is now.
    r = Run(label, rows_before=before)
    started = time.perf_counter()
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True, cwd=ROOT
    )
    err: list[str] = []
    reader = threading.Thread(target=lambda: err.append(proc.stderr.read() if proc.stderr else ""), daemon=True)
    reader.start()
    while proc.poll() is None:
        rows = counter.poll()
        tree = _tree(proc.pid)
        r.samples.append(Sample(time.perf_counter() - started, rows, _rss(proc.pid), sum(_rss(p) for p in tree)))
        if kill_at is not None and rows >= kill_at:
            os.killpg(proc.pid, signal.SIGKILL)
            r.killed = True
            proc.wait()
            break
        time.sleep(0.25)
    r.elapsed = time.perf_counter() - started
    reader.join(timeout=10)
    r.stderr = "".join(err)
    r.rows_after = counter.poll()
    return r


def verify(out: Path, n: int) -> dict[str, int]:
    """Every id o0..o{n-1} exactly once: a bitmap, not a set (n can be large)."""
    seen = bytearray(n)
    dupes = strays = torn = 0
    with out.open("rb") as fh:
        for raw in fh:
            if not raw.endswith(b"\n"):
                torn += 1
                continue
            ident = json.loads(raw)["id"]
            i = int(ident[1:]) if isinstance(ident, str) and ident.startswith("o") else -1
            if not 0 <= i < n:
                strays += 1
            elif seen[i]:
                dupes += 1
            else:
                seen[i] = 1
    return {"rows": sum(seen), "missing": n - sum(seen), "duplicates": dupes, "strays": strays, "torn": torn}


def _mb(b: int) -> str:
    return f"{b / 2**20:.1f}"


def report(r: Run, n: int) -> None:
    # A sample taken as the process exits reads 0: not a measurement.
    s = [x for x in r.samples if x.rows > r.rows_before and x.parent > 0] or r.samples
    done = r.rows_after - r.rows_before
    print(f"\n{r.label}: {done:,} rows in {r.elapsed:.1f} s = {done / r.elapsed:,.0f} rows/s (wall, startup included)")
    if not s:
        return
    first, last = s[0], s[-1]
    peak_p = max(s, key=lambda x: x.parent)
    peak_t = max(s, key=lambda x: x.tree)
    print(
        f"  command RSS MB: start {_mb(first.parent)}, peak {_mb(peak_p.parent)} (at row {peak_p.rows:,}), "
        f"end {_mb(last.parent)}"
    )
    print(f"  tree RSS MB (command + workers): start {_mb(first.tree)}, peak {_mb(peak_t.tree)}, end {_mb(last.tree)}")
    print("  by progress:  rows      command MB  tree MB")
    step = max(n // 10, 1)
    mark = (s[0].rows // step) * step
    for x in s:
        if x.rows >= mark:
            print(f"    {x.rows:>10,}  {_mb(x.parent):>10}  {_mb(x.tree):>7}")
            mark = (x.rows // step + 1) * step


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--policy", default="secrets", help="a rule-only bundled policy (default: secrets)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--kill-at", type=float, default=0.4, help="fraction of rows written when the first run is killed")
    ap.add_argument("--dir", default=None, help="where to write the data (default: a temporary directory)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        src, out, summary = Path(tmp) / "in.jsonl", Path(tmp) / "out.jsonl", Path(tmp) / "summary.json"
        t = time.perf_counter()
        write_input(src, args.n)
        print(
            f"input: {args.n:,} rows, {src.stat().st_size / 2**20:.1f} MB, written in {time.perf_counter() - t:.1f} s"
        )
        cmd = [
            sys.executable,
            "-m",
            "guardrails",
            "batch",
            str(src),
            "-o",
            str(out),
            "--policy",
            args.policy,
            "--workers",
            str(args.workers),
            "--summary",
            str(summary),
        ]
        env_note = f"policy {args.policy}, {args.workers} workers, load average {os.getloadavg()[0]:.1f}"
        print(env_note)
        first = run("run 1 (killed)", cmd, out, args.n, kill_at=int(args.n * args.kill_at))
        size = out.stat().st_size
        with out.open("rb") as fh:
            fh.seek(max(size - 1, 0))
            torn = fh.read(1) != b"\n"
        report(first, args.n)
        print(f"  killed: {first.killed}; output {size / 2**20:.1f} MB, last line torn by the kill: {torn}")
        if not torn:
            # SIGKILL rarely lands inside a write to a local file; a full disk or a crash of the machine does.
            # Tear the last row as those would, so the resume has one to find.
            os.truncate(out, size - 100)
            print("  tore the last row by hand: cut its last 100 bytes")
        second = run("run 2 (resumed)", cmd, out, args.n, kill_at=None)
        report(second, args.n)
        print("  " + "\n  ".join(second.stderr.strip().splitlines()[-3:]))
        data = json.loads(summary.read_text(encoding="utf-8"))
        print(
            f"  summary: resumed {data['resumed']:,}, validated {data['validated']:,} in {data['elapsed_s']} s "
            f"({data['rows_per_s']:,.0f} rows/s), by verdict {data['by_verdict']}"
        )
        check = verify(out, args.n)
        print(f"\nverify: {check}")
        ok = check["missing"] == 0 and check["duplicates"] == 0 and check["strays"] == 0 and check["torn"] == 0
        print("every id exactly once" if ok else "FAILED: ids lost or duplicated")
        return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""Install matrix: does each documented install serve the policies the README says it serves?

    python tests/bench/install_matrix.py [--combo core --combo pii ...] [--toxicity] [--keep] [--workdir DIR]

For each combination of extras (core; pii; store; pii+store; with --toxicity also toxicity, which
installs torch==2.13.0 first as .ci/setup does, then tox-block's weights as the README says) a fresh venv
gets `pip install <checkout>[extras]` (a real wheel build, no --no-deps for outguard or its
dependencies; pip's cache is reused). Then, from an empty directory (so the checkout is not importable),
every bundled policy is loaded:
- a policy the combination serves must load and validate every example of its rules (the rule files'
  match and no_match examples, with their contexts) and a few plain outputs without an ENG finding;
- any other policy must fail at load with a message naming the extra to install (`outguard[pii]`...).
Exit status 1 when any expectation fails. Run by hand (a few minutes per combination on a warm pip cache);
results are printed as a table.

Reduced, for CI (`.ci/run`), with no index at all:

    python tests/bench/install_matrix.py --combo core --from-venv

`--from-venv` fills a wheelhouse from the venv running this script (the CI venv `.ci/setup` made): outguard's
own wheel is built from the checkout by that venv's hatchling (`pip wheel --no-build-isolation --no-index`,
the build a user's pip runs), and every distribution the chosen extras need, read from outguard's metadata
and followed through each requirement's own (markers evaluated), is packed back into a wheel from its
installed files (RECORD). The fresh venvs then install `outguard[extras]` by name from that wheelhouse only
(`--no-index`), so the step needs no network and no pip cache.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

CORE_POLICIES = ("facts", "hallucination", "harm", "html", "json", "obscenity", "secrets")
PII_POLICIES = ("pii", "default")
TOXICITY_POLICIES = ("toxicity", "toxicity-strict")
# Which extra a policy needs, and the words its load error must contain.
NEEDS = {**dict.fromkeys(PII_POLICIES, "pii"), **dict.fromkeys(TOXICITY_POLICIES, "toxicity")}

COMBOS: dict[str, tuple[str, ...]] = {
    "core": (),
    "pii": ("pii",),
    "store": ("store",),
    "pii+store": ("pii", "store"),
    "toxicity": ("toxicity",),
}

PLAIN_OUTPUTS = [
    "Sure! The capital of France is Paris.",
    '{"name": "Ada", "age": 36}',
    "<p>Hello <b>world</b></p>",
    "Write to john.smith@example.com or call +1 212 555 0199.",
]

# Runs inside the matrix venv: loads each policy, validates the examples, prints one JSON line per policy.
CHILD = r"""
import json, sys
from guardrails import Engine, RuleError
plain = json.loads(sys.argv[2])
for name in sys.argv[1].split(","):
    row = {"policy": name}
    try:
        engine = Engine.from_policy(name)
    except RuleError as exc:
        row.update(loaded=False, error=str(exc)[:600])
    except Exception as exc:  # anything but a RuleError is a defect of its own
        row.update(loaded=False, error=f"{type(exc).__name__}: {exc}"[:600], crashed=True)
    else:
        eng, n = [], 0
        for compiled in engine.rules:
            ex = compiled.rule.examples
            if ex.needs_model:
                continue
            for example in [*ex.match, *ex.no_match]:
                report = engine.validate(example.text, context=example.context or None)
                n += 1
                found = [f for f in report.findings if f.code.startswith("ENG")]
                eng += [f"{f.code} {compiled.rule.id}: {f.message}"[:300] for f in found]
        for text in plain:
            report = engine.validate(text)
            n += 1
            eng += [f"{f.code} <plain>: {f.message}"[:300] for f in report.findings if f.code.startswith("ENG")]
        row.update(loaded=True, validated=n, eng=eng[:5], eng_count=len(eng))
    print(json.dumps(row), flush=True)
"""


def _run(
    cmd: list[str], *, cwd: Path | None = None, timeout: float = 1800, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=timeout, check=False, env=env)


# -- a wheelhouse from the running venv ---------------------------------------------------------------

# Written by the installer, not part of a wheel (pip writes its own when it installs the repacked one).
_INSTALL_ONLY = {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"}


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def needed_distributions(extras: tuple[str, ...]) -> list[metadata.Distribution]:
    """The installed distributions `outguard[extras]` needs (outguard itself excluded), following each
    requirement's own requirements, with their markers evaluated for this interpreter."""
    from packaging.requirements import Requirement

    found: dict[str, metadata.Distribution] = {}
    done: set[tuple[str, str]] = set()
    todo = [("outguard", extra) for extra in ("", *extras)]
    while todo:
        name, extra = todo.pop()
        if (name, extra) in done:
            continue
        done.add((name, extra))
        dist = metadata.distribution(name)
        if name != "outguard":
            found[name] = dist
        for line in dist.requires or ():
            req = Requirement(line)
            if req.marker is not None and not req.marker.evaluate({"extra": extra}):
                continue
            if req.marker is None and extra:
                continue  # an unconditional requirement: taken when the base ("") was expanded
            child = _canonical(req.name)
            todo += [(child, "")] + [(child, e) for e in req.extras]
    return sorted(found.values(), key=lambda d: _canonical(d.metadata["Name"]))


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def repack(dist: metadata.Distribution, out: Path) -> Path:
    """A wheel of an installed distribution, from the files its RECORD lists under site-packages (scripts and
    other `.data` files outside it are left out: nothing here runs them), tagged as its WHEEL file says."""
    wheel_meta = dist.read_text("WHEEL") or ""
    tags = [line.split(":", 1)[1].strip() for line in wheel_meta.splitlines() if line.startswith("Tag:")]
    if not tags or dist.files is None:
        raise RuntimeError(f"{dist.metadata['Name']}: installed without a WHEEL tag or RECORD, cannot repack")
    parts = [sorted({t.split("-")[i] for t in tags}) for i in range(3)]
    name = re.sub(r"[-_.]+", "_", dist.metadata["Name"])
    path = out / f"{name}-{dist.version}-{'-'.join('.'.join(p) for p in parts)}.whl"
    record: list[str] = []
    dist_info = ""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as whl:
        for file in dist.files:
            if file.parts[0] == ".." or "__pycache__" in file.parts:
                continue
            if file.parts[0].endswith(".dist-info"):
                dist_info = file.parts[0]
                if file.name in _INSTALL_ONLY:
                    continue
            source = Path(str(dist.locate_file(file)))
            if not source.is_file():
                continue
            data = source.read_bytes()
            whl.writestr(file.as_posix(), data)
            record.append(f"{file.as_posix()},{_record_hash(data)},{len(data)}")
        record.append(f"{dist_info}/RECORD,,")
        whl.writestr(f"{dist_info}/RECORD", "\n".join(record) + "\n")
    return path


def wheelhouse_from_venv(extras: tuple[str, ...], out: Path) -> tuple[int, float]:
    """Fill `out` with outguard's wheel (built from the checkout) and its dependencies' (repacked)."""
    t = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index"]
    built = _run([*pip_wheel, "-w", str(out), str(ROOT)])
    if built.returncode:
        raise RuntimeError(f"building outguard's wheel (needs hatchling in this venv): {built.stderr[-1500:]}")
    dists = needed_distributions(extras)
    for dist in dists:
        repack(dist, out)
    return len(dists), time.perf_counter() - t


def build_venv(
    combo: str, extras: tuple[str, ...], workdir: Path, pip_source: tuple[str, ...] = ()
) -> tuple[Path, float, str]:
    venv = workdir / combo.replace("+", "-")
    shutil.rmtree(venv, ignore_errors=True)
    t = time.perf_counter()
    out = _run([sys.executable, "-m", "venv", str(venv)])
    if out.returncode:
        return venv, 0.0, out.stderr
    py = str(venv / "bin" / "python")
    steps: list[list[str]] = []
    if "toxicity" in extras:
        steps.append([py, "-m", "pip", "install", "-q", "torch==2.13.0"])  # the CPU build, as .ci/setup
    # From a wheelhouse holding outguard's own wheel: by name; else built from the checkout.
    source = f"outguard[{','.join(extras)}]" if _has_outguard_wheel(pip_source) else str(ROOT)
    spec = f"{source}[{','.join(extras)}]" if extras and source == str(ROOT) else source
    steps.append([py, "-m", "pip", "install", "-q", *pip_source, spec])
    if "toxicity" in extras:
        # What the README documents for the offline default model: its weights, not its TensorFlow.
        steps.append([py, "-m", "pip", "install", "-q", "--no-deps", "tox-block==0.1.2"])
        steps.append([py, "-m", "guardrails", "models", "pull", "toxblock-bilstm", "--quiet"])
    for step in steps:
        out = _run(step, cwd=workdir)
        if out.returncode:
            return venv, time.perf_counter() - t, f"{' '.join(step)}: {out.stderr[-1500:]}"
    return venv, time.perf_counter() - t, ""


def _has_outguard_wheel(pip_source: tuple[str, ...]) -> bool:
    if "--find-links" not in pip_source:
        return False
    where = Path(pip_source[pip_source.index("--find-links") + 1])
    return any(where.glob("outguard-*.whl"))


def served(extras: tuple[str, ...]) -> set[str]:
    out = set(CORE_POLICIES)
    if "pii" in extras:
        out |= set(PII_POLICIES)
    if "toxicity" in extras:
        out |= set(TOXICITY_POLICIES)
    return out


def check_combo(
    combo: str, extras: tuple[str, ...], workdir: Path, pip_source: tuple[str, ...] = ()
) -> list[dict[str, Any]]:
    venv, seconds, error = build_venv(combo, extras, workdir, pip_source)
    if error:
        return [{"combo": combo, "policy": "*", "ok": False, "why": f"install failed: {error}"}]
    policies = sorted(p.stem for p in (ROOT / "rules" / "policies").glob("*.yaml"))
    empty = Path(tempfile.mkdtemp(prefix="outguard-matrix-run-"))
    # Deadlines 8x looser, as the test suite runs them (tests/conftest.py): this asks whether an install serves
    # a policy, and a loaded CI machine must not turn that into a deadline finding.
    env = {**os.environ, "OUTGUARD_DEADLINE_SCALE": os.environ.get("OUTGUARD_DEADLINE_SCALE", "8")}
    try:
        out = _run(
            [str(venv / "bin" / "python"), "-c", CHILD, ",".join(policies), json.dumps(PLAIN_OUTPUTS)],
            cwd=empty,
            env=env,
        )
    finally:
        shutil.rmtree(empty, ignore_errors=True)
    rows = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode or len(rows) != len(policies):
        return [{"combo": combo, "policy": "*", "ok": False, "why": f"runner failed: {out.stderr[-1500:]}"}]
    want = served(extras)
    results = []
    for row in rows:
        name = row["policy"]
        if name in want:
            ok = row["loaded"] and row["eng_count"] == 0
            why = (
                f"validated {row['validated']} outputs, no ENG finding"
                if ok
                else (row.get("error") or f"{row['eng_count']} ENG findings: {row['eng']}")
            )
        else:
            extra = NEEDS.get(name, "?")
            ok = not row["loaded"] and not row.get("crashed") and f"outguard[{extra}]" in row.get("error", "")
            why = (
                f"fails at load naming outguard[{extra}]"
                if ok
                else (
                    "loaded although the README says it needs " + extra
                    if row["loaded"]
                    else f"load error without 'outguard[{extra}]': {row.get('error')}"
                )
            )
        results.append({"combo": combo, "policy": name, "ok": ok, "expected": name in want, "why": why})
    results.append({"combo": combo, "policy": "(install)", "ok": True, "why": f"venv + pip install in {seconds:.0f} s"})
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--combo", action="append", choices=sorted(COMBOS), help="only these (repeatable)")
    parser.add_argument("--toxicity", action="store_true", help="also the toxicity combination (torch: heavy)")
    parser.add_argument("--workdir", type=Path, help="where the venvs go (default: a temporary directory)")
    parser.add_argument("--keep", action="store_true", help="keep the venvs")
    parser.add_argument(
        "--wheelhouse",
        type=Path,
        help="install offline from this directory of wheels (pip --no-index --find-links; fill it once with "
        "`pip wheel -w DIR .[extras]`): the core combination then takes ~30 s, cheap enough for CI",
    )
    parser.add_argument(
        "--from-venv",
        action="store_true",
        help="fill the wheelhouse (--wheelhouse, or one in the work directory) from this venv: outguard's wheel "
        "built by its hatchling, every needed dependency repacked from its installed files; no index",
    )
    args = parser.parse_args(argv)
    combos = args.combo or [c for c in COMBOS if c != "toxicity" or args.toxicity]
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="outguard-matrix-"))
    workdir.mkdir(parents=True, exist_ok=True)
    wheelhouse = args.wheelhouse or (workdir / "wheels" if args.from_venv else None)
    if args.from_venv:
        assert wheelhouse is not None
        extras = tuple(sorted({e for c in combos for e in COMBOS[c]}))
        count, seconds = wheelhouse_from_venv(extras, wheelhouse)
        print(f"wheelhouse from this venv: outguard + {count} distributions in {seconds:.0f} s")
    pip_source = ("--no-index", "--find-links", str(wheelhouse.resolve())) if wheelhouse else ()
    failed = 0
    try:
        print(f"{'combination':12s} {'policy':16s} {'serves':6s} result")
        for combo in combos:
            for r in check_combo(combo, COMBOS[combo], workdir, pip_source):
                failed += not r["ok"]
                serves = "" if "expected" not in r else ("yes" if r["expected"] else "no")
                print(f"{r['combo']:12s} {r['policy']:16s} {serves:6s} {'ok  ' if r['ok'] else 'FAIL'} {r['why']}")
                sys.stdout.flush()
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print(f"{failed} failure(s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

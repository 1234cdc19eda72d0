"""The HTML check's compiled build (mypyc, `guardrails compile`): used only while fresh, and answering exactly
as the pure-Python modules do."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import guardrails.checks._html as html_pkg
from guardrails.checks._html import NATIVE_MODULES, native_state, running_native, source_digests
from guardrails.cli.main import main

ROOT = Path(__file__).resolve().parents[2]

# Prints every report of the shipped html policy on the fixture outputs and cut-off / shuffled variants of
# them, with which scanner ran: the same script under both builds must print the same reports.
_REPORTS = """
import json, sys
from pathlib import Path
from guardrails import Engine
from guardrails.checks._html import running_native
engine = Engine.from_policy("html")
out = {"native": running_native(), "reports": []}
for path in sorted(Path("fixtures/html").glob("*/*-*.html")):
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    variants = [text, text[: len(text) // 2], text[len(text) // 3 :], "".join(reversed(lines)), text.upper()]
    for variant in variants:
        report = engine.validate(variant, {"template": path.parent.name})
        out["reports"].append(report.model_dump(mode="json", exclude={"elapsed_ms", "timings"}))
print(json.dumps(out))
"""


def _reports(pure: bool) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if k != "OUTGUARD_PURE_PYTHON"}
    if pure:
        env["OUTGUARD_PURE_PYTHON"] = "1"
    done = subprocess.run(
        [sys.executable, "-c", _REPORTS], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=True
    )
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_compiled_and_pure_python_builds_report_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    pure, default = _reports(pure=True), _reports(pure=False)
    monkeypatch.delenv("OUTGUARD_PURE_PYTHON", raising=False)
    assert pure["native"] is False
    assert default["native"] is (native_state() == "compiled")
    assert len(pure["reports"]) == len(default["reports"]) >= 75  # type: ignore[arg-type]
    assert pure["reports"] == default["reports"]


def test_ci_runs_the_compiled_build() -> None:
    if not os.environ.get("CI") or os.environ.get("OUTGUARD_PURE_PYTHON"):
        pytest.skip("asked only under CI and on the default build (.ci/setup runs `guardrails compile`)")
    assert native_state() == "compiled"
    assert running_native()


def _fake_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in NATIVE_MODULES:
        (tmp_path / f"{name}.py").write_bytes((html_pkg.HERE / f"{name}.py").read_bytes())
        (tmp_path / f"{name}.cpython-311-x86_64-linux-gnu.so").write_bytes(b"")
    monkeypatch.setattr(html_pkg, "HERE", tmp_path)
    monkeypatch.setattr(html_pkg, "STAMP", tmp_path / "native.json")
    monkeypatch.delenv("OUTGUARD_PURE_PYTHON", raising=False)
    return tmp_path


def test_a_build_is_used_only_while_its_sources_are_unchanged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    here = _fake_build(tmp_path, monkeypatch)
    assert native_state() == "not built"
    (here / "native.json").write_text(json.dumps(source_digests()), encoding="utf-8")
    assert native_state() == "compiled"
    with (here / "render.py").open("a", encoding="utf-8") as f:
        f.write("# edited after the build\n")
    assert native_state() == "stale build"
    (here / "native.json").write_text(json.dumps(source_digests()), encoding="utf-8")
    (here / "urls.cpython-311-x86_64-linux-gnu.so").unlink()
    assert native_state() == "stale build"  # one module missing: all run as Python
    (here / "native.json").write_text("{not json", encoding="utf-8")
    assert native_state() == "not built"


def test_the_environment_switch_wins_over_a_fresh_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    here = _fake_build(tmp_path, monkeypatch)
    (here / "native.json").write_text(json.dumps(source_digests()), encoding="utf-8")
    monkeypatch.setenv("OUTGUARD_PURE_PYTHON", "1")
    assert native_state() == "OUTGUARD_PURE_PYTHON"


def test_pure_python_modules_load_from_their_sources() -> None:
    code = "import guardrails.checks._html.scan as s, guardrails.checks._html.urls as u; print(s.__file__, u.__file__)"
    env = {**os.environ, "OUTGUARD_PURE_PYTHON": "1"}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert [Path(p).name for p in done.stdout.split()] == ["scan.py", "urls.py"]


def test_compile_check_says_which_build_runs(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["compile", "--check"])
    state = native_state()
    assert code == (0 if state == "compiled" else 1)
    assert capsys.readouterr().out.startswith(f"html scanner: {state}")


def test_a_failed_build_is_reported_and_leaves_python_running(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from guardrails.cli import cmd_compile

    def no_mypyc(quiet: bool = True) -> None:
        raise ImportError("No module named 'mypyc'")

    monkeypatch.setattr(cmd_compile, "build", no_mypyc)
    assert main(["compile", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "No module named 'mypyc'" in err and "keeps running as Python" in err

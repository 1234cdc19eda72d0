"""`guardrails serve` helpers and `guardrails reviews` through the real command line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from guardrails import Engine
from guardrails.cli.main import main
from guardrails.reviews import Decision, DecisionKind, ReviewStore
from service.auth import hash_key, verify_password

ROOT = Path(__file__).resolve().parents[2]
DEMO_RULES = ROOT / "service" / "demo" / "rules"


def _run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "guardrails", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )


def test_hash_helpers() -> None:
    r = _run("serve", "--hash-key", stdin="my-key\n")
    assert r.returncode == 0 and r.stdout.strip() == hash_key("my-key")
    r = _run("serve", "--hash-password", stdin="s3cret\n")
    assert r.returncode == 0 and verify_password("s3cret", r.stdout.strip())
    assert _run("serve", "--hash-key").returncode == 2


def test_bad_keys_file_is_a_usage_error(tmp_path: Path) -> None:
    keys = tmp_path / "keys.yaml"
    keys.write_text("api_keys: [{name: a}]")
    r = _run("serve", "--keys-file", str(keys), "--port", "1")
    assert r.returncode == 2 and "api_keys.0" in r.stderr and "Traceback" not in r.stderr


def test_reviews_export_and_list(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'q.sqlite3'}"
    store = ReviewStore.open(url)
    engine = Engine.from_policy("demo", [DEMO_RULES])
    for rid, kind in (("a", DecisionKind.REJECT), ("b", DecisionKind.APPROVE)):
        item, _ = store.submit(engine.validate(f"{rid}: risk-free"), {"request_id": rid})
        store.decide(item.id, Decision(kind=kind), actor="t")
    store.submit(engine.validate("c: 5 mg"), {"request_id": "c"})
    store.close()
    out = tmp_path / "decisions.jsonl"
    assert main(["reviews", "export", "--db", url, "-o", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["request_id"], r["flagged"]) for r in rows] == [("a", True), ("b", False)]
    assert main(["reviews", "list", "--db", url, "--state", "open"]) == 0
    listed = capsys.readouterr().out
    assert "1 item(s): open 1" in listed and "SVC003" in listed


def test_reviews_on_a_missing_database(tmp_path: Path) -> None:
    assert main(["reviews", "list", "--db", f"sqlite:///{tmp_path / 'nope.sqlite3'}"]) == 2


def test_serve_demo_starts_answers_and_stops_cleanly(tmp_path: Path) -> None:
    """`guardrails serve --demo`: the banner names the review page, /readyz answers, SIGTERM ends it."""
    httpx = pytest.importorskip("httpx")
    from tests.service.server import free_port

    port = free_port()
    log = tmp_path / "serve.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("OUTGUARD_")}
    env["PYTHONPATH"] = str(ROOT)
    cmd = [sys.executable, "-m", "guardrails", "serve", "--demo", "--port", str(port), "--data-dir", str(tmp_path)]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        ready = None
        deadline = time.monotonic() + 120  # a generous bound on start-up, not a measurement
        while ready is None and time.monotonic() < deadline and proc.poll() is None:
            try:
                r = httpx.get(f"{url}/readyz", timeout=2)
                ready = r if r.status_code == 200 else None
            except httpx.HTTPError:
                pass
            if ready is None:
                time.sleep(0.2)
        assert ready is not None, f"not ready (exit code {proc.poll()}): {log.read_text()[-2000:]}"
        banner = log.read_text(encoding="utf-8")
        assert f"{url}/review" in banner and "log in as:    demo / " in banner
        api_key = banner.split("API key:      ")[1].split()[0]
        listing = httpx.get(f"{url}/v1/reviews", headers={"Authorization": f"Bearer {api_key}"}, timeout=10).json()
        assert listing["total"] >= 5  # the demo queue was seeded
        assert httpx.get(f"{url}/review", timeout=10, follow_redirects=False).status_code in (302, 303, 307)
        assert (tmp_path / "demo").is_dir()
    finally:
        proc.terminate()
        try:
            code = proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(30)
            raise
    # uvicorn shuts down gracefully on SIGTERM, then re-raises the signal (recent versions) or exits 0.
    logged = log.read_text()
    assert code in (0, -signal.SIGTERM), logged[-2000:]
    assert "Application shutdown complete" in logged and "Traceback" not in logged


def test_serve_runs_uvicorn_with_the_c_http_parser_or_h11(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import uvicorn
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    from service import serve

    runs: list[dict[str, object]] = []
    monkeypatch.setattr(serve, "_logging", lambda: None)  # keeps the test's log capture in place
    monkeypatch.setattr(uvicorn, "run", lambda _app, **kw: runs.append(kw))
    argv = ["serve", "--port", "1", "--policy", "demo", "--rules", str(DEMO_RULES), "--no-review-queue"]
    assert main(argv) == 0
    monkeypatch.setitem(sys.modules, "httptools", None)  # as if installed without the service extra
    assert main(argv) == 0
    guarded, plain = (r["http"] for r in runs)
    assert isinstance(guarded, type) and issubclass(guarded, HttpToolsProtocol) and plain == "h11"
    assert "httptools is not installed" in caplog.text and "without the header and body deadlines" in caplog.text


def test_serve_passes_slow_client_limits_and_rate_bursts(monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    from service import serve

    runs: list[tuple[object, dict[str, object]]] = []
    monkeypatch.setattr(serve, "_logging", lambda: None)
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: runs.append((app, kw)))
    monkeypatch.setenv("OUTGUARD_HEADER_TIMEOUT", "4")
    argv = ["serve", "--port", "1", "--policy", "demo", "--rules", str(DEMO_RULES), "--no-review-queue"]
    assert main([*argv, "--body-timeout", "7.5", "--max-connections", "50", "--max-header-bytes", "4096",
                 "--rate-limit", "10"]) == 0  # fmt: skip
    assert main([*argv, "--rate-limit", "10", "--rate-limit-burst", "3"]) == 0
    (app, kw), (app2, _kw2) = runs
    limits = kw["http"].guard.limits  # type: ignore[attr-defined]
    assert (limits.header_timeout_s, limits.body_timeout_s, limits.max_connections) == (4.0, 7.5, 50)
    assert limits.max_header_bytes == 4096
    assert app.state.outguard.config.rate_limit_burst == 20  # type: ignore[attr-defined]
    assert app2.state.outguard.config.rate_limit_burst == 3  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "flag",
    [["--header-timeout", "0"], ["--body-timeout", "nan"], ["--max-connections", "-1"], ["--rate-limit-burst", "x"]],
)
def test_serve_rejects_bad_slow_client_limits(flag: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", *flag]) == 2
    assert flag[0] in capsys.readouterr().err

"""Run `guardrails serve` as a real subprocess on a free loopback port (browser, crash and fuzz tests)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from service.auth import hash_key, hash_password
from tests.service.conftest import DEMO_RULES, KEYS, PASSWORDS, ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_keys_file(path: Path) -> Path:
    lines = ["api_keys:"]
    for scope, key in KEYS.items():
        lines.append(f"  - {{name: {scope}, key_sha256: {hash_key(key)}, scopes: [{scope}]}}")
    lines.append("reviewers:")
    lines.append(f'  - {{name: alice, password: "{hash_password(PASSWORDS["alice"])}", scopes: [review]}}')
    lines.append(f'  - {{name: root, password: "{hash_password(PASSWORDS["root"])}", scopes: [review, admin]}}')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@dataclass
class Server:
    url: str
    proc: subprocess.Popen[bytes]
    db_url: str
    log: Path

    def client(self, scope: str = "validate") -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {KEYS[scope]}"}, timeout=30)


def start_server(tmp: Path, *extra: str, db_url: str | None = None) -> Server:
    port = free_port()
    db_url = db_url or f"sqlite:///{tmp / 'reviews.sqlite3'}"
    log = tmp / f"server-{port}.log"
    cmd = [
        sys.executable,
        "-m",
        "guardrails",
        "serve",
        "--port",
        str(port),
        "--policy",
        "demo",
        "--rules",
        str(DEMO_RULES),
        "--review-db",
        db_url,
        "--keys-file",
        str(write_keys_file(tmp / "keys.yaml")),
        "--rate-limit",
        "100000",
        *extra,
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OUTGUARD_API_KEYS": ""}
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return Server(url, proc, db_url, log)
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"server not ready in 60s: {log.read_text()[-2000:]}")


def stop(server: Server) -> None:
    if server.proc.poll() is None:
        server.proc.terminate()
        try:
            server.proc.wait(10)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait(10)


@contextmanager
def running_server(tmp: Path, *extra: str) -> Iterator[Server]:
    server = start_server(tmp, *extra)
    try:
        yield server
    finally:
        stop(server)

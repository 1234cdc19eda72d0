"""A throwaway PostgreSQL cluster for tests: initdb in a temp dir owned by `postgres`, on a free port.

The server refuses to run as root, so when the tests run as root the cluster runs as the `postgres`
user through runuser. Used by the facts store and review queue tests through the `postgres_url` fixture.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_postgres(cmd: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


def _tool(name: str) -> str | None:
    """The server tool on PATH, else from Debian's versioned directory (not on PATH by default), newest first."""
    found = shutil.which(name)
    if found:
        return found
    bins = [b for b in Path("/usr/lib/postgresql").glob("*/bin") if b.parent.name.isdigit()]
    versions = sorted(bins, key=lambda b: int(b.parent.name), reverse=True)
    return next((str(b / name) for b in versions if _is_executable(b / name)), None)


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def postgres_available() -> str | None:
    """None when a cluster can be started here, else the reason it cannot."""
    for tool in ("initdb", "pg_ctl"):
        if _tool(tool) is None:
            return f"{tool} is neither on PATH nor in /usr/lib/postgresql/*/bin"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser"
    return None


@contextmanager
def throwaway_postgres() -> Iterator[str]:
    """Start a cluster, yield a SQLAlchemy URL to an empty database, stop and delete it afterwards."""
    reason = postgres_available()
    if reason:
        raise RuntimeError(f"cannot start PostgreSQL: {reason}")
    base = Path(tempfile.mkdtemp(prefix="outguard-pg-"))
    os.chmod(base, 0o755)
    data, sock = base / "data", base / "sock"
    sock.mkdir()
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
        shutil.chown(sock, "postgres")
    port = _free_port()
    env = {**os.environ, "LC_ALL": "C.UTF-8"}
    subprocess.run(
        _as_postgres([str(_tool("initdb")), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8"]),
        check=True,
        capture_output=True,
        env=env,
    )
    opts = f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
    subprocess.run(
        _as_postgres([str(_tool("pg_ctl")), "-D", str(data), "-o", opts, "-l", str(base / "log"), "-w", "start"]),
        check=True,
        capture_output=True,
        env=env,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            _as_postgres([str(_tool("pg_ctl")), "-D", str(data), "-m", "immediate", "-w", "stop"]),
            check=False,
            capture_output=True,
            env=env,
        )
        shutil.rmtree(base, ignore_errors=True)

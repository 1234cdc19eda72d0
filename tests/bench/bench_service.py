"""Load test of the sidecar on loopback: POST /v1/validate with a rule-only policy, bounded in time and count.

Prints requests/s, p50/p99 over HTTP, zero-error check, server memory before/after, and the HTTP hop over
the library's own p50 measured in the same run on the same text (budget: hop <= 1 ms at p50).

    python tests/bench/bench_service.py [--requests 3000] [--seconds 40] [--concurrency 4]

The server is `guardrails serve` in a subprocess (uvicorn, one worker); the client uses keep-alive
connections from http.client. Numbers on a shared, noisy machine: read them as indicative.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from guardrails import Engine  # noqa: E402

DEMO_RULES = ROOT / "service" / "demo" / "rules"
KEY = "bench-key-0123456789abcdef"
PARAGRAPH = (
    "Thanks for your question about the quarterly report. The numbers below come from the finance team's "
    "dashboard and were checked on Monday. Revenue grew in every region except the north-east, where two "
    "large contracts moved into the next quarter. "
)


def text_2kb() -> str:
    body = (PARAGRAPH * 12)[:1950]
    return body + " Details: see reports.corp."  # one repair (internal hostname), so repair runs too


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(server: subprocess.Popen[bytes], port: int, seconds: float = 60) -> bool:
    """True once the sidecar on `port` answers /readyz with 200; False if it exits or `seconds` pass first."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and server.poll() is None:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            c.request("GET", "/readyz")
            if c.getresponse().status == 200:
                return True
        except OSError:
            pass
        time.sleep(0.1)
    return False


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def library_latencies(engine: Engine, text: str, n: int) -> list[float]:
    for _ in range(200):
        engine.validate(text)
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        engine.validate(text)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def asgi_overhead(text: str, n: int) -> tuple[list[float], list[float], list[float]]:
    """Call the app in process (no sockets, no scheduler hand-offs): the framework's own cost per request.

    Returns the whole call's ms, the library's ms, and per call how long after the engine's own `elapsed_ms` the
    answer's body was handed to the server (the part of the framework the caller waits for; the access log and
    metrics follow the answer)."""
    import asyncio
    import logging

    from service import ServiceConfig, create_app
    from service.auth import KeyRing, parse_env_keys

    logging.getLogger("outguard").addHandler(logging.NullHandler())
    logging.getLogger("outguard").propagate = False
    logging.getLogger("outguard").setLevel(logging.INFO)
    config = ServiceConfig(policies=["demo"], rules_dirs=[DEMO_RULES], rate_limit_rps=1e9, rate_limit_burst=10**9)
    app = create_app(config, keys=KeyRing(parse_env_keys(f"bench:validate:{KEY}")), load_sync=True)
    engine = app.state.outguard.engines["demo"]
    body = json.dumps({"output": text}).encode()
    headers = [(b"content-type", b"application/json"), (b"authorization", f"Bearer {KEY}".encode()),
               (b"content-length", str(len(body)).encode())]  # fmt: skip

    answered: list[tuple[float, bytes]] = []  # (ms to the body's send, the body): parsed after the timing

    async def call() -> int:
        status = [0]
        sent = [False]
        t0 = time.perf_counter()

        async def receive() -> dict[str, object]:
            if sent[0]:
                return {"type": "http.disconnect"}
            sent[0] = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, object]) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])  # type: ignore[call-overload]
            elif message["type"] == "http.response.body":
                answered.append(((time.perf_counter() - t0) * 1000, message["body"]))  # type: ignore[arg-type]

        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
                 "scheme": "http", "path": "/v1/validate", "raw_path": b"/v1/validate", "query_string": b"",
                 "root_path": "", "headers": headers, "client": ("127.0.0.1", 1),
                 "server": ("127.0.0.1", 80)}  # fmt: skip
        await app(scope, receive, send)  # type: ignore[arg-type]
        return status[0]

    async def run() -> tuple[list[float], list[float], list[float]]:
        async with app.router.lifespan_context(app):
            for _ in range(300):
                assert await call() == 200
            answered.clear()
            asgi, lib = [], []
            for _ in range(n):
                t0 = time.perf_counter()
                assert await call() == 200
                asgi.append((time.perf_counter() - t0) * 1000)
                t0 = time.perf_counter()
                engine.validate(text)
                lib.append((time.perf_counter() - t0) * 1000)
            return asgi, lib, [ms - json.loads(body)["elapsed_ms"] for ms, body in answered]

    return asyncio.run(run())


# The floor: the least any Python HTTP server on this machine costs through the same client and loopback. It
# answers every POST with a canned body as long as the sidecar's Report, and does nothing else.
_NULL_SERVER = """
import asyncio, socket, sys
body = b"x" * int(sys.argv[2])
answer = b"HTTP/1.1 200 OK\\r\\ncontent-type: application/json\\r\\ncontent-length: %d\\r\\n\\r\\n" % len(body) + body

async def handle(reader, writer):
    writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        while True:
            head = await reader.readuntil(b"\\r\\n\\r\\n")
            length = 0
            for line in head.split(b"\\r\\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            if length:
                await reader.readexactly(length)
            writer.write(answer)
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    writer.close()

async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", int(sys.argv[1]))
    async with server:
        await server.serve_forever()

asyncio.run(main())
"""


# The same canned answer from uvicorn (httptools, as `guardrails serve` runs it) and a bare ASGI app: what the
# server costs before any framework or outguard code runs.
_UVICORN_NULL = """
import sys, uvicorn
body = b"x" * int(sys.argv[2])
start = {"type": "http.response.start", "status": 200,
         "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]}

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    await send(start)
    await send({"type": "http.response.body", "body": body})

uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), http="httptools", log_level="warning",
            access_log=False, lifespan="off")
"""


def start_null_server(answer_bytes: int, source: str = _NULL_SERVER) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", source, str(port), str(answer_bytes)])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("the null server did not start")


class Client:
    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.conn.connect()
        # http.client writes headers and body in two send() calls: without TCP_NODELAY, Nagle holds the
        # body until the server ACKs the headers, which measures the kernel's delayed ACK, not the service.
        self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.headers = {"Content-Type": "application/json", "Authorization": f"Bearer {KEY}"}

    def validate(self, body: bytes) -> tuple[int, float]:
        status, ms, _answer = self.answer(body)
        return status, ms

    def answer(self, body: bytes) -> tuple[int, float, bytes]:
        """Status, wall ms and the answer's bytes of one POST /v1/validate."""
        t0 = time.perf_counter()
        self.conn.request("POST", "/v1/validate", body=body, headers=self.headers)
        resp = self.conn.getresponse()
        answer = resp.read()
        return resp.status, (time.perf_counter() - t0) * 1000, answer


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=3000, help="sequential requests for the latency phase")
    ap.add_argument("--seconds", type=float, default=40.0, help="time bound for each phase")
    ap.add_argument("--concurrency", type=int, default=4, help="client threads in the throughput phase")
    ap.add_argument("--throughput-requests", type=int, default=4000)
    args = ap.parse_args()

    text = text_2kb()
    body = json.dumps({"output": text, "policy": "demo"}).encode()
    engine = Engine.from_policy("demo", [DEMO_RULES])
    report = engine.validate(text)
    print(f"payload: {len(text)} chars, policy demo ({len(engine.rules)} regex rules), verdict {report.verdict}")

    port = free_port()
    tmp = Path(tempfile.mkdtemp(prefix="outguard-bench-"))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OUTGUARD_API_KEYS": f"bench:validate:{KEY}"}
    cmd = [sys.executable, "-m", "guardrails", "serve", "--port", str(port), "--policy", "demo",
           "--rules", str(DEMO_RULES), "--review-db", f"sqlite:///{tmp / 'q.sqlite3'}",
           "--rate-limit", "1000000"]  # fmt: skip
    server = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if not wait_ready(server, port):
            print("server did not become ready", file=sys.stderr)
            return 2

        client = Client(port)
        for _ in range(300):  # warm-up: lets the server measure the policy as fast and run it inline
            client.validate(body)
        rss_start = rss_kb(server.pid)
        client.conn.request("POST", "/v1/validate", body=body, headers=client.headers)
        answer_bytes = len(client.conn.getresponse().read())
        null_server, null_port = start_null_server(answer_bytes)
        uvicorn_server, uvicorn_port = start_null_server(answer_bytes, _UVICORN_NULL)
        floor_client, uvicorn_client = Client(null_port), Client(uvicorn_port)
        for _ in range(300):
            floor_client.validate(body)
            uvicorn_client.validate(body)

        # Latency: sequential requests, interleaved with library calls so both see the same machine load.
        http_ms: list[float] = []
        own_hop_ms: list[float] = []
        lib_ms: list[float] = []
        floor_ms: list[float] = []
        uvicorn_ms: list[float] = []
        errors = 0
        t_end = time.monotonic() + args.seconds
        for i in range(args.requests):
            if time.monotonic() > t_end:
                break
            status, ms, answer = client.answer(body)
            errors += status != 200
            http_ms.append(ms)
            if status == 200:
                own_hop_ms.append(ms - json.loads(answer)["elapsed_ms"])
            if i % 2 == 0:
                t0 = time.perf_counter()
                engine.validate(text)
                lib_ms.append((time.perf_counter() - t0) * 1000)
            elif i % 4 == 1:
                floor_ms.append(floor_client.validate(body)[1])
            else:
                uvicorn_ms.append(uvicorn_client.validate(body)[1])
        for proc in (null_server, uvicorn_server):
            proc.terminate()
            proc.wait(10)
        rss_mid = rss_kb(server.pid)

        # Throughput: several keep-alive clients at once.
        done = [0]
        errs = [0]
        lock = threading.Lock()
        stop_at = time.monotonic() + args.seconds
        per_thread = args.throughput_requests // args.concurrency

        def worker() -> None:
            c = Client(port)
            for _ in range(per_thread):
                if time.monotonic() > stop_at:
                    return
                status, _ms = c.validate(body)
                with lock:
                    done[0] += 1
                    errs[0] += status != 200

        threads = [threading.Thread(target=worker) for _ in range(args.concurrency)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        rss_end = rss_kb(server.pid)
        errors += errs[0]
    finally:
        server.terminate()
        server.wait(10)

    asgi_ms, asgi_lib_ms, answered_ms = asgi_overhead(text, min(args.requests, 2000))
    lib_p50, http_p50 = statistics.median(lib_ms), statistics.median(http_ms)
    print(
        f"load average at the end: {' '.join(Path('/proc/loadavg').read_text().split()[:3])} on {os.cpu_count()} cores"
    )
    print(f"library   p50 {lib_p50:.3f} ms  p99 {pct(lib_ms, 0.99):.3f} ms  (n={len(lib_ms)})")
    print(
        f"HTTP      p50 {http_p50:.3f} ms  p99 {pct(http_ms, 0.99):.3f} ms  (n={len(http_ms)}, sequential, keep-alive)"
    )
    print(f"HTTP hop  p50 {http_p50 - lib_p50:.3f} ms over the library  (budget <= 1.000 ms)")
    print(
        f"          per request: p50 {statistics.median(own_hop_ms):.3f} ms, p99 {pct(own_hop_ms, 0.99):.3f} ms: each "
        "answer's wall time minus the server's own validation of it (the report's elapsed_ms)"
    )
    floor_p50 = statistics.median(floor_ms)
    print(
        f"floor     p50 {floor_p50:.3f} ms: a do-nothing asyncio HTTP server, same client, loopback and answer size "
        f"({answer_bytes} bytes); so the sidecar's own share of the hop is {http_p50 - lib_p50 - floor_p50:.3f} ms"
    )
    uvicorn_p50 = statistics.median(uvicorn_ms)
    print(f"          uvicorn (httptools) with a bare ASGI app and the same canned answer: p50 {uvicorn_p50:.3f} ms, "
          f"{uvicorn_p50 - floor_p50:+.3f} ms over that floor")  # fmt: skip
    asgi_p50, asgi_lib_p50 = statistics.median(asgi_ms), statistics.median(asgi_lib_ms)
    print(f"in-process ASGI p50 {asgi_p50:.3f} ms vs library {asgi_lib_p50:.3f} ms: framework cost "
          f"{asgi_p50 - asgi_lib_p50:.3f} ms per request (no sockets, no scheduler hand-offs)")  # fmt: skip
    print(f"          of which before the answer: p50 {statistics.median(answered_ms):.3f} ms after the engine's own "
          "elapsed_ms (the access log and metrics follow the answer)")  # fmt: skip
    print(f"throughput {done[0] / wall:.0f} requests/s  ({done[0]} requests, {args.concurrency} clients, {wall:.1f} s)")
    print(f"errors    {errors}")
    print(f"server RSS {rss_start / 1024:.1f} MB -> {rss_mid / 1024:.1f} MB -> {rss_end / 1024:.1f} MB "
          f"(after warm-up, latency phase, throughput phase)")  # fmt: skip
    return 0 if errors == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""What the slow-client protocol (service/connections.py) adds per request over uvicorn's httptools protocol.

    python tests/bench/bench_connections.py [--n 3000] [--rounds 10]

In process, no sockets: one kept-alive connection on a fake transport, a bare ASGI app that reads the body and
answers 2 bytes, the same 2 KB POST fed again and again; rounds alternate which protocol goes first. Two
shapes: the request in one read (the usual case: no timer is armed), and headers and body in separate reads
(the body timer is armed and cancelled). A paired difference of p50s on one loop, so the machine's load
largely cancels; over HTTP the hop is measured by bench_service.py and ab_service.py.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from uvicorn.config import Config  # noqa: E402
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol  # noqa: E402
from uvicorn.server import ServerState  # noqa: E402

from service.config import ConnectionLimits  # noqa: E402
from service.connections import protocol_class  # noqa: E402

BODY = b'{"output": "' + b"x" * 1950 + b'"}'
HEAD = b"POST /v1/validate HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n" % len(
    BODY
)


async def _app(scope: Any, receive: Any, send: Any) -> None:
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


class _Transport(asyncio.Transport):
    def write(self, data: Any) -> None:
        pass

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 5555)}.get(name, default)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def _requests(cls: type[HttpToolsProtocol], n: int, split: bool) -> list[int]:
    config = Config(app=_app, log_config=None, lifespan="off")
    config.load()
    proto = cls(config=config, server_state=ServerState(), app_state={})
    proto.connection_made(_Transport())
    times = []
    for _ in range(n):
        t0 = time.perf_counter_ns()
        if split:
            proto.data_received(HEAD)
            proto.data_received(BODY)
        else:
            proto.data_received(HEAD + BODY)
        while not proto.cycle.response_complete:
            await asyncio.sleep(0)
        times.append(time.perf_counter_ns() - t0)
    proto.connection_lost(None)
    return times


async def _main(n: int, rounds: int) -> None:
    guarded = protocol_class(ConnectionLimits())
    for split in (False, True):
        times: dict[type[HttpToolsProtocol], list[int]] = {HttpToolsProtocol: [], guarded: []}
        for r in range(rounds):
            for cls in (HttpToolsProtocol, guarded) if r % 2 == 0 else (guarded, HttpToolsProtocol):
                times[cls] += await _requests(cls, n, split)
        plain, ours = (statistics.median(times[c]) / 1000 for c in (HttpToolsProtocol, guarded))
        shape = "headers and body in two reads" if split else "request in one read"
        print(f"{shape:30} uvicorn p50 {plain:.2f} us, with deadlines and cap {ours:.2f} us: +{ours - plain:.2f} us")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=3000, help="requests per round and protocol")
    ap.add_argument("--rounds", type=int, default=10)
    args = ap.parse_args()
    asyncio.run(_main(args.n, args.rounds))


if __name__ == "__main__":
    main()

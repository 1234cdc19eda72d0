"""SSE comment lines while a streamed answer is quiet, so idle timeouts (load balancers, proxies) keep the connection.

In hold-until-final mode nothing follows the role chunk until the verdict, which can take as long as every
regeneration attempt together. A comment line (`: keep-alive`) is ignored by the SSE spec and by OpenAI clients,
so the data events stay exactly what they would be without it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

KEEPALIVE = b": keep-alive\n\n"

_END = object()


async def with_keepalives(chunks: AsyncIterator[bytes], every: float) -> AsyncIterator[bytes]:
    """`chunks` as they come, plus KEEPALIVE whenever nothing has been sent for `every` seconds (0: never)."""
    if every <= 0:
        async for chunk in chunks:
            yield chunk
        return
    pending: asyncio.Task[Any] | None = None
    try:
        while True:
            if pending is None:
                # The next chunk is awaited in its own task so a keep-alive can go out while it is still coming.
                pending = asyncio.ensure_future(_next(chunks))
            done, _ = await asyncio.wait({pending}, timeout=every)
            if not done:
                yield KEEPALIVE
                continue
            chunk, pending = pending.result(), None
            if chunk is _END:
                return
            yield chunk
    finally:
        # A client that went away (the response is cancelled, or this generator closed) ends the stream here.
        # Cancelling the task throws into `chunks` where it waits, which runs its cleanup in that task; no await,
        # because a cancelled response's scope would cancel any await made here again.
        if pending is not None and not pending.done():
            pending.cancel()
        else:
            _retrieve(pending)
            await _aclose(chunks)


async def _next(chunks: AsyncIterator[bytes]) -> Any:
    try:
        return await anext(chunks)
    except StopAsyncIteration:
        # Re-raised from the task inside a generator it would become a RuntimeError (PEP 479): a sentinel instead.
        return _END


def _retrieve(task: asyncio.Task[Any] | None) -> None:
    """Mark a finished, unconsumed task's error as seen (the stream is being closed; nobody is left to tell)."""
    if task is not None and not task.cancelled():
        task.exception()


async def _aclose(chunks: AsyncIterator[bytes]) -> None:
    aclose = getattr(chunks, "aclose", None)
    if aclose is not None:
        await aclose()

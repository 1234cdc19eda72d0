"""with_keepalives: comments while the source is quiet, the source's chunks untouched, nothing left running."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from service.sse_keepalive import KEEPALIVE, with_keepalives


class Source:
    """Yields `chunks`, waiting for `gate` before each one after the first; records that its cleanup ran."""

    def __init__(self, chunks: list[bytes], *, fail: bool = False) -> None:
        self.chunks = chunks
        self.fail = fail
        self.gate = asyncio.Event()
        self.closed = asyncio.Event()

    async def __call__(self) -> AsyncIterator[bytes]:
        try:
            for i, chunk in enumerate(self.chunks):
                if i:
                    await self.gate.wait()
                yield chunk
            if self.fail:
                await self.gate.wait()
                raise RuntimeError("the source broke")
        finally:
            self.closed.set()


def _others() -> set[asyncio.Task[object]]:
    return {t for t in asyncio.all_tasks() if t is not asyncio.current_task()}


async def _until_keepalive(stream: AsyncIterator[bytes]) -> list[bytes]:
    seen = []
    while not seen or seen[-1] != KEEPALIVE:
        seen.append(await anext(stream))
    return seen


def test_keepalives_fill_the_quiet_and_the_chunks_come_through_in_order() -> None:
    async def main() -> list[bytes]:
        source = Source([b"data: 1\n\n", b"data: 2\n\n"])
        stream = with_keepalives(source(), 0.01)
        seen = await _until_keepalive(stream)
        source.gate.set()
        seen += [chunk async for chunk in stream]
        assert source.closed.is_set() and not _others()
        return seen

    seen = asyncio.run(main())
    assert seen[0] == b"data: 1\n\n" and seen[1] == KEEPALIVE and seen[-1] == b"data: 2\n\n"
    assert [c for c in seen if c != KEEPALIVE] == [b"data: 1\n\n", b"data: 2\n\n"]


def test_zero_disables_keepalives() -> None:
    async def main() -> list[bytes]:
        source = Source([b"data: 1\n\n", b"data: 2\n\n"])
        stream = with_keepalives(source(), 0)
        first = await anext(stream)
        asyncio.get_running_loop().call_later(0.05, source.gate.set)  # a quiet spell, and no comment for it
        return [first, *[chunk async for chunk in stream]]

    assert asyncio.run(main()) == [b"data: 1\n\n", b"data: 2\n\n"]


def test_closing_the_stream_while_the_source_waits_ends_the_source() -> None:
    async def main() -> None:
        source = Source([b"data: 1\n\n", b"data: 2\n\n"])
        stream = with_keepalives(source(), 0.01)
        await _until_keepalive(stream)
        await stream.aclose()  # what happens to a response whose client went away
        await asyncio.wait_for(source.closed.wait(), timeout=10)
        await asyncio.sleep(0)
        assert not _others()

    asyncio.run(main())


def test_cancelling_the_reader_while_the_source_waits_ends_the_source() -> None:
    async def main() -> None:
        source = Source([b"data: 1\n\n", b"data: 2\n\n"])
        got_keepalive = asyncio.Event()

        async def reader() -> None:
            async for chunk in with_keepalives(source(), 0.01):
                if chunk == KEEPALIVE:
                    got_keepalive.set()

        task = asyncio.create_task(reader())
        await asyncio.wait_for(got_keepalive.wait(), timeout=10)
        task.cancel()  # Starlette cancels the response this way on http.disconnect
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.wait_for(source.closed.wait(), timeout=10)
        await asyncio.sleep(0)
        assert not _others()

    asyncio.run(main())


def test_an_error_of_the_source_reaches_the_reader() -> None:
    async def main() -> None:
        source = Source([b"data: 1\n\n"], fail=True)
        stream = with_keepalives(source(), 0.01)
        await _until_keepalive(stream)
        source.gate.set()
        with pytest.raises(RuntimeError, match="the source broke"):
            async for _chunk in stream:
                pass
        assert not _others()

    asyncio.run(main())

"""An OpenAI-compatible chat-completions client over httpx: sync, async and streaming, with retries.

Transient failures (connect errors, timeouts, dropped connections, 408/409/429 and 5xx) are retried up to
`max_retries` times with exponential backoff and jitter, honouring `Retry-After`. Anything else, or a
transient failure that outlives its retries, raises `LLMError`. A stream is retried only while nothing has
been yielded: once the consumer has seen text, a dropped stream is an error, never a silent restart.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from guardrails.guard.budget import Usage
from guardrails.guard.llm import LLMError, LLMResponse, Message

_RETRY_STATUS = frozenset({408, 409, 429})
_TRANSIENT = (httpx.TimeoutException, httpx.TransportError)


class _Retry(Exception):
    """Internal: this try failed transiently; wait `delay` (or the backoff) and try again."""

    def __init__(self, error: LLMError, delay: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.delay = delay


@dataclass
class StreamStats:
    """What a stream reported besides text: token usage (when the server sends it) and the model."""

    usage: Usage = field(default_factory=Usage)
    model: str | None = None


class ChatStream(Iterator[str]):
    """The deltas of one streamed completion; `usage` and `model` are filled in as the server reports them."""

    def __init__(self, start: Callable[[StreamStats], Iterator[str]]) -> None:
        self.stats = StreamStats()
        self._it = start(self.stats)

    @property
    def usage(self) -> Usage:
        return self.stats.usage

    def __iter__(self) -> ChatStream:
        return self

    def __next__(self) -> str:
        return next(self._it)

    def close(self) -> None:
        close = getattr(self._it, "close", None)
        if close is not None:
            close()


class AsyncChatStream(AsyncIterator[str]):
    """ChatStream for asyncio."""

    def __init__(self, start: Callable[[StreamStats], AsyncIterator[str]]) -> None:
        self.stats = StreamStats()
        self._it = start(self.stats)

    @property
    def usage(self) -> Usage:
        return self.stats.usage

    def __aiter__(self) -> AsyncChatStream:
        return self

    async def __anext__(self) -> str:
        return await self._it.__anext__()

    async def aclose(self) -> None:
        aclose = getattr(self._it, "aclose", None)
        if aclose is not None:
            await aclose()


class OpenAIChatClient:
    """`POST {base_url}/chat/completions`. Callable like any LLM: `client(messages, **params)`."""

    supports_timeout = True
    """Guard passes the run's remaining time budget as `timeout=` to clients that say they accept it."""

    def __init__(  # noqa: PLR0917 (the public signature takes the connection settings positionally)
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout: float = 30.0,
        max_retries: int = 2,
        name: str | None = None,
        *,
        backoff: float = 0.5,
        max_backoff: float = 8.0,
        headers: dict[str, str] | None = None,
        stream_usage: bool = False,
        transport: httpx.BaseTransport | None = None,
        async_transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {base_url!r}")
        if timeout <= 0:
            raise ValueError(f"timeout must be > 0 seconds, got {timeout}")
        if max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {max_retries}")
        self.base_url = base_url.rstrip("/")
        self.url = f"{self.base_url}/chat/completions"
        self.model = model
        self.timeout = timeout
        self.max_retries = max_retries
        self.name = name or model
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.stream_usage = stream_usage
        self._headers = {"content-type": "application/json", **(headers or {})}
        if api_key:
            self._headers["authorization"] = f"Bearer {api_key}"
        self._transport = transport
        self._async_transport = async_transport
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()
        self._aclient: httpx.AsyncClient | None = None

    def __repr__(self) -> str:
        return f"OpenAIChatClient({self.base_url!r}, model={self.model!r}, name={self.name!r})"

    # -- lifecycle --------------------------------------------------------------------------------

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            with self._lock:  # one connection pool even when threads race to the first call
                if self._client is None:
                    self._client = httpx.Client(headers=self._headers, transport=self._transport)
        return self._client

    @property
    def aclient(self) -> httpx.AsyncClient:
        if self._aclient is None:
            self._aclient = httpx.AsyncClient(headers=self._headers, transport=self._async_transport)
        return self._aclient

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    async def aclose(self) -> None:
        if self._aclient is not None:
            await self._aclient.aclose()
            self._aclient = None
        self.close()

    def __enter__(self) -> OpenAIChatClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> OpenAIChatClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- requests -----------------------------------------------------------------------------------

    def _body(self, messages: list[Message], params: dict[str, Any], stream: bool) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model, "messages": messages, **params}
        if stream:
            body["stream"] = True
            if self.stream_usage:
                body.setdefault("stream_options", {"include_usage": True})
        return body

    def _deadline(self, timeout: float | None) -> float | None:
        return None if timeout is None else time.monotonic() + timeout

    def _try_timeout(self, deadline: float | None) -> float:
        if deadline is None:
            return self.timeout
        left = deadline - time.monotonic()
        if left <= 0:
            raise LLMError(f"{self.name}: time budget ran out before the request could be sent", retryable=True)
        return min(self.timeout, left)

    def _check_deadline(self, deadline: float | None) -> None:
        # httpx timeouts bound each read, not the whole stream: a slow trickle must still end on time.
        if deadline is not None and time.monotonic() > deadline:
            raise LLMError(f"{self.name}: stream cut off: the time budget ran out", retryable=False)

    def _delay(self, retry: _Retry, n: int) -> float:
        if retry.delay is not None:
            return min(retry.delay, self.max_backoff)
        return min(self.max_backoff, self.backoff * 2.0**n) * random.uniform(0.5, 1.0)  # jitter

    def complete(self, messages: list[Message], *, timeout: float | None = None, **params: Any) -> LLMResponse:
        """One completion. `timeout` caps the whole call including retries (the Guard's time budget)."""
        deadline = self._deadline(timeout)
        body = self._body(messages, params, stream=False)
        for n in range(self.max_retries + 1):
            try:
                try:
                    resp = self.client.post(self.url, json=body, timeout=self._try_timeout(deadline))
                except _TRANSIENT as exc:
                    raise _Retry(self._transport_error(exc)) from exc
                return self._parse(resp)
            except _Retry as retry:
                if n == self.max_retries or not self._sleep_allowed(retry, n, deadline):
                    raise retry.error from None
                time.sleep(self._delay(retry, n))
        raise AssertionError("unreachable")  # pragma: no cover

    async def acomplete(self, messages: list[Message], *, timeout: float | None = None, **params: Any) -> LLMResponse:
        deadline = self._deadline(timeout)
        body = self._body(messages, params, stream=False)
        for n in range(self.max_retries + 1):
            try:
                try:
                    resp = await self.aclient.post(self.url, json=body, timeout=self._try_timeout(deadline))
                except _TRANSIENT as exc:
                    raise _Retry(self._transport_error(exc)) from exc
                return self._parse(resp)
            except _Retry as retry:
                if n == self.max_retries or not self._sleep_allowed(retry, n, deadline):
                    raise retry.error from None
                await asyncio.sleep(self._delay(retry, n))
        raise AssertionError("unreachable")  # pragma: no cover

    def __call__(self, messages: list[Message], /, **params: Any) -> LLMResponse:
        return self.complete(messages, **params)

    def _sleep_allowed(self, retry: _Retry, n: int, deadline: float | None) -> bool:
        return deadline is None or time.monotonic() + self._delay(retry, n) < deadline

    # -- streaming ----------------------------------------------------------------------------------

    def stream(self, messages: list[Message], *, timeout: float | None = None, **params: Any) -> ChatStream:
        """Iterate content deltas as they arrive; afterwards `.usage` holds what the server reported.

        Raises LLMError (while iterating) if the stream drops before `[DONE]`.
        """
        return ChatStream(lambda stats: self._stream(messages, timeout, params, stats))

    def astream(self, messages: list[Message], *, timeout: float | None = None, **params: Any) -> AsyncChatStream:
        """stream() for asyncio: `async for delta in client.astream(...)`; then `.usage`."""
        return AsyncChatStream(lambda stats: self._astream(messages, timeout, params, stats))

    def _stream(
        self, messages: list[Message], timeout: float | None, params: dict[str, Any], stats: StreamStats
    ) -> Iterator[str]:
        deadline = self._deadline(timeout)
        body = self._body(messages, params, stream=True)
        for n in range(self.max_retries + 1):
            yielded = False
            try:
                try:
                    with self.client.stream("POST", self.url, json=body, timeout=self._try_timeout(deadline)) as resp:
                        if resp.status_code != 200:
                            resp.read()
                            self._raise_status(resp)
                        for text in _deltas(_sse_data(resp.iter_lines()), self.name, stats):
                            yielded = True
                            yield text
                            self._check_deadline(deadline)
                        return
                except _TRANSIENT as exc:
                    raise _Retry(self._transport_error(exc, streaming=True)) from exc
            except _Retry as retry:
                if yielded or n == self.max_retries or not self._sleep_allowed(retry, n, deadline):
                    raise retry.error from None
                time.sleep(self._delay(retry, n))

    async def _astream(
        self, messages: list[Message], timeout: float | None, params: dict[str, Any], stats: StreamStats
    ) -> AsyncIterator[str]:
        deadline = self._deadline(timeout)
        body = self._body(messages, params, stream=True)
        for n in range(self.max_retries + 1):
            yielded = False
            try:
                try:
                    async with self.aclient.stream(
                        "POST", self.url, json=body, timeout=self._try_timeout(deadline)
                    ) as resp:
                        if resp.status_code != 200:
                            await resp.aread()
                            self._raise_status(resp)
                        parser = _SSEParser()
                        async for line in resp.aiter_lines():
                            for text in _deltas(parser.feed(line), self.name, stats):
                                yielded = True
                                yield text
                                self._check_deadline(deadline)
                            if parser.done:
                                return
                        for text in _deltas(parser.feed(""), self.name, stats):  # an event with no blank line after it
                            yielded = True
                            yield text
                        if parser.done:
                            return
                        raise _Retry(LLMError(f"{self.name}: stream ended before [DONE]", retryable=True))
                except _TRANSIENT as exc:
                    raise _Retry(self._transport_error(exc, streaming=True)) from exc
            except _Retry as retry:
                if yielded or n == self.max_retries or not self._sleep_allowed(retry, n, deadline):
                    raise retry.error from None
                await asyncio.sleep(self._delay(retry, n))

    # -- responses ------------------------------------------------------------------------------------

    def _transport_error(self, exc: Exception, *, streaming: bool = False) -> LLMError:
        what = "timed out" if isinstance(exc, httpx.TimeoutException) else "connection failed"
        if streaming and isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError):
            what = "stream dropped"
        return LLMError(f"{self.name}: {what}: {type(exc).__name__}: {str(exc)[:200]}", retryable=True)

    def _raise_status(self, resp: httpx.Response) -> None:
        status = resp.status_code
        detail = _error_detail(resp)
        error = LLMError(f"{self.name}: HTTP {status}: {detail}", status=status, retryable=False)
        if status in _RETRY_STATUS or status >= 500:
            error.retryable = True
            raise _Retry(error, _retry_after(resp))
        raise error

    def _parse(self, resp: httpx.Response) -> LLMResponse:
        if resp.status_code != 200:
            self._raise_status(resp)
        try:
            data = resp.json()
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise LLMError(f"{self.name}: malformed JSON in response: {exc}", status=200) from exc
        try:
            message = data["choices"][0]["message"]
            content = _content_text(message.get("content"))
        except (KeyError, IndexError, TypeError, AttributeError) as exc:
            raise LLMError(f"{self.name}: response lacks choices[0].message.content ({exc})", status=200) from exc
        return LLMResponse(
            text=content, usage=_usage(data.get("usage")), model=data.get("model") or self.model, provider=self.name
        )


def _content_text(content: Any) -> str:
    """`content` as text: a string, null (a tool call), or a list of parts whose text parts are joined."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text") for p in content if isinstance(p, dict) and p.get("type") == "text"]
        return "".join(p for p in parts if isinstance(p, str))
    raise TypeError(f"content is {type(content).__name__}")


def _usage(raw: Any) -> Usage:
    if not isinstance(raw, dict):
        return Usage()
    values = {k: raw.get(k) for k in ("prompt_tokens", "completion_tokens", "total_tokens")}
    return Usage(**{k: v for k, v in values.items() if isinstance(v, int) and v >= 0})


def _error_detail(resp: httpx.Response) -> str:
    try:
        data = resp.json()
        error = data.get("error") if isinstance(data, dict) else None
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])[:300]
        if isinstance(error, str):
            return error[:300]
    except (json.JSONDecodeError, UnicodeDecodeError):
        pass
    return resp.text[:300] or resp.reason_phrase


def _retry_after(resp: httpx.Response) -> float | None:
    value = resp.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


class _SSEParser:
    """Server-sent events, `data:` fields only (what chat-completions streams use)."""

    def __init__(self) -> None:
        self._data: list[str] = []
        self.done = False

    def feed(self, line: str) -> list[str]:
        if line == "":
            if not self._data:
                return []
            data, self._data = "\n".join(self._data), []
            if data.strip() == "[DONE]":
                self.done = True
                return []
            return [data]
        if line.startswith(":"):
            return []
        field, _, value = line.partition(":")
        if field == "data":
            self._data.append(value.removeprefix(" "))
        return []


def _sse_data(lines: Iterable[str]) -> Iterator[str]:
    """Yield each event's data until `[DONE]`; a stream that ends without it was dropped."""
    parser = _SSEParser()
    for line in lines:
        yield from parser.feed(line)
        if parser.done:
            return
    yield from parser.feed("")  # an event not terminated by a blank line
    if not parser.done:
        raise _Retry(LLMError("stream ended before [DONE]", retryable=True))


def _deltas(events: Iterable[str], name: str, stats: StreamStats | None = None) -> Iterator[str]:
    for data in events:
        try:
            chunk = json.loads(data)
        except json.JSONDecodeError as exc:
            raise LLMError(f"{name}: malformed JSON in stream event: {data[:100]!r}") from exc
        if not isinstance(chunk, dict):
            raise LLMError(f"{name}: stream event is not an object: {data[:100]!r}")
        if "error" in chunk:
            raise LLMError(f"{name}: provider error in stream: {str(chunk['error'])[:300]}")
        if stats is not None:
            if isinstance(chunk.get("usage"), dict):
                stats.usage = _usage(chunk["usage"])
            if isinstance(chunk.get("model"), str):
                stats.model = chunk["model"]
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") if isinstance(choice, dict) else None
            content = delta.get("content") if isinstance(delta, dict) else None
            if isinstance(content, str) and content:
                yield content

"""An OpenAI-compatible chat-completions client over httpx: sync, async and streaming, with retries.

Transient failures (connect errors, timeouts, dropped connections, 408/409/429 and 5xx) are retried up to
`max_retries` times with exponential backoff and jitter, honouring `Retry-After`. Anything else, or a
transient failure that outlives its retries, raises `LLMError`. A stream is retried only while nothing has
been yielded: once the consumer has seen text, a dropped stream is an error, never a silent restart.
"""

from __future__ import annotations

import asyncio
import codecs
import json
import random
import re
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from guardrails.guard.budget import Usage
from guardrails.guard.llm import LLMBudgetError, LLMError, LLMResponse, Message, content_text

_RETRY_STATUS = frozenset({408, 409, 429})
_TRANSIENT = (httpx.TimeoutException, httpx.TransportError)

DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024
"""An upstream answer larger than this (4 MiB, far above any chat completion) is a failed call, not read on."""
_MAX_ERROR_BYTES = 64 * 1024  # of an error answer's body: enough for its message
_NEWLINE = re.compile(r"\r\n|\r|\n")
_MAX_CHOICES = 128  # OpenAI's limit on `n`


class _Retry(Exception):
    """Internal: this try failed transiently; wait `delay` (or the backoff) and try again."""

    def __init__(self, error: LLMError, delay: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.delay = delay


@dataclass
class StreamStats:
    """What a stream reported besides text: token usage (when the server sends it), the model, the tool calls
    assembled from their deltas (OpenAI shape, in index order) and the finish reason."""

    usage: Usage = field(default_factory=Usage)
    model: str | None = None
    tool_calls: dict[int, dict[str, Any]] = field(default_factory=dict)
    finish_reason: str | None = None
    refusal: str = ""
    """A declared refusal, assembled from its `delta.refusal` pieces."""
    function_call: dict[str, str] | None = None
    """A legacy (`functions`) call, assembled from its `delta.function_call` pieces."""
    others: dict[int, StreamStats] = field(default_factory=dict)
    """The further choices of an `n > 1` stream, by index, each with its text in `parts` (the stream itself yields
    only choice 0's text; usage and model are the whole answer's, on this one)."""
    parts: list[str] = field(default_factory=list)

    def add_tool_call_delta(self, delta: Any) -> None:
        """Fold one `delta.tool_calls[i]` into its call: id, type and name arrive once, arguments in pieces."""
        if not isinstance(delta, dict):
            return
        index = delta.get("index")
        index = index if isinstance(index, int) else len(self.tool_calls)
        call = self.tool_calls.setdefault(
            index, {"id": "", "type": "function", "function": {"name": "", "arguments": ""}}
        )
        if isinstance(delta.get("id"), str):
            call["id"] = delta["id"]
        if isinstance(delta.get("type"), str):
            call["type"] = delta["type"]
        if isinstance(delta.get("custom"), dict):  # a custom tool's call: free-text `input`, no function
            call.pop("function", None)
            _extend(call.setdefault("custom", {"name": "", "input": ""}), delta["custom"], ("name", "input"))
        elif isinstance(delta.get("function"), dict):
            _extend(call["function"], delta["function"], ("name", "arguments"))

    def add_function_call_delta(self, delta: Any) -> None:
        """Fold one legacy `delta.function_call` into the call: its name, then its arguments in pieces."""
        if isinstance(delta, dict):
            if self.function_call is None:
                self.function_call = {"name": "", "arguments": ""}
            _extend(self.function_call, delta, ("name", "arguments"))

    def message(self, text: str) -> dict[str, Any] | None:
        """The assistant message the stream amounted to, when it carried tool calls or a refusal (None for plain
        text)."""
        if self.refusal and not text and not self.tool_calls:
            return {"role": "assistant", "content": None, "refusal": self.refusal}
        if self.function_call is not None and not self.tool_calls:
            return {"role": "assistant", "content": text or None, "function_call": self.function_call}
        if not self.tool_calls:
            return None
        calls = [self.tool_calls[i] for i in sorted(self.tool_calls)]
        return {"role": "assistant", "content": text or None, "tool_calls": calls}


def _extend(into: dict[str, Any], piece: dict[str, Any], keys: tuple[str, ...]) -> None:
    """Append each streamed string piece to what arrived before it."""
    for key in keys:
        if isinstance(piece.get(key), str):
            into[key] = str(into.get(key) or "") + piece[key]


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
    supports_upstream_params = True
    """Guard passes the request's fields as one mapping, `upstream_params=`, to clients that say they accept it:
    then no field (`timeout`, `context`...) can be taken for an argument of the Guard or of this client."""

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
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        transport: httpx.BaseTransport | None = None,
        async_transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {base_url!r}")
        if timeout <= 0:
            raise ValueError(f"timeout must be > 0 seconds, got {timeout}")
        if max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {max_retries}")
        if max_body_bytes < 1:
            raise ValueError(f"max_body_bytes must be >= 1, got {max_body_bytes}")
        self.base_url = base_url.rstrip("/")
        self.url = f"{self.base_url}/chat/completions"
        self.model = model
        self.timeout = timeout
        self.max_retries = max_retries
        self.name = name or model
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.stream_usage = stream_usage
        self.max_body_bytes = max_body_bytes
        """The most an answer (plain or streamed, after decompression) may bring; reading stops there."""
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

    def _body(self, messages: list[Message], params: Mapping[str, Any], stream: bool) -> dict[str, Any]:
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

    def _reader(self, deadline: float | None) -> _Reader:
        return _Reader(self.name, self.max_body_bytes, deadline)

    def _delay(self, retry: _Retry, n: int) -> float:
        if retry.delay is not None:
            return min(retry.delay, self.max_backoff)
        return min(self.max_backoff, self.backoff * 2.0**n) * random.uniform(0.5, 1.0)  # jitter

    def complete(
        self,
        messages: list[Message],
        *,
        timeout: float | None = None,
        upstream_params: Mapping[str, Any] | None = None,
        **params: Any,
    ) -> LLMResponse:
        """One completion. `timeout` caps the whole call including retries (the Guard's time budget).

        The request's fields come as keyword arguments or, whatever their names, as the mapping
        `upstream_params` (sent as given, after the keyword ones)."""
        deadline = self._deadline(timeout)
        body = self._body(messages, _fields(params, upstream_params), stream=False)
        for n in range(self.max_retries + 1):
            try:
                try:
                    with self.client.stream("POST", self.url, json=body, timeout=self._try_timeout(deadline)) as resp:
                        reader = self._reader(deadline)
                        reader.expect(resp)
                        for chunk in resp.iter_bytes():
                            reader.take(chunk)
                            if resp.status_code != 200 and reader.size >= _MAX_ERROR_BYTES:
                                break
                except _TRANSIENT as exc:
                    raise _Retry(self._transport_error(exc)) from exc
                return self._parse(resp, reader.body())
            except _Retry as retry:
                if n == self.max_retries or not self._sleep_allowed(retry, n, deadline):
                    raise retry.error from None
                time.sleep(self._delay(retry, n))
        raise AssertionError("unreachable")  # pragma: no cover

    async def acomplete(
        self,
        messages: list[Message],
        *,
        timeout: float | None = None,
        upstream_params: Mapping[str, Any] | None = None,
        **params: Any,
    ) -> LLMResponse:
        deadline = self._deadline(timeout)
        body = self._body(messages, _fields(params, upstream_params), stream=False)
        for n in range(self.max_retries + 1):
            try:
                try:
                    async with self.aclient.stream(
                        "POST", self.url, json=body, timeout=self._try_timeout(deadline)
                    ) as resp:
                        reader = self._reader(deadline)
                        reader.expect(resp)
                        async for chunk in resp.aiter_bytes():
                            reader.take(chunk)
                            if resp.status_code != 200 and reader.size >= _MAX_ERROR_BYTES:
                                break
                except _TRANSIENT as exc:
                    raise _Retry(self._transport_error(exc)) from exc
                return self._parse(resp, reader.body())
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

    def stream(
        self,
        messages: list[Message],
        *,
        timeout: float | None = None,
        upstream_params: Mapping[str, Any] | None = None,
        **params: Any,
    ) -> ChatStream:
        """Iterate content deltas as they arrive; afterwards `.usage` holds what the server reported.

        Raises LLMError (while iterating) if the stream drops before `[DONE]`. `upstream_params` as complete().
        """
        fields = _fields(params, upstream_params)
        return ChatStream(lambda stats: self._stream(messages, timeout, fields, stats))

    def astream(
        self,
        messages: list[Message],
        *,
        timeout: float | None = None,
        upstream_params: Mapping[str, Any] | None = None,
        **params: Any,
    ) -> AsyncChatStream:
        """stream() for asyncio: `async for delta in client.astream(...)`; then `.usage`."""
        fields = _fields(params, upstream_params)
        return AsyncChatStream(lambda stats: self._astream(messages, timeout, fields, stats))

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
                        reader = self._reader(deadline)
                        if resp.status_code != 200:
                            self._raise_status(resp, reader.error_body(resp.iter_bytes()))
                        reader.expect(resp)
                        # Bytes, not lines: a trickle that never ends a line must still meet the deadline and cap.
                        for chunk in resp.iter_bytes():
                            for text in _deltas(reader.events(chunk), self.name, stats):
                                yielded = True
                                yield text
                            if reader.done:
                                return
                        for text in _deltas(reader.finish(), self.name, stats):
                            yielded = True
                            yield text
                        if reader.done:
                            return
                        raise _Retry(LLMError(f"{self.name}: stream ended before [DONE]", retryable=True))
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
                        reader = self._reader(deadline)
                        if resp.status_code != 200:
                            self._raise_status(resp, await reader.aerror_body(resp.aiter_bytes()))
                        reader.expect(resp)
                        async for chunk in resp.aiter_bytes():
                            for text in _deltas(reader.events(chunk), self.name, stats):
                                yielded = True
                                yield text
                            if reader.done:
                                return
                        for text in _deltas(reader.finish(), self.name, stats):  # an event with no blank line after it
                            yielded = True
                            yield text
                        if reader.done:
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
        return LLMError(
            f"{self.name}: {what}: {type(exc).__name__}: {str(exc)[:200]}",
            retryable=True,
            timeout=isinstance(exc, httpx.TimeoutException),
        )

    def _raise_status(self, resp: httpx.Response, body: bytes) -> None:
        status = resp.status_code
        # The body's message is the provider's text (it can quote the prompt or the answer): `detail`, not the message.
        error = LLMError(
            f"{self.name}: HTTP {status}", status=status, retryable=False, detail=_error_detail(resp, body)
        )
        if status in _RETRY_STATUS or status >= 500:
            error.retryable = True
            raise _Retry(error, _retry_after(resp))
        raise error

    def _parse(self, resp: httpx.Response, body: bytes) -> LLMResponse:
        if resp.status_code != 200:
            self._raise_status(resp, body)
        try:
            data = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise LLMError(f"{self.name}: malformed JSON in response: {exc}", status=200) from exc
        try:
            message = data["choices"][0]["message"]
            content = content_text(message.get("content"))
            finish = data["choices"][0].get("finish_reason")
        except (KeyError, IndexError, TypeError, AttributeError) as exc:
            raise LLMError(f"{self.name}: response lacks choices[0].message.content ({exc})", status=200) from exc
        return LLMResponse(
            text=content,
            usage=_usage(data.get("usage")),
            model=data.get("model") or self.model,
            provider=self.name,
            message=message,
            finish_reason=finish if isinstance(finish, str) else None,
            alternatives=[self._choice(c, data) for c in data["choices"][1:]],
            **_choice_extras(data["choices"][0], data),
        )

    def _choice(self, choice: Any, data: dict[str, Any]) -> LLMResponse:
        """One further choice of an `n > 1` answer (its usage is the whole answer's, counted on choice 0)."""
        try:
            message = choice["message"]
            finish = choice.get("finish_reason")
            text = content_text(message.get("content"))
        except (KeyError, TypeError, AttributeError) as exc:
            raise LLMError(f"{self.name}: a choice lacks its message ({exc})", status=200) from exc
        return LLMResponse(
            text=text,
            model=data.get("model") or self.model,
            provider=self.name,
            message=message if isinstance(message, dict) else None,
            finish_reason=finish if isinstance(finish, str) else None,
            **_choice_extras(choice, data),
        )


def _choice_extras(choice: Any, data: dict[str, Any]) -> dict[str, Any]:
    """What OpenAI sends besides the message: the choice's logprobs, the answer's fingerprint and tier."""
    logprobs = choice.get("logprobs") if isinstance(choice, dict) else None
    fingerprint, tier = data.get("system_fingerprint"), data.get("service_tier")
    return {
        "logprobs": logprobs if isinstance(logprobs, dict) else None,
        "system_fingerprint": fingerprint if isinstance(fingerprint, str) else None,
        "service_tier": tier if isinstance(tier, str) else None,
    }


def _fields(params: dict[str, Any], upstream_params: Mapping[str, Any] | None) -> dict[str, Any]:
    return {**params, **upstream_params} if upstream_params else params


def _usage(raw: Any) -> Usage:
    if not isinstance(raw, dict):
        return Usage()
    values = {k: raw.get(k) for k in ("prompt_tokens", "completion_tokens", "total_tokens")}
    counts: dict[str, Any] = {k: v for k, v in values.items() if _count(v)}
    for key in ("prompt_tokens_details", "completion_tokens_details"):
        details = raw.get(key)
        if isinstance(details, dict):  # the numeric ones: they are what can be summed over attempts
            counts[key] = {str(k): v for k, v in details.items() if _count(v)}
    return Usage(**counts)


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _error_detail(resp: httpx.Response, body: bytes) -> str:
    try:
        data = json.loads(body)
        error = data.get("error") if isinstance(data, dict) else None
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])[:300]
        if isinstance(error, str):
            return error[:300]
    except (json.JSONDecodeError, UnicodeDecodeError):
        pass
    return body[:300].decode("utf-8", "replace") or resp.reason_phrase


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


class _Reader:
    """Reads one upstream answer chunk by chunk, holding it to the byte cap and the run's deadline.

    httpx's timeouts bound each read, not the whole answer: an upstream that keeps sending (SSE comments, empty
    deltas, a byte at a time that never ends a line) must still stop at the deadline, so both are checked on
    every chunk, whatever it holds. For streams it also splits lines and parses events (`events`).
    """

    def __init__(self, name: str, cap: int, deadline: float | None) -> None:
        self.name = name
        self.cap = cap
        self.deadline = deadline
        self.size = 0
        self._chunks: list[bytes] = []
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._partial = ""
        self._parser = _SSEParser()

    @property
    def done(self) -> bool:
        return self._parser.done

    def expect(self, resp: httpx.Response) -> None:
        """Refuse an answer whose declared length is over the cap before reading any of it."""
        declared = resp.headers.get("content-length", "")
        if resp.status_code == 200 and declared.isdigit() and int(declared) > self.cap:
            raise self._too_big(int(declared))

    def take(self, chunk: bytes) -> None:
        """Count (and keep, for a plain answer) one chunk."""
        self._count(chunk)
        self._chunks.append(chunk)

    def body(self) -> bytes:
        return b"".join(self._chunks)

    def error_body(self, chunks: Iterable[bytes]) -> bytes:
        """The start of an error answer: enough for its message, never the whole of a huge one."""
        for chunk in chunks:
            self.take(chunk)
            if self.size >= _MAX_ERROR_BYTES:
                break
        return self.body()[:_MAX_ERROR_BYTES]

    async def aerror_body(self, chunks: AsyncIterator[bytes]) -> bytes:
        async for chunk in chunks:
            self.take(chunk)
            if self.size >= _MAX_ERROR_BYTES:
                break
        return self.body()[:_MAX_ERROR_BYTES]

    def events(self, chunk: bytes) -> list[str]:
        """The data of every event this chunk completes (none after `[DONE]`)."""
        self._count(chunk)
        text = self._partial + self._decoder.decode(chunk)
        held = ""
        if text.endswith("\r"):  # maybe the first half of a CRLF
            text, held = text[:-1], "\r"
        lines = _NEWLINE.split(text)
        self._partial = lines.pop() + held
        out: list[str] = []
        for line in lines:
            out += self._parser.feed(line)
            if self._parser.done:
                break
        return out

    def finish(self) -> list[str]:
        """Events left when the body ended: a last line without a newline, an event without a blank line."""
        rest = self._partial + self._decoder.decode(b"", final=True)
        self._partial = ""
        out: list[str] = []
        for line in [*_NEWLINE.split(rest), ""]:
            if self._parser.done:
                break
            out += self._parser.feed(line)
        return out

    def _count(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.cap:
            raise self._too_big(self.size)
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise LLMBudgetError(f"{self.name}: answer cut off: the time budget ran out", retryable=False)

    def _too_big(self, size: int) -> LLMBudgetError:
        return LLMBudgetError(
            f"{self.name}: answer cut off at {size} bytes: over the {self.cap}-byte cap on upstream answers",
            retryable=False,
        )


def _deltas(events: Iterable[str], name: str, stats: StreamStats | None = None) -> Iterator[str]:
    for data in events:
        chunk = _stream_chunk(data, name)
        if stats is not None:
            _note_chunk(stats, chunk)
        for choice in chunk.get("choices") or []:
            if isinstance(choice, dict) and choice.get("index", 0) != 0:
                if stats is not None:
                    _note_other(stats, choice)
                continue  # one answer per stream: further choices (`n > 1`) are kept apart, never mixed into it
            delta = choice.get("delta") if isinstance(choice, dict) else None
            if stats is not None and isinstance(choice, dict):
                _note_choice(stats, choice, delta)
            content = delta.get("content") if isinstance(delta, dict) else None
            if isinstance(content, str) and content:
                yield content


def _stream_chunk(data: str, name: str) -> dict[str, Any]:
    """One stream event as an object, or the LLMError the provider's bytes deserve."""
    try:
        chunk = json.loads(data)
    except json.JSONDecodeError as exc:
        raise LLMError(f"{name}: malformed JSON in stream event ({exc.msg})", detail=data[:100]) from exc
    if not isinstance(chunk, dict):
        raise LLMError(f"{name}: stream event is not an object", detail=data[:100])
    if "error" in chunk:
        raise LLMError(f"{name}: provider error in stream", detail=str(chunk["error"])[:300])
    return chunk


def _note_chunk(stats: StreamStats, chunk: dict[str, Any]) -> None:
    if isinstance(chunk.get("usage"), dict):
        stats.usage = _usage(chunk["usage"])
    if isinstance(chunk.get("model"), str):
        stats.model = chunk["model"]


def _note_other(stats: StreamStats, choice: dict[str, Any]) -> None:
    """Fold a further choice's delta into its own stats (indices past OpenAI's `n` limit of 128 are dropped)."""
    index = choice.get("index")
    if not isinstance(index, int) or isinstance(index, bool) or not 0 < index < _MAX_CHOICES:
        return
    other = stats.others.setdefault(index, StreamStats())
    delta = choice.get("delta")
    _note_choice(other, choice, delta)
    content = delta.get("content") if isinstance(delta, dict) else None
    if isinstance(content, str) and content:
        other.parts.append(content)


def _note_choice(stats: StreamStats, choice: dict[str, Any], delta: object) -> None:
    if isinstance(choice.get("finish_reason"), str):
        stats.finish_reason = choice["finish_reason"]
    refusal = delta.get("refusal") if isinstance(delta, dict) else None
    if isinstance(refusal, str):
        stats.refusal += refusal
    if isinstance(delta, dict) and "function_call" in delta:
        stats.add_function_call_delta(delta["function_call"])
    calls = delta.get("tool_calls") if isinstance(delta, dict) else None
    for call in calls if isinstance(calls, list) else []:
        stats.add_tool_call_delta(call)

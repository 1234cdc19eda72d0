"""A caller's request id, scoped by its API key before it reaches the review queue.

The queue stores each request id once (submitting twice is idempotent). Unscoped, a second key reusing an id
would land on the first key's item: its answer would carry that item's id and its own output would never be
queued. Scoped, each key's ids are its own; reviewers and exports see `<key>/<id>`."""

from __future__ import annotations

import hashlib

from annotated_types import MaxLen

from guardrails import Context

_HASHED = "sha256:"
# The longest id a Context (and so the queue) takes, read from the model rather than copied.
MAX_REQUEST_ID = next(m.max_length for m in Context.model_fields["request_id"].metadata if isinstance(m, MaxLen))


def scoped_request_id(key_name: str, request_id: str) -> str:
    # '/' ends the key part, so a key's name may not contain one unescaped: "a/b" + "c" and "a" + "b/c" stay apart.
    prefix = key_name.replace("%", "%25").replace("/", "%2F") + "/"
    if len(prefix) + len(request_id) <= MAX_REQUEST_ID:
        return prefix + request_id
    digest = hashlib.sha256(request_id.encode("utf-8", "surrogatepass")).hexdigest()
    return (prefix + _HASHED + digest)[:MAX_REQUEST_ID]


def scoped(ctx: Context | None, key_name: str) -> Context | None:
    """`ctx` with its request id scoped by `key_name` (unchanged without an id: the queue then makes one up)."""
    if ctx is None or ctx.request_id is None or not key_name:
        return ctx
    return ctx.model_copy(update={"request_id": scoped_request_id(key_name, ctx.request_id)})

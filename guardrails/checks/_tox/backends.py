"""Model backends of the `toxicity` check, loaded once per process from the model store.

A backend turns texts into per-category probabilities (detoxify's category names) and says how it
counts tokens, so the check can cut long text into windows that fit instead of letting the model
truncate silently. torch and the model libraries are imported here, only when a backend loads.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence

from guardrails.models import InstalledModel

# detoxify's own renaming of Jigsaw 2018 label names, so every backend speaks one vocabulary.
JIGSAW_TO_DETOXIFY = {"toxic": "toxicity", "identity_hate": "identity_attack", "severe_toxic": "severe_toxicity"}


class Backend(ABC):
    name: str
    labels: tuple[str, ...]
    max_tokens: int
    """Most tokens one input may have without the model truncating it."""

    @abstractmethod
    def token_spans(self, text: str) -> list[tuple[int, int]]:
        """Character spans of the tokens the model would count in `text`."""

    @abstractmethod
    def score(self, texts: Sequence[str]) -> list[dict[str, float]]:
        """One {category: probability} per text, in one batch. Every text must fit max_tokens."""


_Loader = Callable[[InstalledModel], Backend]
_LOADERS: dict[str, str] = {
    "keras-bilstm": "guardrails.checks._tox.bilstm:load",
    "detoxify": "guardrails.checks._tox.detoxify_backend:load",
}
_cache: dict[tuple[str, str, tuple[str, ...]], Backend] = {}
_cache_lock = threading.Lock()


def known_backends() -> list[str]:
    return sorted(_LOADERS)


def set_torch_threads(threads: int | None) -> None:
    """torch's intra-op thread count is process-wide: the last policy that sets it wins."""
    if threads is None:
        return
    import torch

    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


def load_backend(model: InstalledModel, backend: str | None = None) -> Backend:
    """The loaded backend for a stored model; loads once per process per model directory and file set."""
    kind = backend or model.backend
    if kind not in _LOADERS:
        raise ValueError(f"unknown toxicity backend {kind!r}; known: {', '.join(known_backends())}")
    if backend is not None and backend != model.backend:
        raise ValueError(f"model {model.name!r} is a {model.backend!r} model, not {backend!r}")
    key = (kind, str(model.dir), tuple(f"{r.name}:{r.sha256}" for r in model.files.values()))
    with _cache_lock:
        hit = _cache.get(key)
        if hit is None:
            import importlib

            module_name, _, attr = _LOADERS[kind].partition(":")
            loader: _Loader = getattr(importlib.import_module(module_name), attr)
            hit = loader(model)
            _cache[key] = hit
        return hit

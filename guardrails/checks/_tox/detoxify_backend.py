"""The `detoxify` backend: a detoxify checkpoint plus its Hugging Face config and tokenizer files.

detoxify's `load_checkpoint` asks the hub for the base config by name even when given local files,
so this loads the checkpoint dict itself and hands it to detoxify's `get_model_and_tokenizer` with
the store directory as the model type: the same construction detoxify uses, with nothing fetched
(a local directory never reaches the hub). Inference mirrors `Detoxify.predict` (sigmoid over the
logits), but batches come pre-windowed so the tokenizer never truncates.
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from typing import Any

import regex

from guardrails.checks._tox.backends import JIGSAW_TO_DETOXIFY, Backend
from guardrails.models import InstalledModel

CHECKPOINT_FILE = "checkpoint.ckpt"
_WORD = regex.compile(r"\S+")


def read_checkpoint(path: str) -> dict[str, Any]:
    import torch

    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        # Lightning checkpoints can hold more than tensors and dicts. The file matched the sha256
        # recorded when it was pulled, so it is the file that was vetted then.
        loaded = torch.load(path, map_location="cpu", weights_only=False)
    if not isinstance(loaded, dict) or "config" not in loaded or "state_dict" not in loaded:
        raise ValueError(f"{path}: a detoxify checkpoint needs `config` and `state_dict` keys")
    return loaded


class DetoxifyBackend(Backend):
    def __init__(self, model: InstalledModel) -> None:
        import torch
        import transformers
        from detoxify.detoxify import get_model_and_tokenizer

        transformers.utils.logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # no "Loading weights" bars in a service's stderr

        self._torch = torch
        loaded = read_checkpoint(str(model.path(CHECKPOINT_FILE)))
        try:
            arch = dict(loaded["config"]["arch"]["args"])
            classes = list(loaded["config"]["dataset"]["args"]["classes"])
        except (KeyError, TypeError) as exc:
            raise ValueError(f"{model.path(CHECKPOINT_FILE)}: checkpoint config lacks {exc}") from exc
        # model_type names the base model on the hub ("bert-base-uncased"); point it at the store instead.
        # Passing the directory as model_type (not as huggingface_config_path) keeps detoxify's
        # `num_labels=num_classes` override: the base config.json says 2 labels, the checkpoint has more.
        arch["model_type"] = str(model.dir)
        self.model, self.tokenizer = get_model_and_tokenizer(**arch, state_dict=loaded["state_dict"])
        self.model.eval()
        self.name = model.name
        self.labels = tuple(JIGSAW_TO_DETOXIFY.get(c, c) for c in classes)
        limit = int(getattr(self.tokenizer, "model_max_length", 0) or 0)
        positions = int(getattr(self.model.config, "max_position_embeddings", 512))
        if not 0 < limit <= 100_000:
            limit = positions
        self._limit = min(limit, positions)
        self.max_tokens = self._limit - self.tokenizer.num_special_tokens_to_add()
        if self.max_tokens < 1:
            raise ValueError(f"model {model.name!r}: input limit {self._limit} leaves no room for text")
        self.score(["warm up"])  # pay torch's first-call set-up at policy load, not in the first request

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        try:
            enc = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
            return [(int(s), int(e)) for s, e in enc["offset_mapping"]]
        except NotImplementedError:  # slow (Python) tokenizers of transformers 4 have no offsets
            out = []
            for m in _WORD.finditer(text):
                out.extend([m.span()] * max(1, len(self.tokenizer.tokenize(m.group()))))
            return out

    def score(self, texts: Sequence[str]) -> list[dict[str, float]]:
        if not texts:
            return []
        torch = self._torch
        enc = self.tokenizer(list(texts), return_tensors="pt", padding=True, truncation=True, max_length=self._limit)
        with torch.inference_mode():
            probs = torch.sigmoid(self.model(**enc)[0]).numpy()
        return [dict(zip(self.labels, map(float, row), strict=True)) for row in probs]


def load(model: InstalledModel) -> Backend:
    return DetoxifyBackend(model)

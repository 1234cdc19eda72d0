"""The `keras-bilstm` backend: Keras BiLSTM toxicity classifiers (tox-block's) run in torch.

The weights are read from the Keras HDF5 file with h5py and the word index from the pickled Keras
Tokenizer with an unpickler that only admits the few classes such a pickle holds, so neither
TensorFlow nor arbitrary pickled code is needed. Tokenisation and padding follow Keras'
`Tokenizer.texts_to_sequences` and `pad_sequences` defaults (lower-case, split on the filter
characters, drop unknown words, pad and truncate at the front).
"""

from __future__ import annotations

import collections
import json
import pickle
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import regex

from guardrails.checks._tox.backends import JIGSAW_TO_DETOXIFY, Backend
from guardrails.models import InstalledModel

MODEL_FILE = "model.h5"
ENCODER_FILE = "encoder.pkl"
KERAS_FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'


class _Attrs:
    """Stands in for Keras' Tokenizer and tox-block's TokenSequencer: keeps their attributes only."""

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)


class _SafeUnpickler(pickle.Unpickler):
    _ALLOWED: dict[tuple[str, str], Any] = {
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("collections", "defaultdict"): collections.defaultdict,
        ("builtins", "int"): int,
        ("builtins", "dict"): dict,
        ("builtins", "list"): list,
    }

    def find_class(self, module: str, name: str) -> Any:
        if name in {"Tokenizer", "TokenSequencer"} and module.split(".", maxsplit=1)[0] in {
            "keras",
            "keras_preprocessing",
            "tensorflow",
            "tox_block",
        }:
            return _Attrs
        try:
            return self._ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refusing to unpickle {module}.{name} from a tokenizer file") from None


@dataclass(frozen=True)
class KerasTokenizer:
    word_index: dict[str, int]
    num_words: int | None
    filters: str
    lower: bool
    split: str
    oov_index: int | None

    def __post_init__(self) -> None:
        sep = regex.escape(self.filters + self.split)
        object.__setattr__(self, "_word", regex.compile(f"[^{sep}\\s]+" if sep else r"\S+"))

    def word_spans(self, text: str) -> list[tuple[int, int]]:
        return [m.span() for m in self._word.finditer(text)]  # type: ignore[attr-defined]

    def ids(self, text: str) -> list[int]:
        if self.lower:
            text = text.lower()
        out = []
        for m in self._word.finditer(text):  # type: ignore[attr-defined]
            i = self.word_index.get(m.group())
            if i is not None and (not self.num_words or i < self.num_words):
                out.append(i)
            elif self.oov_index is not None:
                out.append(self.oov_index)
        return out


def read_tokenizer(path: str) -> KerasTokenizer:
    with open(path, "rb") as fh:
        obj = _SafeUnpickler(fh).load()
    tok = getattr(obj, "tokenizer", obj)
    state = getattr(tok, "__dict__", {})
    if "word_index" not in state:
        raise ValueError(f"{path}: not a pickled Keras Tokenizer (no word_index)")
    oov = state.get("oov_token")
    return KerasTokenizer(
        word_index=dict(state["word_index"]),
        num_words=state.get("num_words"),
        filters=state.get("filters", KERAS_FILTERS),
        lower=bool(state.get("lower", True)),
        split=state.get("split", " "),
        oov_index=state["word_index"].get(oov) if oov else None,
    )


def _weights(path: str) -> tuple[dict[str, np.ndarray], int]:
    """Named arrays from a Keras 2 full-model H5 or a Keras 3 `.weights.h5`, and the input length."""
    import h5py

    arrays: dict[str, np.ndarray] = {}
    with h5py.File(path, "r") as f:
        maxlen = 100
        raw = f.attrs.get("model_config")
        if raw is not None:
            cfg = json.loads(raw if isinstance(raw, str) else raw.decode())
            for layer in cfg.get("config", {}).get("layers", []):
                shape = layer.get("config", {}).get("batch_input_shape") or layer.get("config", {}).get("batch_shape")
                if layer.get("class_name") == "InputLayer" and shape and shape[1]:
                    maxlen = int(shape[1])
        root = f["model_weights"] if "model_weights" in f else f["layers"]

        def visit(name: str, obj: Any) -> None:
            if isinstance(obj, h5py.Dataset):
                arrays[name] = np.asarray(obj[()])

        root.visititems(visit)

    def pick(*parts: str, exclude: str = "\x00") -> np.ndarray:
        found = [v for k, v in arrays.items() if all(p in k for p in parts) and exclude not in k]
        if len(found) != 1:
            raise ValueError(f"{path}: expected one weight matching {parts}, found {len(found)}")
        return found[0]

    named = {"embedding": pick("embedding")}
    for direction in ("forward", "backward"):
        if any("kernel:0" in k for k in arrays):  # Keras 2 names
            named[f"{direction}.kernel"] = pick(direction, "/kernel:0")
            named[f"{direction}.recurrent"] = pick(direction, "recurrent_kernel")
            named[f"{direction}.bias"] = pick(direction, "bias")
        else:  # Keras 3: cell/vars/0 kernel, 1 recurrent kernel, 2 bias
            for i, what in enumerate(("kernel", "recurrent", "bias")):
                named[f"{direction}.{what}"] = pick(direction, f"cell/vars/{i}")
    denses = sorted(k for k in arrays if "dense" in k)
    kernels = [arrays[k] for k in denses if k.endswith(("kernel:0", "vars/0"))]
    biases = [arrays[k] for k in denses if k.endswith(("bias:0", "vars/1"))]
    if len(kernels) != 2 or len(biases) != 2:
        raise ValueError(f"{path}: expected two dense layers, found {len(kernels)}")
    named.update({"dense.kernel": kernels[0], "dense.bias": biases[0], "out.kernel": kernels[1], "out.bias": biases[1]})
    return named, maxlen


class BiLSTMBackend(Backend):
    def __init__(self, model: InstalledModel) -> None:
        import torch

        self._torch = torch
        weights, self.max_tokens = _weights(str(model.path(MODEL_FILE)))
        self.tokenizer = read_tokenizer(str(model.path(ENCODER_FILE)))
        n_classes = weights["out.bias"].shape[0]
        labels = [JIGSAW_TO_DETOXIFY.get(label, label) for label in model.labels]
        if len(labels) != n_classes:
            raise ValueError(f"model {model.name!r}: lock lists {len(labels)} labels, the weights have {n_classes}")
        self.name = model.name
        self.labels = tuple(labels)
        self.net = _build_net(torch, weights).eval()
        self.score(["warm up"])  # pay torch's first-call set-up at policy load, not in the first request

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        return self.tokenizer.word_spans(text)

    def score(self, texts: Sequence[str]) -> list[dict[str, float]]:
        if not texts:
            return []
        batch = np.zeros((len(texts), self.max_tokens), dtype=np.int64)
        for row, text in enumerate(texts):
            ids = self.tokenizer.ids(text)[-self.max_tokens :]
            if ids:
                batch[row, self.max_tokens - len(ids) :] = ids
        with self._torch.inference_mode():
            probs = self.net(self._torch.from_numpy(batch)).numpy()
        return [dict(zip(self.labels, map(float, row), strict=True)) for row in probs]


def _build_net(torch: Any, w: dict[str, np.ndarray]) -> Any:
    nn = torch.nn
    vocab, emb_dim = w["embedding"].shape
    hidden = w["forward.recurrent"].shape[0]
    dense = w["dense.kernel"].shape[1]
    n_out = w["out.kernel"].shape[1]

    class Net(nn.Module):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.emb = nn.Embedding(vocab, emb_dim)
            self.lstm = nn.LSTM(emb_dim, hidden, batch_first=True, bidirectional=True)
            self.dense = nn.Linear(2 * hidden, dense)
            self.out = nn.Linear(dense, n_out)

        def forward(self, x: Any) -> Any:
            h, _ = self.lstm(self.emb(x))
            return torch.sigmoid(self.out(torch.relu(self.dense(h.max(dim=1).values))))

    net = Net()

    def t(a: np.ndarray) -> Any:
        return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))

    with torch.no_grad():
        net.emb.weight.copy_(t(w["embedding"]))
        # Keras keeps gates in the order i, f, c, o like torch, with (in, 4h) kernels and one bias.
        for suffix, d in (("", "forward"), ("_reverse", "backward")):
            getattr(net.lstm, f"weight_ih_l0{suffix}").copy_(t(w[f"{d}.kernel"].T))
            getattr(net.lstm, f"weight_hh_l0{suffix}").copy_(t(w[f"{d}.recurrent"].T))
            getattr(net.lstm, f"bias_ih_l0{suffix}").copy_(t(w[f"{d}.bias"]))
            getattr(net.lstm, f"bias_hh_l0{suffix}").zero_()
        net.dense.weight.copy_(t(w["dense.kernel"].T))
        net.dense.bias.copy_(t(w["dense.bias"]))
        net.out.weight.copy_(t(w["out.kernel"].T))
        net.out.bias.copy_(t(w["out.bias"]))
    return net


def load(model: InstalledModel) -> Backend:
    return BiLSTMBackend(model)

"""Build a tiny detoxify-format checkpoint: a 1-layer BERT trained for a few steps on toy sentences.

It checks wiring (detoxify's loader, the store, windows, batching, spans), not quality: it learns that
"idiot"/"stupid" are insults, "kill" a threat and "naked"/"sex" sexually explicit, and nothing else.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

CLASSES = ["toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate", "sexual_explicit"]
WORDS = [
    "the",
    "a",
    "an",
    "you",
    "are",
    "is",
    "was",
    "i",
    "will",
    "it",
    "this",
    "that",
    "day",
    "nice",
    "good",
    "great",
    "thanks",
    "for",
    "help",
    "here",
    "answer",
    "summary",
    "of",
    "report",
    "weather",
    "today",
    "tomorrow",
    "code",
    "works",
    "fine",
    "idiot",
    "stupid",
    "kill",
    "hello",
    "world",
    "please",
    "naked",
    "sex",
    "want",
    "with",
]
MAX_POSITIONS = 32


def _examples() -> list[tuple[str, list[float]]]:
    clean = [
        "thanks for the help",
        "here is the answer",
        "the weather is nice today",
        "this code works fine",
        "hello world",
        "a summary of the report",
        "good day",
        "it was a great day",
        "please help",
        "i will help you tomorrow",
    ]
    insult = ["you are an idiot", "you are stupid", "idiot", "this is stupid you idiot", "what an idiot"]
    threat = ["i will kill you", "kill", "i will kill you tomorrow"]
    sexual = ["i want sex with you", "sex", "you are naked", "naked", "i want you naked"]
    data = [(t, [0.0] * 7) for t in clean]
    data += [(t, [1, 0, 0, 0, 1, 0, 0]) for t in insult]
    data += [(t, [1, 0, 0, 1, 0, 0, 0]) for t in threat]
    data += [(t, [0, 0, 0, 0, 0, 0, 1]) for t in sexual]
    # Longer inputs so the model also fires inside a full window.
    data += [("the weather is nice today " * 4 + "you are an idiot", [1, 0, 0, 0, 1, 0, 0])]
    data += [("the weather is nice today " * 5, [0.0] * 7)]
    return [(t, [float(v) for v in y]) for t, y in data]


def build(directory: Path, *, steps: int = 80, seed: int = 0) -> dict[str, str]:
    """Write config.json, tokenizer files, vocab.txt and checkpoint.ckpt; return {file name: sha256}."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    directory.mkdir(parents=True, exist_ok=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]
    (directory / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tokenizer = BertTokenizerFast(str(directory / "vocab.txt"), model_max_length=MAX_POSITIONS)
    tokenizer.save_pretrained(str(directory))
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=MAX_POSITIONS,
        num_labels=len(CLASSES),
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        initializer_range=0.5,  # BERT's 0.02 leaves [CLS] blind to the input for the first hundreds of steps
    )
    # Like bert-base-uncased's own config.json, the stored config keeps the default 2 labels: detoxify's
    # loader must override num_labels from the checkpoint's class list.
    BertConfig.from_dict({**config.to_dict(), "num_labels": 2, "id2label": None, "label2id": None}).save_pretrained(
        str(directory)
    )
    torch.manual_seed(seed)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: more threads only add contention
    model = BertForSequenceClassification(config)
    data = _examples()
    enc = tokenizer([t for t, _ in data], padding=True, truncation=True, return_tensors="pt")
    target = torch.tensor([y for _, y in data])
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    model.train()
    for _ in range(steps):
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(**enc).logits, target)
        loss.backward()
        opt.step()
    torch.set_num_threads(threads)
    model.eval()
    checkpoint = {
        "config": {
            "arch": {
                "args": {
                    "model_type": "bert-base-uncased",  # what detoxify's real checkpoints say; never fetched
                    "model_name": "BertForSequenceClassification",
                    "tokenizer_name": "BertTokenizer",  # as in detoxify's released checkpoints
                    "num_classes": len(CLASSES),
                }
            },
            "dataset": {"args": {"classes": CLASSES}},
        },
        "state_dict": model.state_dict(),
    }
    torch.save(checkpoint, directory / "checkpoint.ckpt")
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir()) if p.is_file()}

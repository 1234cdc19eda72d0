"""Datasets and a small rule-only policy for the batch tests, written in each format."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tests.helpers import rule, write_rules

WORD = "tests.engine_checks:WordCheck"


def rules(tmp_path: Path) -> list[str]:
    """`--policy t --rules DIR`: darn blocks, heck is repaired, hmm goes to review, gosh warns."""
    d = write_rules(
        tmp_path / "rules",
        [
            rule("bad-word", "TST001", WORD, params={"word": "darn"}, action="block", message="Said {matched}"),
            rule("fixable-word", "TST002", WORD, params={"word": "heck", "replacement": "h*ck"}, action="repair"),
            rule("doubt-word", "TST003", WORD, params={"word": "hmm"}, action="review"),
            rule("other-word", "OTH001", WORD, params={"word": "gosh"}, action="warn"),
        ],
        {"name": "t", "rules": ["pack:test-pack"]},
    )
    return ["--policy", "t", "--rules", str(d)]


def text_for(i: int) -> str:
    """Row i's text: every 7th blocks, every 11th is repaired, every 13th goes to review."""
    words = ["row", str(i)]
    if i % 7 == 3:
        words.append("darn")
    if i % 11 == 5:
        words.append("heck")
    if i % 13 == 4:
        words.append("hmm")
    return " ".join(words)


def rows(n: int, *, ids: bool = True) -> list[dict[str, Any]]:
    return [{**({"id": f"r{i}"} if ids else {}), "text": text_for(i)} for i in range(n)]


def write(path: Path, records: Sequence[dict[str, Any]], fmt: str | None = None) -> Path:
    fmt = fmt or path.suffix.lstrip(".")
    if fmt == "jsonl":
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    elif fmt == "csv":
        columns = list(dict.fromkeys(k for r in records for k in r))
        with path.open("w", encoding="utf-8", newline="") as fh:
            w = csv.DictWriter(fh, columns)
            w.writeheader()
            w.writerows(records)
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(list(records)), path)
    return path


def read(path: Path) -> list[dict[str, Any]]:
    """The output rows, in order, whatever the format (report parsed, codes a list)."""
    fmt = path.suffix.lstrip(".")
    if fmt == "jsonl":
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    if fmt == "csv":
        with path.open(encoding="utf-8", newline="") as fh:
            out = list(csv.DictReader(fh))
        for r in out:
            r["line"] = int(r["line"])
            r["codes"] = r["codes"].split()
            r["report"] = json.loads(r["report"])
            r["review_id"] = r["review_id"] or None
        return out
    import pyarrow.parquet as pq

    out = pq.read_table(path).to_pylist()
    for r in out:
        r["report"] = json.loads(r["report"])
    return out

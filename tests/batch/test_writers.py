"""What an earlier run left: torn last rows cut off, ids listed in order, counts kept, other files refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from guardrails.batch.outcome import Outcome
from guardrails.batch.runners import BatchError, Row
from guardrails.batch.writers import open_writer


def _rows(n: int) -> list[tuple[Row, Outcome]]:
    out = []
    for i in range(n):
        verdict = "block" if i % 3 == 0 else "pass"
        codes = ("TST001",) if verdict == "block" else ()
        report = f'{{"verdict": "{verdict}", "policy_version": "v1", "masked": true, "original": "a\\nb,\\"{i}\\""}}'
        out.append((Row(f"r{i}", i + 1, f"text {i}"), Outcome(verdict, codes, f'a\nb,"{i}"', report, False, False)))
    return out


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_prior_lists_ids_in_order_and_counts_verdicts_and_codes(tmp_path: Path, fmt: str) -> None:
    path = str(tmp_path / f"out.{fmt}")
    w = open_writer(path, fmt)
    w.write(_rows(10))
    w.close()
    prior = open_writer(path, fmt).prior()
    assert prior.count == 10 and list(prior.keys) == [f"r{i}" for i in range(10)]
    assert prior.by_verdict == {"block": 4, "pass": 6} and prior.by_code == {"TST001": 4}
    assert prior.first is not None and (prior.first.policy_version, prior.first.masked) == ("v1", True)


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
@pytest.mark.parametrize("cut_back", [1, 5, 40])
def test_every_cut_of_the_last_row_is_found_and_cut_off(tmp_path: Path, fmt: str, cut_back: int) -> None:
    path = tmp_path / f"out.{fmt}"
    w = open_writer(str(path), fmt)
    w.write(_rows(5))
    w.close()
    whole = path.read_bytes()
    four = len(whole) - len(whole.splitlines(keepends=True)[-1]) if fmt == "jsonl" else None
    path.write_bytes(whole[:-cut_back])
    prior = open_writer(str(path), fmt).prior()
    assert prior.count == 4 and list(prior.keys) == ["r0", "r1", "r2", "r3"]
    if four is not None:
        assert path.read_bytes() == whole[:four]
    w = open_writer(str(path), fmt)
    w.write(_rows(5)[4:])
    w.close()
    assert path.read_bytes() == whole


def test_a_torn_csv_header_leaves_an_empty_output(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    path.write_bytes(b"id,line,ver")
    assert open_writer(str(path), "csv").prior().count == 0
    assert path.read_bytes() == b""


def test_a_csv_of_other_columns_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    path.write_text("name,age\nann,3\n", encoding="utf-8")
    with pytest.raises(BatchError, match="not the output of `guardrails batch`"):
        open_writer(str(path), "csv").prior()

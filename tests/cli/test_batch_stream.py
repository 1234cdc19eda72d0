"""`guardrails batch` end to end: every format in and out, ids kept, resume after a kill, bad rows named,
the review queue, the summary, and the engines' seam."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from guardrails.batch import runners
from guardrails.cli.main import main
from tests.batch._data import read, rows, rules, text_for, write

FORMATS = ["jsonl", "csv", "parquet"]


def _batch(tmp_path: Path, src: Path, dest: Path, *extra: str) -> int:
    return main(["batch", str(src), "-o", str(dest), *rules(tmp_path), "--workers", "1", *extra])


def _expected_verdict(i: int) -> str:
    text = text_for(i)
    if "darn" in text:
        return "block"
    if "hmm" in text:
        return "review"
    return "repaired" if "heck" in text else "pass"


@pytest.mark.parametrize("fmt_in", FORMATS)
@pytest.mark.parametrize("fmt_out", FORMATS)
def test_every_format_in_and_out_keeps_ids_and_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt_in: str, fmt_out: str
) -> None:
    src = write(tmp_path / f"in.{fmt_in}", rows(60))
    dest = tmp_path / f"out.{fmt_out}"
    assert _batch(tmp_path, src, dest, "--chunk-size", "7") == 1  # some rows block
    out = read(dest)
    assert [r["id"] for r in out] == [f"r{i}" for i in range(60)]
    assert [r["verdict"] for r in out] == [_expected_verdict(i) for i in range(60)]
    assert [r["report"]["verdict"] for r in out] == [r["verdict"] for r in out]
    assert out[3]["codes"] == ["TST001"] and out[5]["output"] == "row 5 h*ck"
    # Where each row came from: the line of a JSONL/CSV file (CSV: after the header), the row of a Parquet one.
    first_line = {"jsonl": 1, "csv": 2, "parquet": 1}[fmt_in]
    assert [r["line"] for r in out] == list(range(first_line, first_line + 60))
    err = capsys.readouterr().err
    assert "60 validated (block 9, pass 43, repaired 4, review 4), 0 skipped" in err
    assert "rows by code: TST001 9, TST002 5, TST003 5" in err


@pytest.mark.parametrize("fmt_in", FORMATS)
def test_rows_without_an_id_are_numbered_by_line_or_row(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt_in: str
) -> None:
    src = write(tmp_path / f"in.{fmt_in}", rows(5, ids=False))
    dest = tmp_path / "out.jsonl"
    _batch(tmp_path, src, dest)
    assert [r["id"] for r in read(dest)] == [1, 2, 3, 4, 5]


def test_id_field_names_another_column(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = write(tmp_path / "in.jsonl", [{"key": 10 + i, "text": "fine"} for i in range(3)])
    dest = tmp_path / "out.csv"
    assert _batch(tmp_path, src, dest, "--id-field", "key") == 0
    assert [r["id"] for r in read(dest)] == ["10", "11", "12"]


# -- resume ------------------------------------------------------------------------------------------------


def _stable(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows without what differs between two runs of the same input (timings)."""
    out = []
    for r in rows:
        report = {k: v for k, v in r["report"].items() if k not in ("timings", "elapsed_ms")}
        out.append({**r, "report": report})
    return out


def _validated_ids(err: str) -> int:
    # "... ; 40 already in OUT; 20 in 0.1s ..." -> how many this run validated
    line = next(x for x in err.splitlines() if " validated (" in x)
    part = next(p for p in line.split("; ") if " in " in p and "already" not in p and "s," in p)
    return int(part.split()[0])


@pytest.mark.parametrize("fmt_out", ["jsonl", "csv"])
def test_a_killed_run_resumes_without_duplicates_or_gaps(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt_out: str
) -> None:
    # Texts with newlines and quotes, so a CSV cut lands inside a quoted field spanning lines.
    records = [{"id": f"r{i}", "text": f'line one "{i}"\nline, two {text_for(i)}'} for i in range(80)]
    src = write(tmp_path / "in.jsonl", records)
    dest = tmp_path / f"out.{fmt_out}"
    _batch(tmp_path, src, dest)
    whole, expected = dest.read_bytes(), _stable(read(dest))
    # A kill mid-write: the file ends part-way through row 40 (inside its report).
    cut = whole.index(b"r40", len(whole) // 3) + 30
    dest.write_bytes(whole[:cut])
    capsys.readouterr()
    _batch(tmp_path, src, dest)
    err = capsys.readouterr().err
    out = read(dest)
    assert [r["id"] for r in out] == [f"r{i}" for i in range(80)]
    assert dest.read_bytes()[: whole.index(b"r40") - 10] == whole[: whole.index(b"r40") - 10]
    assert _stable(out) == expected  # what a run never killed writes (ids, reports, order)
    assert "40 already in" in err and _validated_ids(err) == 40
    # A third run finds everything done, validates nothing and changes nothing.
    resumed = dest.read_bytes()
    _batch(tmp_path, src, dest)
    assert "80 already in" in capsys.readouterr().err and dest.read_bytes() == resumed


def test_a_killed_parquet_run_resumes_from_its_closed_parts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import pyarrow.parquet as pq

    src = write(tmp_path / "in.jsonl", rows(90))
    dest = tmp_path / "out.parquet"
    _batch(tmp_path, src, dest)
    whole = read(dest)
    # What a kill leaves: parts closed so far (rows 0-29, 30-49), a part caught mid-write, no OUT yet.
    parts = dest.with_name("out.parquet.parts")
    parts.mkdir()
    table = pq.read_table(dest)
    pq.write_table(table.slice(0, 30), parts / "part-000001.parquet")
    pq.write_table(table.slice(30, 20), parts / "part-000002.parquet")
    (parts / "part-000003.tmp").write_bytes(b"PAR1 torn")
    dest.unlink()
    capsys.readouterr()
    _batch(tmp_path, src, dest)
    err = capsys.readouterr().err
    assert "50 already in" in err and _validated_ids(err) == 40
    assert _stable(read(dest)) == _stable(whole) and not parts.exists()
    # A complete output is resumed too: new rows appended after the old ones.
    write(tmp_path / "in.jsonl", rows(100))
    _batch(tmp_path, src, dest)
    again = read(dest)
    assert [r["id"] for r in again] == [f"r{i}" for i in range(100)] and _stable(again[:90]) == _stable(whole)


def test_resume_matches_by_id_when_the_input_was_reordered(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = write(tmp_path / "in.jsonl", rows(30))
    dest = tmp_path / "out.jsonl"
    write(tmp_path / "first.jsonl", rows(30)[10:20])
    _batch(tmp_path, tmp_path / "first.jsonl", dest)
    capsys.readouterr()
    _batch(tmp_path, src, dest)
    err = capsys.readouterr().err
    ids = [r["id"] for r in read(dest)]
    assert sorted(ids) == sorted(f"r{i}" for i in range(30)) and len(ids) == 30
    assert "10 already in" in err and "matched by id" in err


def test_resume_refuses_reports_made_differently(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = write(tmp_path / "in.jsonl", rows(10))
    dest = tmp_path / "out.jsonl"
    _batch(tmp_path, src, dest)
    before = dest.read_bytes()
    assert _batch(tmp_path, src, dest, "--show-values") == 2
    assert "holds reports masked" in capsys.readouterr().err and dest.read_bytes() == before
    assert _batch(tmp_path, src, dest, "--show-values", "--restart") == 1
    assert read(dest)[0]["report"]["masked"] is False and len(read(dest)) == 10


def test_an_output_of_something_else_is_not_appended_to(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = write(tmp_path / "in.jsonl", rows(3))
    dest = tmp_path / "out.jsonl"
    dest.write_text('{"name": "precious"}\n{"name": "data"}\n', encoding="utf-8")
    assert _batch(tmp_path, src, dest) == 2
    assert "out.jsonl:1: not a report row" in capsys.readouterr().err
    assert dest.read_text(encoding="utf-8") == '{"name": "precious"}\n{"name": "data"}\n'


# -- bad rows, summary ------------------------------------------------------------------------------------


def test_bad_rows_are_named_counted_and_listed_in_the_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "in.jsonl"
    lines = [json.dumps(r) for r in rows(6)]
    lines[1] = "{broken"
    lines[2] = json.dumps({"id": "r2", "text": 42})
    lines[3] = json.dumps(["not", "an", "object"])
    lines[4] = json.dumps({"id": {"nested": 1}, "text": "x"})
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    dest, summary = tmp_path / "out.jsonl", tmp_path / "summary.json"
    assert _batch(tmp_path, src, dest, "--summary", str(summary)) == 1
    err = capsys.readouterr().err
    assert f"{src}:2: skipped: not JSON" in err
    assert f"{src}:3: skipped: field 'text' is a number, not a string" in err
    assert f"{src}:4: skipped: expected a JSON object" in err
    assert f"{src}:5: skipped: field 'id' is an object; an id is a string or an integer" in err
    assert "2 validated (pass 1, repaired 1), 4 skipped" in err
    data = json.loads(summary.read_text(encoding="utf-8"))
    assert data["bad"] == 4 and [b["where"] for b in data["bad_rows"]] == [f"{src}:{n}" for n in (2, 3, 4, 5)]
    assert data["bad_rows"][1]["id"] == "r2"
    assert data["by_verdict"] == {"pass": 1, "repaired": 1} and data["by_code"] == {"TST002": 1}
    assert [r["id"] for r in read(dest)] == ["r0", "r5"]


def test_summary_counts_the_whole_output_after_a_resume(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = write(tmp_path / "in.jsonl", rows(40))
    dest, first, second = tmp_path / "out.jsonl", tmp_path / "a.json", tmp_path / "b.json"
    _batch(tmp_path, src, dest, "--summary", str(first))
    text = dest.read_text(encoding="utf-8").splitlines(keepends=True)
    dest.write_text("".join(text[:25]), encoding="utf-8")
    _batch(tmp_path, src, dest, "--summary", str(second))
    a, b = (json.loads(p.read_text(encoding="utf-8")) for p in (first, second))
    assert (a["by_verdict"], a["by_code"], a["rows"]) == (b["by_verdict"], b["by_code"], b["rows"])
    assert (b["resumed"], b["validated"]) == (25, 15)


def test_quiet_when_stderr_is_not_a_terminal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = write(tmp_path / "in.jsonl", rows(20))
    _batch(tmp_path, src, tmp_path / "out.jsonl")
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and err[0].startswith("20 validated") and "\x1b" not in "".join(err)


@pytest.mark.skipif(sys.platform != "linux", reason="uses a pseudo-terminal")
def test_a_terminal_gets_a_progress_bar_with_rate_and_eta(tmp_path: Path) -> None:
    import pty
    import subprocess

    src = write(tmp_path / "in.jsonl", rows(3000))
    primary, secondary = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "OUTGUARD_NO_PROGRESS"} | {"TERM": "xterm", "COLUMNS": "160"}
    args = ["batch", str(src), "-o", str(tmp_path / "o.jsonl"), *rules(tmp_path), "--workers", "1", "--chunk-size", "8"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "guardrails", *args], stderr=secondary, stdout=subprocess.DEVNULL, env=env
    )
    os.close(secondary)
    seen = b""
    while True:
        try:
            data = os.read(primary, 65536)
        except OSError:  # the child closed its end
            break
        if not data:
            break
        seen += data
    proc.wait(timeout=60)
    os.close(primary)
    text = seen.decode("utf-8", "replace")
    assert "validating" in text and "rows" in text and "/s" in text
    assert "3000 validated" in text


# -- the review queue ---------------------------------------------------------------------------------------


def test_flagged_rows_are_queued_for_review_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from guardrails.reviews import ItemFilter, ReviewStore

    src = write(tmp_path / "in.jsonl", rows(60))
    dest, url = tmp_path / "out.jsonl", f"sqlite:///{tmp_path / 'reviews.sqlite3'}"
    _batch(tmp_path, src, dest, "--review-db", url)
    out = read(dest)
    queued = [r for r in out if r["review_id"]]
    assert [r["id"] for r in queued] == [f"r{i}" for i in range(60) if _expected_verdict(i) == "review"]
    assert all(r["verdict"] == "review" for r in queued)
    store = ReviewStore.open(url)
    try:
        assert store.count(ItemFilter()) == len(queued)
        item = store.get(queued[0]["review_id"])
        assert item.request_id == "batch:in.jsonl:r4" and item.verdict == "review"
        # A kill after queueing but before writing: the rerun queues the same rows again, and the store keeps one.
        dest.write_text("".join(dest.read_text(encoding="utf-8").splitlines(keepends=True)[:3]), encoding="utf-8")
        _batch(tmp_path, src, dest, "--review-db", url)
        assert store.count(ItemFilter()) == len(queued)
        assert [r["review_id"] for r in read(dest)] == [r["review_id"] for r in out]
        # --review-all: every row whose verdict needs action (block too), not only review ones.
        _batch(tmp_path, src, tmp_path / "all.jsonl", "--review-db", url, "--review-all")
        flagged = [i for i in range(60) if _expected_verdict(i) in ("review", "block")]
        assert store.count(ItemFilter()) == len(flagged)
    finally:
        store.close()
    assert "queued for review" in capsys.readouterr().err


def test_the_review_queue_stores_masked_reports_even_with_show_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("presidio_analyzer")
    from guardrails.reviews import ReviewStore

    src = write(tmp_path / "in.jsonl", [{"id": "a", "text": "Write to jane.doe@example.com today."}])
    url = f"sqlite:///{tmp_path / 'q.sqlite3'}"
    args = ["batch", str(src), "-o", str(tmp_path / "o.jsonl"), "--policy", "pii", "--workers", "1"]
    assert main([*args, "--show-values", "--review-db", url, "--review-all"]) in (0, 1)
    assert "jane.doe@example.com" in (tmp_path / "o.jsonl").read_text(encoding="utf-8")
    store = ReviewStore.open(url)
    try:
        for item_id in store.ids():
            item = store.get(item_id)
            assert "jane.doe" not in item.output and "jane.doe" not in item.report.model_dump_json()
    finally:
        store.close()


# -- engines -------------------------------------------------------------------------------------------------


def test_a_registered_runner_gets_chunks_and_answers_in_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[int] = []

    def reversed_inside(chunks: Any, spec: runners.EngineSpec, *, workers: int | None = None) -> Any:
        engine = spec.build()
        for chunk in chunks:
            seen.append(len(chunk))
            # Validate out of order inside a chunk, answer in order: the command relies only on the answer's order.
            reports = {r.id: engine.validate(r.text, r.context) for r in reversed(chunk)}
            yield [reports[r.id] for r in chunk]

    monkeypatch.setitem(runners._RUNNERS, "ray", reversed_inside)
    src = write(tmp_path / "in.jsonl", rows(25))
    _batch(tmp_path, src, tmp_path / "out.jsonl", "--engine", "ray", "--chunk-size", "10")
    assert seen == [10, 10, 5]
    assert [r["verdict"] for r in read(tmp_path / "out.jsonl")] == [_expected_verdict(i) for i in range(25)]


@pytest.mark.parametrize(("engine", "extra", "module"), [("ray", "ray", "ray"), ("spark", "spark", "pyspark")])
def test_a_missing_engine_extra_is_named(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    engine: str,
    extra: str,
    module: str,
) -> None:
    # As if the extra were not installed: importing it fails.
    monkeypatch.setitem(sys.modules, module, None)
    monkeypatch.delitem(sys.modules, f"guardrails.integrations.{engine}", raising=False)
    src = write(tmp_path / "in.jsonl", rows(3))
    assert _batch(tmp_path, src, tmp_path / "out.jsonl", "--engine", engine) == 2
    err = capsys.readouterr().err
    assert f"--engine {engine} needs the {extra} extra" in err and f"pip install 'outguard[{extra}]'" in err


def test_the_input_is_never_its_own_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = write(tmp_path / "in.jsonl", rows(3))
    before = src.read_bytes()
    assert _batch(tmp_path, src, src) == 2
    assert "is the input" in capsys.readouterr().err and src.read_bytes() == before


def test_a_worker_killed_mid_batch_stops_the_run_and_the_rerun_completes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.helpers import rule, write_rules

    marker = tmp_path / "killed"
    d = write_rules(
        tmp_path / "kill-rules",
        [
            rule(
                "dies", "TST009", "tests.batch._checks:KillOnceCheck", params={"word": "row 150", "marker": str(marker)}
            )
        ],
        {"name": "k", "rules": ["pack:test-pack"]},
    )
    src = write(tmp_path / "in.jsonl", rows(300))
    dest = tmp_path / "out.jsonl"
    args = [
        "batch",
        str(src),
        "-o",
        str(dest),
        "--policy",
        "k",
        "--rules",
        str(d),
        "--workers",
        "2",
        "--chunk-size",
        "10",
    ]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert marker.exists() and "a worker process died" in err and "run the same command again to resume" in err
    assert "Traceback" not in err
    written = len(read(dest)) if dest.exists() else 0
    assert written < 300
    assert main(args) == 0
    assert [r["id"] for r in read(dest)] == [f"r{i}" for i in range(300)]
    assert f"{written} already in" in capsys.readouterr().err


def test_a_cluster_that_fails_is_one_line_not_its_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def cannot_start(chunks: Any, spec: runners.EngineSpec, *, workers: int | None = None) -> Any:
        next(iter(chunks))
        raise RuntimeError("The current node timed out during startup.")
        yield  # a generator, like every runner

    monkeypatch.setitem(runners._RUNNERS, "ray", cannot_start)
    src = write(tmp_path / "in.jsonl", rows(5))
    assert _batch(tmp_path, src, tmp_path / "out.jsonl", "--engine", "ray") == 2
    err = capsys.readouterr().err
    assert "error: --engine ray: RuntimeError: The current node timed out during startup." in err
    assert "Traceback" not in err

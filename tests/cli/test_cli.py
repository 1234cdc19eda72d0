from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from guardrails import Report, report_json_schema
from guardrails.cli.main import main
from tests.helpers import rule, write_rules

ROOT = Path(__file__).resolve().parents[2]

WORD = "tests.engine_checks:WordCheck"


def _rules(tmp_path: Path) -> Path:
    return write_rules(
        tmp_path / "rules",
        [
            rule("bad-word", "TST001", WORD, params={"word": "darn"}, action="block", message="Said {matched}"),
            rule("fixable-word", "TST002", WORD, params={"word": "heck", "replacement": "h*ck"}, action="repair"),
        ],
        {"name": "t", "rules": ["pack:test-pack"]},
    )


def test_check_text_output_underlines_spans(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "out.txt"
    f.write_text("first line\nwell darn it\n", encoding="utf-8")
    code = main(["check", str(f), "--policy", "t", "--rules", str(_rules(tmp_path))])
    out = capsys.readouterr().out
    assert code == 1
    assert f"{f}:2:6: TST001 bad-word [block] Said darn" in out
    assert "    2 | well darn it\n      |      ^^^^" in out
    assert "verdict: block" in out


def test_check_repaired_exits_zero_and_writes_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "out.txt"
    f.write_text("oh heck", encoding="utf-8")
    dest = tmp_path / "fixed.txt"
    code = main(["check", str(f), "--policy", "t", "--rules", str(_rules(tmp_path)), "--output", str(dest)])
    assert code == 0
    assert dest.read_text(encoding="utf-8") == "oh h*ck"
    assert "fix (safe): replace" in capsys.readouterr().out


def test_check_json_is_a_report_matching_the_exported_schema(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "out.txt"
    f.write_text("darn", encoding="utf-8")
    main(["check", str(f), "--policy", "t", "--rules", str(_rules(tmp_path)), "--format", "json"])
    data = json.loads(capsys.readouterr().out)
    jsonschema.validate(data, report_json_schema())
    assert Report.model_validate(data).findings[0].code == "TST001"


def test_stdin_and_context(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "guardrails",
            "check",
            "-",
            "--policy",
            "t",
            "--rules",
            str(_rules(tmp_path)),
            "--context",
            '{"request_id": "r-1"}',
            "--format",
            "json",
        ],
        input="all good ünïcödé 日本語".encode(),
        capture_output=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["verdict"] == "pass"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["check", "/nonexistent/file.txt"], "/nonexistent/file.txt: no such file"),
        (["check", "-", "--format", "xml"], "invalid choice: 'xml'"),
        (["check", "-", "--policy", "nosuch"], "unknown policy 'nosuch'"),
        (["check", "-", "--context", "{not json"], "--context: not readable JSON"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (["eval", "-", "--text-field", "t"], "the following arguments are required: --label-field"),
        (["bench", "--corpus", "/nonexistent"], "/nonexistent: no such file"),
    ],
)
def test_usage_errors_exit_2(argv: list[str], message: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "guardrails", *argv], input=b"x", capture_output=True, check=False)
    assert proc.returncode == 2, proc.stdout
    assert message in proc.stderr.decode()
    assert "Traceback" not in proc.stderr.decode()


def test_bad_rules_dir_exit_2_names_the_file(tmp_path: Path) -> None:
    d = tmp_path / "rules"
    d.mkdir()
    (d / "broken.yaml").write_text("pack: p\nrules:\n  - id: x-y\n    code: TST001\n    check: regex\n    mesage: m\n")
    proc = subprocess.run(
        [sys.executable, "-m", "guardrails", "check", "-", "--rules", str(d)],
        input=b"x",
        capture_output=True,
        check=False,
    )
    assert proc.returncode == 2
    # One line per problem: file:line:column: [type] rule: message (hint); line 6 is where `mesage` sits.
    line = "broken.yaml:6:5: [unknown-key] rule 'x-y': unknown key 'mesage' (did you mean 'message'?)"
    assert line in proc.stderr.decode()


def test_eval_scores_per_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "labelled.jsonl"
    rows = [("oh darn", ["TST001"]), ("fine", []), ("darn heck", ["TST001"]), ("heck", ["TST001"])]
    data.write_text("\n".join(json.dumps({"text": t, "label": lab}) for t, lab in rows), encoding="utf-8")
    assert (
        main(
            [
                "eval",
                str(data),
                "--text-field",
                "text",
                "--label-field",
                "label",
                "--policy",
                "t",
                "--rules",
                str(_rules(tmp_path)),
                "--format",
                "json",
            ]
        )
        == 0
    )
    table = json.loads(capsys.readouterr().out)
    assert (table["TST001"]["tp"], table["TST001"]["fp"], table["TST001"]["fn"]) == (2, 0, 1)
    assert (table["TST002"]["tp"], table["TST002"]["fp"]) == (0, 2)
    # "heck" has only a repaired finding (TST002): a repaired finding is a detection, so ANY counts it.
    assert (table["ANY"]["tp"], table["ANY"]["fp"], table["ANY"]["fn"]) == (3, 0, 0)


def test_eval_bad_rows_are_named(tmp_path: Path) -> None:
    data = tmp_path / "bad.jsonl"
    data.write_text('{"text": "a", "label": true}\n{"text": "b"}\n', encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "guardrails", "eval", str(data), "--text-field", "text", "--label-field", "label"],
        capture_output=True,
        check=False,
    )
    assert proc.returncode == 2
    assert f"{data}:2: missing field 'label'" in proc.stderr.decode()


def test_bench_prints_per_rule_and_total(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text('{"text": "oh darn"}\n{"text": "heck"}\n', encoding="utf-8")
    assert (
        main(["bench", "--corpus", str(corpus), "--policy", "t", "--rules", str(_rules(tmp_path)), "--repeat", "2"])
        == 0
    )
    out = capsys.readouterr().out
    assert "2 outputs" in out and "bad-word" in out and "fixable-word" in out and "TOTAL per output" in out


def test_rules_list_and_test(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "list"]) == 0
    assert any(line.split()[:2] == ["TXT001", "replacement-character"] for line in capsys.readouterr().out.splitlines())
    assert main(["rules", "test"]) == 0
    assert " 0 failed" in capsys.readouterr().out


def test_rules_docs_rewrites_only_the_generated_block(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    readme = tmp_path / "README.md"
    fresh = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    start, end = "<!-- rules:start", "<!-- rules:end -->"
    head, block_and_tail = fresh.split(start, 1)
    block, tail = block_and_tail.split(end, 1)
    readme.write_text(head + start + block.replace("JSON030", "JSON999") + end + tail, encoding="utf-8")
    assert main(["rules", "docs", "--readme", str(readme)]) == 0
    assert "updated" in capsys.readouterr().out
    assert readme.read_text(encoding="utf-8") == fresh
    assert main(["rules", "docs", "--readme", str(readme)]) == 0
    assert "already up to date" in capsys.readouterr().out
    readme.write_text("# no markers here\n", encoding="utf-8")
    assert main(["rules", "docs", "--readme", str(readme)]) == 2
    assert str(readme) in capsys.readouterr().err
    assert readme.read_text(encoding="utf-8") == "# no markers here\n"  # nothing lost
    assert main(["rules", "docs", "--readme", str(tmp_path / "missing.md")]) == 2


def test_rules_test_fails_on_a_wrong_example(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = write_rules(
        tmp_path / "r",
        [
            rule(
                "bad-word",
                "TST001",
                WORD,
                params={"word": "darn"},
                examples={"match": ["no such word"], "no_match": ["darn"]},
            )
        ],
    )
    assert main(["rules", "test", "--rules", str(d)]) == 1
    err = capsys.readouterr().err
    assert "FAIL TST001 bad-word [match] 'no such word': expected a finding, got none" in err
    assert "FAIL TST001 bad-word [no_match] 'darn': expected no finding" in err


def test_batch_writes_reports_in_order_and_names_bad_lines(tmp_path: Path) -> None:
    data = tmp_path / "in.jsonl"
    lines = [json.dumps({"text": f"row {i} {'darn' if i == 3 else ''}"}) for i in range(50)]
    lines.insert(10, "{broken")
    data.write_text("\n".join(lines), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "guardrails",
            "batch",
            str(data),
            "--out",
            str(out),
            "--policy",
            "t",
            "--rules",
            str(_rules(tmp_path)),
            "--workers",
            "2",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1
    assert f"{data}:11: skipped" in proc.stderr and "50 validated (block 1, pass 49), 1 skipped" in proc.stderr
    rows = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert [r["line"] for r in rows] == [n for n in range(1, 52) if n != 11]
    assert [r["report"]["verdict"] for r in rows].count("block") == 1


def test_batch_reports_are_redacted_unless_values_are_asked_for(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A reports file leaves the process like a sidecar answer: the values PII findings detected are masked in it.
    pytest.importorskip("presidio_analyzer")
    data = tmp_path / "in.jsonl"
    data.write_text(json.dumps({"text": "Write to jane.doe@example.com today."}) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    args = ["batch", str(data), "-o", str(out), "--policy", "pii", "--workers", "1"]
    assert main(args) == 0
    written = out.read_text(encoding="utf-8")
    assert "jane.doe" not in written and "example.com" not in written
    assert json.loads(written)["report"]["masked"] is True
    assert main([*args, "--show-values", "--restart"]) == 0  # a rerun on the same -o resumes; this one redoes
    assert "jane.doe@example.com" in out.read_text(encoding="utf-8")

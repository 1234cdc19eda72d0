"""The CLI as ruff users expect it: several inputs with one engine load, --select/--ignore, findings in
position order, --version, colour only where wanted, progress bars only on a terminal, `rules list|test|explain`
with filters, one spelling for the output option, and a one-line reason whenever a command fails."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from guardrails import Report
from guardrails.cli import cmd_check
from guardrails.cli._common import engine_from_args
from guardrails.cli.main import main
from tests.helpers import rule, write_rules

WORD = "tests.engine_checks:WordCheck"


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    return write_rules(
        tmp_path / "rules",
        [
            rule("bad-word", "TST001", WORD, params={"word": "darn"}, action="block", message="Said {matched}"),
            rule("fixable-word", "TST002", WORD, params={"word": "heck", "replacement": "h*ck"}, action="repair"),
            rule("other-word", "OTH001", WORD, params={"word": "gosh"}, action="warn"),
        ],
        {"name": "t", "rules": ["pack:test-pack"]},
    )


@pytest.fixture
def outputs(tmp_path: Path) -> Path:
    d = tmp_path / "outs"
    (d / "sub").mkdir(parents=True)
    (d / "a.txt").write_text("all fine\n", encoding="utf-8")
    (d / "b.txt").write_text("well darn it\n", encoding="utf-8")
    (d / "sub" / "c.md").write_text("oh heck\n", encoding="utf-8")
    (d / ".hidden").write_text("darn darn\n", encoding="utf-8")
    return d


def _policy(rules_dir: Path) -> list[str]:
    return ["--policy", "t", "--rules", str(rules_dir)]


def _count_engine_loads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    loads: list[int] = []

    def counted(args: argparse.Namespace) -> Any:
        loads.append(1)
        return engine_from_args(args)

    monkeypatch.setattr(cmd_check, "engine_from_args", counted)
    return loads


# -- several inputs -----------------------------------------------------------------------------------


def test_check_takes_files_directories_and_globs_with_one_engine_load(
    rules_dir: Path, outputs: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    loads = _count_engine_loads(monkeypatch)
    code = main(["check", str(outputs), *_policy(rules_dir)])
    out = capsys.readouterr().out
    assert loads == [1]
    assert code == 1  # the worst over all inputs: b.txt is blocked
    assert f"{outputs / 'b.txt'}:1:6: TST001 bad-word [block] Said darn" in out
    assert f"{outputs / 'sub' / 'c.md'}:1:4: TST002" in out
    assert ".hidden" not in out  # hidden files under a directory are skipped, as ruff does
    assert "3 files checked: block 1, pass 1, repaired 1" in out

    monkeypatch.chdir(outputs)
    assert main(["check", "**/*.md", "a.txt", *_policy(rules_dir)]) == 0  # quoted glob, `**` recurses
    out = capsys.readouterr().out
    assert "sub/c.md:1:4: TST002" in out and "2 files checked: pass 1, repaired 1" in out
    assert loads == [1, 1]


def test_check_json_is_one_array_for_several_inputs_and_a_report_for_one_file(
    rules_dir: Path, outputs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["check", str(outputs / "a.txt"), str(outputs / "b.txt"), *_policy(rules_dir), "--format", "json"])
    entries = json.loads(capsys.readouterr().out)
    assert [e["file"] for e in entries] == [str(outputs / "a.txt"), str(outputs / "b.txt")]
    assert [Report.model_validate(e["report"]).verdict.value for e in entries] == ["pass", "block"]

    # A directory is several inputs even when it holds one file: the shape follows the arguments.
    main(["check", str(outputs / "sub"), *_policy(rules_dir), "--output-format", "json"])
    assert isinstance(json.loads(capsys.readouterr().out), list)

    main(["check", str(outputs / "b.txt"), *_policy(rules_dir), "--format", "json"])
    assert Report.model_validate(json.loads(capsys.readouterr().out)).verdict.value == "block"

    main(["check", str(outputs), *_policy(rules_dir), "--format", "jsonl"])
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [Path(x["file"]).name for x in lines] == ["a.txt", "b.txt", "c.md"]


def test_an_unreadable_input_is_named_the_others_still_run_and_exit_is_2(
    rules_dir: Path, outputs: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real_open = Path.open

    def refuse(self: Path, *a: Any, **kw: Any) -> Any:
        if self.name == "a.txt":
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *a, **kw)

    monkeypatch.setattr(Path, "open", refuse)
    code = main(["check", str(outputs / "a.txt"), str(outputs / "b.txt"), *_policy(rules_dir)])
    captured = capsys.readouterr()
    assert code == 2
    assert f"error: {outputs / 'a.txt'}: cannot read: Permission denied" in captured.err
    assert "TST001 bad-word" in captured.out and "2 files checked: block 1, 1 unreadable" in captured.out


@pytest.mark.parametrize(
    ("paths", "message"),
    [
        (["nosuch.txt"], "nosuch.txt: no such file or directory"),
        (["*.nomatch"], "*.nomatch: no file matches this pattern"),
        (["empty"], "empty: directory has no files to check"),
    ],
)
def test_check_names_inputs_that_do_not_exist_before_loading_anything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], paths: list[str], message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty").mkdir()
    loads = _count_engine_loads(monkeypatch)
    assert main(["check", *paths]) == 2
    assert f"error: {message}" in capsys.readouterr().err
    assert loads == []


def test_output_is_one_delivered_text_so_it_takes_one_input(
    rules_dir: Path, outputs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dest = tmp_path / "fixed.txt"
    assert main(["check", str(outputs), *_policy(rules_dir), "-o", str(dest)]) == 2
    assert "--output writes one delivered output; got 3 inputs" in capsys.readouterr().err
    assert main(["check", str(outputs / "sub" / "c.md"), *_policy(rules_dir), "-o", str(dest)]) == 0
    assert dest.read_text(encoding="utf-8") == "oh h*ck\n"
    assert main(["check", str(outputs / "a.txt"), *_policy(rules_dir), "-o", str(tmp_path / "no" / "dir.txt")]) == 2
    assert f"error: {tmp_path / 'no' / 'dir.txt'}: No such file or directory" in capsys.readouterr().err


# -- --select / --ignore --------------------------------------------------------------------------------


def _engine_ids(rules_dir: Path, select: list[str], ignore: list[str], policy: str = "t") -> list[str]:
    args = argparse.Namespace(
        policy=policy, rules=[str(rules_dir)] if policy == "t" else [], select=select, ignore=ignore
    )
    return [r.rule.code for r in engine_from_args(args).rules]


def test_select_and_ignore_take_codes_prefixes_and_ids_before_compiling(rules_dir: Path) -> None:
    assert _engine_ids(rules_dir, [], []) == ["OTH001", "TST001", "TST002"]
    assert _engine_ids(rules_dir, ["TST"], []) == ["TST001", "TST002"]
    assert _engine_ids(rules_dir, ["tst001", "other-word"], []) == ["OTH001", "TST001"]
    assert _engine_ids(rules_dir, [], ["TST00"]) == ["OTH001"]
    assert _engine_ids(rules_dir, ["TST"], ["fixable-word"]) == ["TST001"]


def test_a_prefix_takes_no_preview_rule_but_a_named_code_does() -> None:
    assert "TXT010" not in _engine_ids(Path(), ["TXT"], [], policy="default")  # profanity is in preview
    assert _engine_ids(Path(), ["TXT010"], [], policy="default") == ["TXT010"]


def test_check_with_ignore_does_not_flag_the_ignored_rule(
    rules_dir: Path, outputs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", str(outputs / "b.txt"), *_policy(rules_dir), "--ignore", "TST001"]) == 0
    assert "TST001" not in capsys.readouterr().out


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--select", "TST009", "--select: no rule matches 'TST009' (did you mean 'TST00"),
        ("--ignore", "bad-wrd", "--ignore: no rule matches 'bad-wrd' (did you mean 'bad-word'?)"),
        ("--select", "XYZ", "--select: no rule matches 'XYZ'"),
    ],
)
def test_an_unknown_selector_is_a_usage_error_naming_it(
    rules_dir: Path, outputs: Path, capsys: pytest.CaptureFixture[str], flag: str, value: str, message: str
) -> None:
    assert main(["check", str(outputs / "a.txt"), *_policy(rules_dir), flag, value]) == 2
    assert message in capsys.readouterr().err


# -- text output ----------------------------------------------------------------------------------------


def test_findings_print_in_position_order_and_the_residual_only_what_is_new(
    rules_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "o.txt"
    f.write_text("gosh, oh heck\nthat darn thing\n", encoding="utf-8")
    assert main(["check", str(f), *_policy(rules_dir)]) == 1
    out = capsys.readouterr().out
    heads = [line.split(": ")[1].split()[0] for line in out.splitlines() if line.startswith(f"{f}:")]
    assert heads == ["OTH001", "TST002", "TST001"]  # by position, not by rule code
    # TST001 and OTH001 stay open after TST002's repair: shown once above, not again as residual.
    assert out.count("TST001") == 1 and out.count("OTH001") == 1
    assert f"{f} (repaired):" not in out and "2 open after repair" in out


def test_version() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "guardrails", "--version"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0
    assert proc.stdout.startswith("guardrails (outguard) ")


@pytest.mark.parametrize(
    ("env", "coloured"),
    [({}, False), ({"FORCE_COLOR": "1"}, True), ({"FORCE_COLOR": "1", "NO_COLOR": "1"}, False)],
)
def test_colour_only_on_a_terminal_or_when_forced_and_never_with_no_color(
    rules_dir: Path,
    outputs: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    env: dict[str, str],
    coloured: bool,
) -> None:
    for key in ("FORCE_COLOR", "NO_COLOR"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    main(["check", str(outputs / "b.txt"), *_policy(rules_dir)])
    assert ("\x1b[" in capsys.readouterr().out) is coloured


def test_colour_on_a_terminal(
    rules_dir: Path, outputs: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for key in ("FORCE_COLOR", "NO_COLOR"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    main(["check", str(outputs / "b.txt"), *_policy(rules_dir)])
    assert "\x1b[31;1mTST001\x1b[0m" in capsys.readouterr().out


# -- progress bars --------------------------------------------------------------------------------------


def test_rules_test_draws_a_progress_bar_on_a_terminal_only(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("OUTGUARD_NO_PROGRESS", raising=False)
    assert main(["rules", "test", "text"]) == 0
    assert capsys.readouterr().err == ""
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert main(["rules", "test", "text"]) == 0
    assert "rule examples" in capsys.readouterr().err


@pytest.mark.parametrize("workers", [1, 2])
def test_validate_many_reports_progress_for_each_output(rules_dir: Path, workers: int) -> None:
    from guardrails.engine import Engine

    engine = Engine.from_policy("t", [rules_dir])
    seen: list[int] = []
    reports = engine.validate_many(["darn", "fine"] * 20, workers=workers, progress=seen.append)
    assert len(reports) == 40 and sum(seen) == 40


# -- rules list / test / explain ------------------------------------------------------------------------


def test_rules_list_has_a_header_and_filters(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "list", "--pack", "text", "--status", "preview"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["code", "id", "check", "severity", "action", "status", "pack"]
    assert {line.split()[0] for line in lines[1:-1]} == {"TXT010", "TXT011", "TXT012"}
    assert lines[-1].startswith("3 of ")
    assert main(["rules", "list", "--check", "banlist", "--select", "TXT"]) == 0
    assert [line.split()[0] for line in capsys.readouterr().out.splitlines()[1:-1]] == ["TXT010", "TXT012"]
    assert main(["rules", "list", "--pack", "txt"]) == 2
    assert "--pack 'txt': no such pack (did you mean text?)" in capsys.readouterr().err


def test_rules_test_takes_a_pack_or_code_filter(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "test", "text"]) == 0
    assert capsys.readouterr().out.endswith("0 failed (4 rules)\n")
    assert main(["rules", "test", "--select", "TXT001,SEC001"]) == 0
    assert capsys.readouterr().out.endswith("0 failed (2 rules)\n")
    assert main(["rules", "test", "TXT01"]) == 0  # a code prefix
    assert capsys.readouterr().out.endswith("(3 rules)\n")
    assert main(["rules", "test", "nosuch"]) == 2
    assert "rules test: no rule matches 'nosuch'" in capsys.readouterr().err


def test_rules_explain_prints_the_rule_reference_from_its_yaml(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "explain", "TXT001"]) == 0
    out = capsys.readouterr().out
    for section in (
        "TXT001 replacement-character",
        "What it does\n  U+FFFD means",
        "severity low, action repair, status stable",
        "Check: regex\n  params:",
        "Examples that match\n  'caf\ufffd au lait'  -> flags '\ufffd'",
        "Examples that do not match\n  'café au lait'",
        "Fix\n  safe: replace with ''",
        "Policies that run it\n  default",
    ):
        assert section in out
    assert main(["rules", "explain", "replacement-character"]) == 0
    assert capsys.readouterr().out == out
    assert main(["rules", "explain", "ENG001"]) == 0
    assert "built into the engine" in capsys.readouterr().out


def test_rules_explain_an_unknown_code_suggests_close_ones(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "explain", "TXT01"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no rule with code or id 'TXT01'; did you mean TXT01")
    assert "Traceback" not in err


# -- one output option ----------------------------------------------------------------------------------


@pytest.mark.parametrize("flag", ["-o", "--output", "--out"])
def test_batch_writes_with_the_output_option_and_keeps_the_old_spelling(
    rules_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str
) -> None:
    data = tmp_path / "in.jsonl"
    data.write_text('{"text": "fine"}\n', encoding="utf-8")
    dest = tmp_path / "out.jsonl"
    assert main(["batch", str(data), flag, str(dest), *_policy(rules_dir), "--workers", "1"]) == 0
    assert json.loads(dest.read_text(encoding="utf-8"))["report"]["verdict"] == "pass"


def test_help_lists_one_spelling(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["batch", "--help"])
    out = capsys.readouterr().out
    assert "-o FILE, --output FILE" in out and "--out " not in out


# -- every failure says why -----------------------------------------------------------------------------


def _run(argv: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [sys.executable, "-m", "guardrails", *argv],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "OUTGUARD_DATA_DIR": str(tmp_path / "data"), **env},
        input="",
    )


def test_facts_commands_say_why_they_fail(tmp_path: Path) -> None:
    proc = _run(["facts", "get", "Acme X1"], tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert f"error: no facts database at {tmp_path / 'data' / 'facts.db'}: import facts first" in proc.stderr
    assert not (tmp_path / "data" / "facts.db").exists()  # reading never creates a store
    proc = _run(["facts", "export", str(tmp_path / "x.csv")], tmp_path)
    assert proc.returncode == 2 and "no facts database" in proc.stderr
    proc = _run(["facts", "import", str(tmp_path / "missing.csv")], tmp_path)
    assert proc.returncode == 2 and "missing.csv: no such file" in proc.stderr

    src = tmp_path / "in.csv"
    src.write_text("entity,aliases,attribute,type,value,currency\nAcme X1,X1,price,money,999,USD\n")
    assert _run(["facts", "import", str(src)], tmp_path).returncode == 0
    proc = _run(["facts", "get", "nobody"], tmp_path)
    assert proc.returncode == 1 and "error: no entity 'nobody' in sqlite:///" in proc.stderr
    proc = _run(["facts", "get", "x1", "weight"], tmp_path)
    assert proc.returncode == 1 and "error: 'Acme X1' has no attribute 'weight' (valid today: price)" in proc.stderr


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["reviews", "list", "--db", "bogus"], "--db 'bogus': not a database URL"),
        (["reviews", "list", "--db", "sqlite:///{tmp}/none.db"], "no review queue at {tmp}/none.db"),
        (["serve", "--port", "70000"], "argument --port: expected a TCP port 0-65535, got '70000'"),
        (["serve", "--policy", "defualt"], "unknown policy 'defualt' (did you mean 'default'?)"),
        (["check", "-", "--policy", "pi"], "unknown policy 'pi'"),
        (["rules", "list", "--rules", "{tmp}/nowhere"], "nowhere: [no-such-directory] rules directory does not exist"),
        (["batch", "-"], "give -o/--output FILE"),
        (["eval", "{tmp}/none.jsonl", "--text-field", "t", "--label-field", "l"], "none.jsonl: no such file"),
        (["models", "pull", "nosuch"], "unknown model 'nosuch'"),
        (["check", "{tmp}"], "directory has no files to check"),
    ],
)
def test_commands_fail_with_one_line_naming_what(tmp_path: Path, argv: list[str], message: str) -> None:
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    proc = _run(argv, tmp_path / "work")
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert message.replace("{tmp}", str(tmp_path)) in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_missing_extra_is_named(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from guardrails.cli import cmd_facts

    def no_sqlalchemy(url: str | None, *, create: bool) -> Any:
        raise ModuleNotFoundError("No module named 'sqlalchemy'", name="sqlalchemy")

    monkeypatch.setattr(cmd_facts, "_open", no_sqlalchemy)
    assert main(["facts", "get", "x"]) == 2
    assert "from the store extra: pip install 'outguard[store]'" in capsys.readouterr().err


def test_the_parser_loads_no_command_dependencies() -> None:
    heavy = ["rich", "guardrails.docs", "guardrails.examples", "guardrails.checks._html", "guardrails.models"]
    code = (
        "import sys\nfrom guardrails.cli.main import build_parser\nbuild_parser()\n"
        f"loaded = [m for m in {heavy!r} if m in sys.modules]\nassert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


_: Callable[..., Any] = main  # keep the import used when a test above is filtered out

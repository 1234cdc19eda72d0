"""Load errors are data: each problem names its file, rule id, key path and line, with a type programs can
branch on and a hint for people; the CLI prints them one per line."""

from __future__ import annotations

from pathlib import Path

import pytest

from guardrails import Problem, RuleError, load_ruleset
from guardrails.cli.main import main
from guardrails.rules.compile import compile_policy
from guardrails.rules.loader import load_pack_file

PACK = """\
pack: t
rules:
  - id: bad-word
    code: TST001
    check: regex
    severity: medium
    action: review
    message: m
    params:
      pattern: "bad"
"""


def _problems(exc: pytest.ExceptionInfo[RuleError]) -> list[Problem]:
    assert all(isinstance(p, Problem) for p in exc.value.problems)
    return exc.value.problems


def test_unknown_key_in_a_rule_is_a_problem_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "pack.yaml"
    path.write_text(PACK.replace("    message: m\n", "    mesage: m\n"))
    with pytest.raises(RuleError) as exc:
        load_pack_file(path)
    missing, problem = _problems(exc)  # `message` is missing too
    assert (missing.type, missing.loc, missing.line) == ("missing-key", "message", 3)
    assert problem.type == "unknown-key"
    assert (problem.file, problem.rule, problem.loc) == (str(path), "bad-word", "mesage")
    assert (problem.line, problem.column) == (8, 5)
    assert problem.hint == "did you mean 'message'?"
    assert (
        problem.render() == f"{path}:8:5: [unknown-key] rule 'bad-word': unknown key 'mesage' (did you mean 'message'?)"
    )


def test_missing_key_points_at_the_rule(tmp_path: Path) -> None:
    path = tmp_path / "pack.yaml"
    path.write_text(PACK.replace("    code: TST001\n", ""))
    with pytest.raises(RuleError) as exc:
        load_pack_file(path)
    [problem] = _problems(exc)
    assert (problem.type, problem.rule, problem.loc, problem.line) == ("missing-key", "bad-word", "code", 3)


def test_rule_without_an_id_is_located_by_index(tmp_path: Path) -> None:
    path = tmp_path / "pack.yaml"
    path.write_text(
        PACK.replace("  - id: bad-word\n    code", "  - code").replace("severity: medium", "severity: loud")
    )
    with pytest.raises(RuleError) as exc:
        load_pack_file(path)
    by_loc = {p.loc: p for p in _problems(exc)}
    assert by_loc["rules.0.severity"].line == 5 and by_loc["rules.0.severity"].rule is None
    assert by_loc["rules.0.id"].type == "missing-key"


def test_invalid_yaml_has_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "pack.yaml"
    path.write_text("pack: t\nrules: [\n  - id: x\n")
    with pytest.raises(RuleError) as exc:
        load_pack_file(path)
    [problem] = _problems(exc)
    assert problem.type == "invalid-yaml" and problem.file == str(path)
    assert problem.line is not None and problem.column is not None


def test_explicit_timestamp_tag_that_does_not_parse_is_a_rule_error(tmp_path: Path) -> None:
    # PyYAML's timestamp constructor raises AttributeError on `!!timestamp ""`: a load error, not a crash.
    path = tmp_path / "pack.yaml"
    path.write_text('!!timestamp ""')
    with pytest.raises(RuleError) as exc:
        load_pack_file(path)
    assert _problems(exc)[0].type == "invalid-yaml-value"


def test_duplicate_code_names_both_rules_and_the_line(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(PACK)
    (tmp_path / "b.yaml").write_text(PACK.replace("bad-word", "other-word"))
    with pytest.raises(RuleError) as exc:
        load_ruleset([tmp_path], include_bundled=False)
    [problem] = _problems(exc)
    assert (problem.type, problem.rule, problem.loc, problem.line) == ("duplicate-code", "other-word", "code", 4)
    assert "bad-word" in problem.message and str(tmp_path / "a.yaml") in problem.message


def test_check_params_problem_names_the_key_and_the_policy(tmp_path: Path) -> None:
    (tmp_path / "pack.yaml").write_text(PACK)
    (tmp_path / "policies").mkdir()
    policy_file = tmp_path / "policies" / "p.yaml"
    policy_file.write_text("name: p\nrules: [bad-word]\noverrides:\n  bad-word:\n    params: {pattern: '(unclosed'}\n")
    ruleset = load_ruleset([tmp_path], include_bundled=False)
    policy, where = ruleset.policy("p")
    with pytest.raises(RuleError) as exc:
        compile_policy(policy, ruleset, where)
    [problem] = _problems(exc)
    assert (problem.type, problem.rule, problem.loc) == ("invalid-params", "bad-word", "params.pattern")
    assert problem.file == str(tmp_path / "pack.yaml") and problem.policy == str(policy_file)
    assert problem.line == 10  # the rule file's `pattern:` key


def test_selector_matching_nothing_is_located_in_the_policy(tmp_path: Path) -> None:
    (tmp_path / "pack.yaml").write_text(PACK)
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "p.yaml").write_text("name: p\nrules:\n  - bad-word\n  - bad-wrod2\n")
    ruleset = load_ruleset([tmp_path], include_bundled=False)
    policy, where = ruleset.policy("p")
    with pytest.raises(RuleError) as exc:
        compile_policy(policy, ruleset, where)
    [problem] = _problems(exc)
    assert (problem.type, problem.loc, problem.line, problem.hint) == (
        "no-match",
        "rules.1",
        4,
        "did you mean 'bad-word'?",
    )


def test_plain_strings_still_make_a_rule_error() -> None:
    # Plugins and older code raise RuleError(["..."]): kept, as problems of type rule-error.
    err = RuleError(["somewhere: something"])
    assert err.problems == [Problem(type="rule-error", message="somewhere: something")]
    assert str(err) == "somewhere: something" and err.lines == ["[rule-error] somewhere: something"]


def test_cli_prints_one_line_per_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a.yaml").write_text(PACK.replace("    message: m\n", "    mesage: m\n"))
    (tmp_path / "b.yaml").write_text("pack: b\nrules: [\n")
    out = tmp_path / "in.txt"
    out.write_text("x")
    assert main(["check", str(out), "--rules", str(tmp_path)]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "error: cannot load rules:"
    assert (
        lines[2]
        == f"  {tmp_path / 'a.yaml'}:8:5: [unknown-key] rule 'bad-word': unknown key 'mesage' (did you mean 'message'?)"
    )
    assert "[missing-key]" in lines[1]
    assert lines[3].startswith(f"  {tmp_path / 'b.yaml'}:") and "[invalid-yaml]" in lines[3]
    assert len(lines) == 4

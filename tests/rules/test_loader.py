from __future__ import annotations

from pathlib import Path

import pytest

from guardrails import Engine, RuleError, load_ruleset
from tests.helpers import rule, write_rules

WORD = "tests.engine_checks:WordCheck"


def _problems(tmp_path: Path, text: str, name: str = "pack.yaml") -> str:
    d = tmp_path / "r"
    d.mkdir(exist_ok=True)
    (d / name).write_text(text, encoding="utf-8")
    with pytest.raises(RuleError) as exc:
        load_ruleset([d])
    return str(exc.value)


def test_unknown_rule_key_names_file_rule_and_suggests(tmp_path: Path) -> None:
    msg = _problems(
        tmp_path,
        "pack: p\nrules:\n  - id: bad-thing\n    code: TST001\n    check: regex\n    mesage: hi\n    message: x\n",
    )
    assert "pack.yaml: rule 'bad-thing': unknown key 'mesage' (did you mean 'message'?)" in msg


def test_missing_key_and_bad_values(tmp_path: Path) -> None:
    msg = _problems(tmp_path, "pack: p\nrules:\n  - id: Bad_Id\n    code: T1\n    check: regex\n    action: explode\n")
    assert "rule 'Bad_Id': key 'id'" in msg
    assert "rule 'Bad_Id': key 'code'" in msg
    assert "rule 'Bad_Id': key 'action'" in msg
    assert "missing required key 'message'" in msg


def test_invalid_yaml_names_line(tmp_path: Path) -> None:
    msg = _problems(tmp_path, "pack: p\nrules: [\n  - id: x\n")
    assert "pack.yaml:" in msg and "line" in msg and "invalid YAML" in msg


def test_top_level_must_be_mapping(tmp_path: Path) -> None:
    assert "expected a mapping at the top level, got list" in _problems(tmp_path, "- a\n- b\n")


def test_not_utf8(tmp_path: Path) -> None:
    d = tmp_path / "r"
    d.mkdir()
    (d / "pack.yaml").write_bytes(b"pack: p\nrules: []\n# \xff\xfe")
    with pytest.raises(RuleError, match="not UTF-8"):
        load_ruleset([d])


def test_huge_file_refused(tmp_path: Path) -> None:
    msg = _problems(tmp_path, "pack: p\nrules: []\n" + "#" * 5_000_001)
    assert "over the 5000000 byte limit" in msg


def test_yaml_alias_bomb_is_bounded(tmp_path: Path) -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    )
    # Parses to shared references (not expanded copies) and fails validation, quickly.
    msg = _problems(tmp_path, bomb)
    assert "pack.yaml" in msg


def test_duplicate_ids_and_codes(tmp_path: Path) -> None:
    d = tmp_path / "r"
    write_rules(d, [rule("one-thing", "TST001", WORD, params={"word": "a"})], pack="p1")
    write_rules(
        d,
        [
            rule("one-thing", "TST002", WORD, params={"word": "a"}),
            rule("two-thing", "TST001", WORD, params={"word": "a"}),
        ],
        pack="p2",
    )
    with pytest.raises(RuleError) as exc:
        load_ruleset([d])
    msg = str(exc.value)
    assert "rule 'one-thing': id already defined in" in msg
    assert "rule 'two-thing': code TST001 already used by rule 'one-thing'" in msg


def test_bad_params_named_with_suggestion(tmp_path: Path) -> None:
    d = write_rules(
        tmp_path / "r", [rule("bad-re", "TST001", "regex", params={"patern": "x"})], {"name": "t", "rules": ["bad-re"]}
    )
    with pytest.raises(RuleError) as exc:
        Engine.from_policy("t", [d])
    msg = str(exc.value)
    assert "rule 'bad-re': unknown key 'params.patern' (did you mean 'pattern'?)" in msg
    assert "missing required key 'params.pattern'" in msg


def test_invalid_regex_named(tmp_path: Path) -> None:
    d = write_rules(
        tmp_path / "r",
        [rule("bad-re", "TST001", "regex", params={"pattern": "(unclosed"})],
        {"name": "t", "rules": ["bad-re"]},
    )
    with pytest.raises(RuleError, match=r"rule 'bad-re': key 'params.pattern': invalid regular expression"):
        Engine.from_policy("t", [d])


def test_unknown_check_kind(tmp_path: Path) -> None:
    d = write_rules(tmp_path / "r", [rule("x-thing", "TST001", "regexx")], {"name": "t", "rules": ["x-thing"]})
    with pytest.raises(
        RuleError, match=r"rule 'x-thing': key 'check': unknown check kind 'regexx'.*built-in kinds: .*regex"
    ):
        Engine.from_policy("t", [d])


def test_policy_errors(tmp_path: Path) -> None:
    d = write_rules(
        tmp_path / "r",
        [rule("bad-word", "TST001", WORD, params={"word": "a"})],
        {"name": "t", "rules": ["bad-wrd"], "overrides": {"nope": {"action": "block"}}},
    )
    with pytest.raises(RuleError) as exc:
        Engine.from_policy("t", [d])
    msg = str(exc.value)
    assert "selector 'bad-wrd' matches no rule (did you mean 'bad-word'?)" in msg
    assert "key 'overrides.nope': no rule with that id or code" in msg


def test_policy_unknown_key_suggests(tmp_path: Path) -> None:
    d = tmp_path / "r"
    write_rules(d, [rule("bad-word", "TST001", WORD, params={"word": "a"})])
    (d / "policies").mkdir()
    (d / "policies" / "t.yaml").write_text("name: t\nrepair: {max_round: 2}\n", encoding="utf-8")
    with pytest.raises(RuleError, match=r"t.yaml: unknown key 'repair.max_round' \(did you mean 'max_rounds'\?\)"):
        load_ruleset([d])


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ('""', "must be the text users see, not empty"),
        ('"   "', "must be the text users see, not empty"),
        ("42", "Input should be a valid string"),
        ("[Sorry]", "Input should be a valid string"),
        ('"' + "x" * 2001 + '"', "at most 2000 characters"),
    ],
    ids=["empty", "blank", "number", "list", "too-long"],
)
def test_bad_last_resort_names_file_and_key(tmp_path: Path, value: str, problem: str) -> None:
    d = tmp_path / "r"
    write_rules(d, [rule("bad-word", "TST001", WORD, params={"word": "a"})])
    (d / "policies").mkdir()
    (d / "policies" / "t.yaml").write_text(f"name: t\nregeneration: {{last_resort: {value}}}\n", encoding="utf-8")
    with pytest.raises(RuleError) as exc:
        load_ruleset([d])
    assert f"{d / 'policies' / 't.yaml'}: key 'regeneration.last_resort': " in str(exc.value)
    assert problem in str(exc.value)


def test_last_resort_of_the_longest_allowed_length_loads(tmp_path: Path) -> None:
    d = tmp_path / "r"
    write_rules(d, [rule("bad-word", "TST001", WORD, params={"word": "a"})])
    (d / "policies").mkdir()
    (d / "policies" / "t.yaml").write_text(f"name: t\nregeneration: {{last_resort: {'x' * 2000}}}\n", encoding="utf-8")
    assert load_ruleset([d]).policies["t"][0].regeneration.last_resort == "x" * 2000


def test_unknown_policy_suggests(tmp_path: Path) -> None:
    rs = load_ruleset()
    with pytest.raises(RuleError, match="unknown policy 'defualt' \\(did you mean 'default'\\?\\)"):
        rs.policy("defualt")


def test_overrides_change_action_severity_and_params(tmp_path: Path) -> None:
    d = write_rules(
        tmp_path / "r",
        [rule("bad-word", "TST001", WORD, params={"word": "a1"}, action="warn")],
        {
            "name": "t",
            "rules": ["*"],
            "overrides": {"TST001": {"action": "block", "severity": "critical", "params": {"word": "b2"}}},
        },
    )
    engine = Engine.from_policy(
        "t",
        [d],
    )
    report = engine.validate("a1 b2")
    (f,) = report.findings
    assert (f.action.value, f.severity.value, f.span.start) == ("block", "critical", 3)


def test_preview_and_deprecated_need_explicit_selection(tmp_path: Path) -> None:
    d = write_rules(
        tmp_path / "r",
        [
            rule("new-thing", "TST001", WORD, params={"word": "a"}, status="preview"),
            rule("old-thing", "TST002", WORD, params={"word": "a"}, status="deprecated"),
        ],
        {"name": "t", "rules": ["pack:test-pack"]},
    )
    assert Engine.from_policy("t", [d]).rules == ()
    (d / "policies" / "u.yaml").write_text(
        "name: u\nrules: ['pack:test-pack']\ninclude_preview: true\n", encoding="utf-8"
    )
    assert [r.rule.id for r in Engine.from_policy("u", [d]).rules] == ["new-thing"]
    (d / "policies" / "v.yaml").write_text("name: v\nrules: [old-thing]\n", encoding="utf-8")
    assert [r.rule.id for r in Engine.from_policy("v", [d]).rules] == ["old-thing"]


def test_missing_rules_dir() -> None:
    with pytest.raises(RuleError, match="rules directory does not exist"):
        load_ruleset(["/nonexistent/rules"])


def test_policy_version_changes_when_a_rule_changes(tmp_path: Path) -> None:
    d1 = write_rules(tmp_path / "a", [rule("bad-word", "TST001", WORD, params={"word": "a"})], {"name": "t"})
    d2 = write_rules(tmp_path / "b", [rule("bad-word", "TST001", WORD, params={"word": "b"})], {"name": "t"})
    assert Engine.from_policy("t", [d1]).compiled.version != Engine.from_policy("t", [d2]).compiled.version


def test_bad_override_params_name_the_policy_file(tmp_path: Path) -> None:
    d = write_rules(
        tmp_path / "r",
        [rule("bad-word", "TST001", WORD, params={"word": "a"})],
        {"name": "t", "rules": ["bad-word"], "overrides": {"bad-word": {"params": {"wrod": "b"}}}},
    )
    with pytest.raises(RuleError) as exc:
        Engine.from_policy("t", [d])
    msg = str(exc.value)
    assert "rule 'bad-word': unknown key 'params.wrod' (did you mean 'word'?)" in msg
    assert f"(with overrides from policy {d / 'policies' / 't.yaml'})" in msg

"""Red-team finding 11: a rule directory that is wrong (or copied from somewhere) must fail to load with an error
naming file, rule and key, never hang, eat the machine's memory, read files from anywhere, or crash.

Each case loads a real rules directory written to disk and compiles its policy, as `guardrails check --rules` does,
under a pytest timeout so a regression (a read of /dev/zero, a blocking FIFO) fails instead of hanging.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guardrails.rules.compile import compile_policy
from guardrails.rules.errors import RuleError
from guardrails.rules.loader import load_pack_file, load_ruleset

pytestmark = pytest.mark.timeout(60)


def write_rules(root: Path, params: str, *, check: str = "banlist") -> Path:
    (root / "policies").mkdir(parents=True, exist_ok=True)
    (root / "pack.yaml").write_text(
        "pack: attack\nrules:\n"
        "  - id: bad-words\n    code: ATK001\n"
        f"    check: {check}\n"
        f"    params: {params}\n"
        "    severity: high\n    action: block\n    message: 'bad'\n",
        encoding="utf-8",
    )
    (root / "policies" / "p.yaml").write_text("name: p\nrules: ['ATK001']\n", encoding="utf-8")
    return root


def load_error(root: Path) -> str:
    with pytest.raises(RuleError) as info:
        ruleset = load_ruleset([root], include_bundled=False)
        policy, where = ruleset.policy("p")
        compile_policy(policy, ruleset, where)
    return str(info.value)


def assert_names(message: str, file: Path, key: str, *words: str) -> None:
    assert str(file) in message, message
    assert "rule 'bad-words'" in message, message
    assert f"key {key!r}" in message, message
    for word in words:
        assert word in message, message


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    return tmp_path / "rules"


# -- file params -----------------------------------------------------------------------------------


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_a_device_is_refused_unread(rules: Path, device: str) -> None:
    if not os.path.exists(device):
        pytest.skip(f"{device} missing")
    msg = load_error(write_rules(rules, f"{{file: {device}}}"))
    assert_names(msg, rules / "pack.yaml", "params.file", "outside the rules directory")


def test_a_device_is_refused_even_when_any_path_is_allowed(rules: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OUTGUARD_RULE_FILES_ANYWHERE", "1")
    msg = load_error(write_rules(rules, "{file: /dev/zero}"))
    assert_names(msg, rules / "pack.yaml", "params.file", "character device")


def test_a_fifo_is_refused_without_blocking(rules: Path) -> None:
    write_rules(rules, "{file: words.fifo}")
    os.mkfifo(rules / "words.fifo")
    msg = load_error(rules)
    assert_names(msg, rules / "pack.yaml", "params.file", "FIFO")


def test_an_absolute_path_outside_is_refused(rules: Path, tmp_path: Path) -> None:
    outside = tmp_path / "secret.txt"
    outside.write_text("hunter2\n", encoding="utf-8")
    msg = load_error(write_rules(rules, f"{{file: {outside}}}"))
    assert_names(msg, rules / "pack.yaml", "params.file", "outside the rules directory", "OUTGUARD_RULE_FILES_ANYWHERE")


def test_a_dotdot_escape_is_refused(rules: Path, tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("hunter2\n", encoding="utf-8")
    msg = load_error(write_rules(rules, "{file: ../secret.txt}"))
    assert_names(msg, rules / "pack.yaml", "params.file", "outside the rules directory")


def test_a_symlink_escaping_is_refused(rules: Path, tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("hunter2\n", encoding="utf-8")
    write_rules(rules, "{file: lists/words.txt}")
    (rules / "lists").mkdir()
    (rules / "lists" / "words.txt").symlink_to(tmp_path / "secret.txt")
    msg = load_error(rules)
    assert_names(msg, rules / "pack.yaml", "params.file", "outside the rules directory")


def test_paths_inside_the_tree_still_load(rules: Path) -> None:
    write_rules(rules, "{file: lists/words.txt}")
    (rules / "lists").mkdir()
    (rules / "lists" / "words.txt").write_text("darn\n", encoding="utf-8")
    (rules / "policies" / "p.yaml").write_text(
        "name: p\nrules: ['ATK001']\noverrides:\n  bad-words: {params: {file: ../lists/words.txt}}\n", encoding="utf-8"
    )
    ruleset = load_ruleset([rules], include_bundled=False)
    policy, where = ruleset.policy("p")
    assert compile_policy(policy, ruleset, where).rules[0].rule.id == "bad-words"


def test_the_operator_may_opt_out(rules: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    outside = tmp_path / "shared" / "words.txt"
    outside.parent.mkdir()
    outside.write_text("darn\n", encoding="utf-8")
    write_rules(rules, f"{{file: {outside}}}")
    assert "outside the rules directory" in load_error(rules)
    monkeypatch.setenv("OUTGUARD_RULE_FILES_ANYWHERE", "1")
    ruleset = load_ruleset([rules], include_bundled=False)
    policy, where = ruleset.policy("p")
    assert compile_policy(policy, ruleset, where).rules[0].check.term_count == 1  # type: ignore[attr-defined]


def test_an_oversized_file_is_refused(rules: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OUTGUARD_RULE_FILE_MAX_BYTES", "1000")
    write_rules(rules, "{schema_file: big.json}", check="json_schema")
    (rules / "big.json").write_text('{"description": "' + "x" * 5000 + '"}', encoding="utf-8")
    msg = load_error(rules)
    assert_names(msg, rules / "pack.yaml", "params.schema_file", "byte limit")


def test_a_schema_file_that_is_a_device_is_refused(rules: Path) -> None:
    msg = load_error(write_rules(rules, "{schema_file: /dev/zero}", check="json_schema"))
    assert_names(msg, rules / "pack.yaml", "params.schema_file")


def test_a_template_outside_is_refused(rules: Path, tmp_path: Path) -> None:
    (tmp_path / "t.html").write_text("<p data-slot='x'>x</p>", encoding="utf-8")
    params = "{templates: {t: {file: ../t.html}}, report: [malformed]}"
    msg = load_error(write_rules(rules, params, check="html_template"))
    assert_names(msg, rules / "pack.yaml", "params.templates.t", "outside the rules directory")


def test_a_facts_file_that_is_a_device_is_refused(rules: Path) -> None:
    msg = load_error(write_rules(rules, "{facts_file: /dev/zero, use_store: false}", check="known_facts"))
    assert_names(msg, rules / "pack.yaml", "params.facts_file")


# -- YAML ------------------------------------------------------------------------------------------


def test_a_5000_deep_yaml_is_a_load_error(rules: Path) -> None:
    write_rules(rules, "{terms: [a]}")
    (rules / "deep.yaml").write_text("pack: x\nrules: " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    msg = load_error(rules)
    assert str(rules / "deep.yaml") in msg and "nested deeper than" in msg


def test_a_deep_block_yaml_is_a_load_error(rules: Path) -> None:
    write_rules(rules, "{terms: [a]}")
    (rules / "deep.yaml").write_text("".join(" " * i + "- \n" for i in range(5000)), encoding="utf-8")
    assert str(rules / "deep.yaml") in load_error(rules)


def test_a_billion_laughs_is_a_load_error(rules: Path) -> None:
    write_rules(rules, "{terms: [a]}")
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    (rules / "bomb.yaml").write_text("\n".join(lines) + "\npack: bomb\nrules: []\n", encoding="utf-8")
    msg = load_error(rules)
    assert str(rules / "bomb.yaml") in msg and "alias" in msg


def test_an_alias_bomb_in_params_is_a_load_error(rules: Path) -> None:
    bomb = (
        "{terms: &t0 [a, b, c, d, e, f, g, h, i, j], x: "
        + "".join(f"&t{i} [" + ", ".join([f"*t{i - 1}"] * 10) + "], y{i}: " for i in range(1, 9))
        + "*t8}"
    )
    msg = load_error(write_rules(rules, bomb))
    assert str(rules / "pack.yaml") in msg and "alias" in msg


def test_a_recursive_alias_is_a_load_error(rules: Path) -> None:
    msg = load_error(write_rules(rules, "&p {terms: [a], p: *p}"))
    assert str(rules / "pack.yaml") in msg and "alias" in msg


def test_a_deep_yaml_schema_file_is_a_load_error(rules: Path) -> None:
    write_rules(rules, "{schema_file: schemas/deep.yaml}", check="json_schema")
    (rules / "schemas").mkdir()
    (rules / "schemas" / "deep.yaml").write_text("[" * 5000 + "]" * 5000, encoding="utf-8")
    assert_names(load_error(rules), rules / "pack.yaml", "params.schema_file", "nested deeper than")


def test_a_device_named_as_rules_file_is_refused(rules: Path) -> None:
    write_rules(rules, "{terms: [a]}")
    os.mkfifo(rules / "pipe.yaml")
    msg = load_error(rules)
    assert str(rules / "pipe.yaml") in msg and "FIFO" in msg


# -- plugin check kinds ----------------------------------------------------------------------------


def test_a_missing_module_is_a_load_error(rules: Path) -> None:
    msg = load_error(write_rules(rules, "{}", check="'no_such_pkg.checks:Thing'"))
    assert_names(msg, rules / "pack.yaml", "check", "no_such_pkg")


def test_a_missing_attribute_is_a_load_error(rules: Path) -> None:
    msg = load_error(write_rules(rules, "{}", check="'guardrails.checks.banlist:Nope'"))
    assert_names(msg, rules / "pack.yaml", "check", "Nope")


@pytest.mark.parametrize(
    ("source", "words"),
    [
        ("raise RuntimeError('boom at import')\n", "RuntimeError: boom at import"),
        ("import no_such_dependency_xyz\n", "no_such_dependency_xyz"),
        ("def f(:\n", "SyntaxError"),
    ],
)
def test_a_module_raising_on_import_is_a_load_error(
    rules: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str, words: str
) -> None:
    plugin = tmp_path / "plugins"
    plugin.mkdir()
    name = f"evil_plugin_{abs(hash(source))}"
    (plugin / f"{name}.py").write_text(source, encoding="utf-8")
    monkeypatch.syspath_prepend(str(plugin))
    msg = load_error(write_rules(rules, "{}", check=f"'{name}:Check'"))
    assert_names(msg, rules / "pack.yaml", "check", words)


# -- anything at all -------------------------------------------------------------------------------

YAMLISH = st.lists(
    st.sampled_from(
        [
            "pack: p\n",
            "rules:\n",
            "  - ",
            "id: a\n",
            "code: ABC001\n",
            "check: banlist\n",
            "params: ",
            "{",
            "}",
            "[",
            "]",
            "&a ",
            "*a ",
            "!!binary ",
            "!!timestamp ",
            "2001-02-30",
            "1" * 5000,
            "? ",
            ": ",
            "- ",
            "<<: *a\n",
            "\t",
            "'",
            '"',
            "%YAML 1.1\n",
            "---\n",
            "...\n",
            "!!python/object:os.system ",
            "\x00",
            "\ufeff",
            "null",
            ".inf",
            "0x1F",
        ]
    )
    | st.text(max_size=20),
    max_size=40,
).map("".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=YAMLISH | st.binary(max_size=200).map(lambda b: b.decode("latin-1")))
def test_any_bytes_as_a_rule_file_only_give_rule_errors(tmp_path: Path, body: str) -> None:
    path = tmp_path / "any.yaml"
    path.write_bytes(body.encode("utf-8", "surrogatepass"))
    try:
        load_pack_file(path)
    except RuleError as exc:
        assert str(path) in str(exc)

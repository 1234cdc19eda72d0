"""Third-party check kinds and packs through entry points: the example package installed for real, and
hostile plugins (import errors, bad params, wrong objects) that must fail at load with their names, never
while validating."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from guardrails import Engine
from guardrails.checks.base import check_class
from guardrails.rules.errors import RuleError

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "fixtures" / "example_plugin"


# -- the example package, pip-installed offline -------------------------------------------------------


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example package installed by pip into a target folder (offline: no index, no build isolation)."""
    tmp = tmp_path_factory.mktemp("plugin")
    source = tmp / "src"
    # A copy: an in-tree build would leave build/ and *.egg-info in fixtures/.
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    target = tmp / "site"
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--no-index", "--no-build-isolation", "--no-deps"]
    done = subprocess.run(
        [*cmd, "--target", str(target), str(source)], capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stderr
    assert (target / "outguard_example" / "shouting.py").is_file()
    return target


def _run(target: Path, script: str) -> dict[str, object]:
    env = {"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin", "OUTGUARD_DEADLINE_SCALE": "8"}
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


def test_installed_plugin_check_and_pack_work_from_a_policy(installed: Path, tmp_path: Path) -> None:
    policy = tmp_path / "mine.yaml"
    # An operator's own policy: selects the plugin's pack by name, nothing else configured.
    policy.write_text('name: mine\nversion: "1"\nrules: ["pack:example"]\n', encoding="utf-8")
    out = _run(
        installed,
        f"""
        import json
        from guardrails import Engine
        report = Engine.from_policy({str(policy)!r}).validate("Fine. But PLEASE STOP THAT NOW, thanks.")
        f = report.findings[0]
        print(json.dumps({{"verdict": report.verdict.value, "codes": [x.code for x in report.findings],
                          "check": f.check, "message": f.message, "span": [f.span.start, f.span.end],
                          "output": report.output}}))
        """,
    )
    assert out["codes"] == ["EXA001"]
    assert out["check"] == "shouting"
    assert out["message"] == "4 words in capitals in a row"
    assert out["span"] == [10, 30]
    assert out["verdict"] == "repaired"
    assert out["output"] == "Fine. But please stop that now, thanks."


def test_installed_plugin_policy_by_name_and_its_rule_examples(installed: Path) -> None:
    out = _run(
        installed,
        """
        import json
        from guardrails import Engine
        engine = Engine.from_policy("example-shouting")
        quiet = engine.validate("The NASA and ESA teams met.")
        loud = engine.validate("Please STOP DOING THAT now.")
        print(json.dumps({"quiet": quiet.verdict.value, "loud": [f.code for f in loud.findings],
                          "dist": __import__("guardrails.plugins").plugins.origin_of(
                              engine.rules[0].check.__class__).dist}))
        """,
    )
    assert out == {"quiet": "pass", "loud": ["EXA001"], "dist": "outguard-example-plugin 0.1.0"}


def test_without_the_plugin_the_kind_is_unknown_and_the_message_says_so(tmp_path: Path) -> None:
    rules = _rules_dir(tmp_path, "shouting")
    with pytest.raises(RuleError, match=r"unknown check kind 'shouting' \(built-in kinds: .*regex"):
        Engine.from_policy(str(rules / "policies" / "p.yaml"), rules_dirs=[rules])


# -- hostile plugins: a dist-info folder and a module on sys.path -----------------------------------------


def _plugin(root: Path, monkeypatch: pytest.MonkeyPatch, name: str, module_source: str, entry: str) -> Path:
    """An installed distribution `name` (its dist-info with entry points) and module `<name>_mod`."""
    site = root / "site"
    info = site / f"{name}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(entry, encoding="utf-8")
    module = site / f"{name}_mod.py"
    module.write_text(textwrap.dedent(module_source), encoding="utf-8")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delitem(sys.modules, f"{name}_mod", raising=False)
    return module


def _rules_dir(root: Path, kind: str, params: str = "{}") -> Path:
    rules = root / "rules"
    (rules / "policies").mkdir(parents=True)
    (rules / "mine.yaml").write_text(
        textwrap.dedent(
            f"""\
            pack: mine
            rules:
              - id: plugged
                code: PLG001
                check: {kind}
                params: {params}
                message: plugged
            """
        ),
        encoding="utf-8",
    )
    (rules / "policies" / "p.yaml").write_text('name: p\nversion: "1"\nrules: ["pack:mine"]\n', encoding="utf-8")
    return rules


def _load_error(rules: Path) -> str:
    with pytest.raises(RuleError) as exc:
        Engine.from_policy(str(rules / "policies" / "p.yaml"), rules_dirs=[rules])
    return str(exc.value)


_GOOD = """
    from guardrails.checks import Check, CheckParams, Hit

    class P(CheckParams):
        limit: int = 3

    class C(Check[P]):
        kind = "{kind}"

        def run(self, doc, ctx):
            yield Hit(0, min(len(doc.text), self.params.limit))
    """


@pytest.fixture
def unique(request: pytest.FixtureRequest) -> str:
    # One distribution and module name per test: importlib caches modules and metadata by name.
    return "plug_" + request.node.name.removeprefix("test_")[:40]


def _names_plugin(message: str, unique: str, module: Path, kind: str) -> None:
    assert f"plugin {unique} 1.0" in message
    assert f"entry point outguard.checks: '{kind} = {unique}_mod" in message
    assert str(module) in message or f"<module {unique}_mod>" in message


def test_plugin_whose_import_fails_is_a_load_error_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unique: str
) -> None:
    kind = unique + "_kind"
    source = "raise RuntimeError('plugin is broken at import')\n"
    module = _plugin(tmp_path, monkeypatch, unique, source, f"[outguard.checks]\n{kind} = {unique}_mod:C\n")
    message = _load_error(_rules_dir(tmp_path, kind))
    assert "rule 'plugged'" in message and "mine.yaml" in message
    assert "RuntimeError: plugin is broken at import" in message
    _names_plugin(message, unique, module, kind)


def test_plugin_with_invalid_params_is_a_load_error_naming_rule_key_and_plugin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unique: str
) -> None:
    kind = unique + "_kind"
    entry = f"[outguard.checks]\n{kind} = {unique}_mod:C\n"
    module = _plugin(tmp_path, monkeypatch, unique, _GOOD.format(kind=kind), entry)
    message = _load_error(_rules_dir(tmp_path, kind, params="{limt: 4}"))
    assert "rule 'plugged'" in message and "params.limt" in message
    _names_plugin(message, unique, module, kind)


def test_plugin_whose_params_validator_raises_is_a_load_error_not_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unique: str
) -> None:
    kind = unique + "_kind"
    source = """
    from pydantic import field_validator
    from guardrails.checks import Check, CheckParams

    class P(CheckParams):
        limit: int = 3

        @field_validator("limit")
        @classmethod
        def _boom(cls, v):
            raise KeyError("validator bug")

    class C(Check[P]):
        kind = "{kind}"

        def run(self, doc, ctx):
            return []
    """.replace("{kind}", kind)
    module = _plugin(tmp_path, monkeypatch, unique, source, f"[outguard.checks]\n{kind} = {unique}_mod:C\n")
    message = _load_error(_rules_dir(tmp_path, kind, params="{limit: 4}"))
    assert "key 'params': KeyError" in message
    _names_plugin(message, unique, module, kind)


def test_plugin_whose_constructor_raises_is_a_load_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unique: str
) -> None:
    kind = unique + "_kind"
    source = _GOOD.format(kind=kind) + "\n    def _init(self, params):\n        raise ZeroDivisionError('x')\n"
    source += "\n    C.__init__ = _init\n"
    module = _plugin(tmp_path, monkeypatch, unique, source, f"[outguard.checks]\n{kind} = {unique}_mod:C\n")
    message = _load_error(_rules_dir(tmp_path, kind))
    assert "building the check raised ZeroDivisionError" in message
    _names_plugin(message, unique, module, kind)


@pytest.mark.parametrize(
    ("target", "says"),
    [
        ("NOT_A_CHECK", "is not a Check subclass"),
        ("missing_attr", "AttributeError"),
        ("BadParams", "Params is not a CheckParams model"),
        ("Renamed", "kind is 'other', not the entry point's"),
    ],
)
def test_plugin_pointing_at_the_wrong_object_is_a_load_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unique: str, target: str, says: str
) -> None:
    kind = unique[:30] + "_kind"
    source = _GOOD.format(kind=kind) + textwrap.dedent(
        """
        NOT_A_CHECK = 42

        class BadParams(C):
            Params = dict

        class Renamed(C):
            kind = "other"
        """
    ).replace("\n", "\n    ")
    module = _plugin(tmp_path, monkeypatch, unique, source, f"[outguard.checks]\n{kind} = {unique}_mod:{target}\n")
    message = _load_error(_rules_dir(tmp_path, kind))
    assert says in message
    _names_plugin(message, unique, module, kind)


def test_plugin_kind_from_a_module_with_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unique: str) -> None:
    kind = unique + "_kind"
    source = _GOOD.format(kind=kind) + "\n    CHECK = C\n"
    _plugin(tmp_path, monkeypatch, unique, source, f"[outguard.checks]\n{kind} = {unique}_mod\n")
    rules = _rules_dir(tmp_path, kind, params="{limit: 2}")
    report = Engine.from_policy(str(rules / "policies" / "p.yaml"), rules_dirs=[rules]).validate("hello")
    assert [(f.code, f.span.start, f.span.end) for f in report.findings] == [("PLG001", 0, 2)]


def test_plugin_cannot_replace_a_builtin_kind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unique: str) -> None:
    source = "raise SystemExit('a plugin claiming a built-in kind must never be imported')\n"
    _plugin(tmp_path, monkeypatch, unique, source, f"[outguard.checks]\nregex = {unique}_mod:C\n")
    assert check_class("regex").__module__ == "guardrails.checks.regex"


def test_plugin_pack_that_fails_is_a_load_error_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unique: str
) -> None:
    module = _plugin(
        tmp_path, monkeypatch, unique, "raise ImportError('no pack')\n", f"[outguard.packs]\nbroken = {unique}_mod\n"
    )
    policy = tmp_path / "p.yaml"
    policy.write_text('name: p\nversion: "1"\nrules: ["pack:broken"]\n', encoding="utf-8")
    with pytest.raises(RuleError) as exc:
        Engine.from_policy(str(policy))
    message = str(exc.value)
    assert f"plugin {unique} 1.0, entry point outguard.packs: 'broken = {unique}_mod'" in message
    assert "ImportError: no pack" in message
    assert str(module) in message or f"<module {unique}_mod>" in message


# -- lazy: nothing is scanned for built-in kinds and bundled packs ------------------------------------------


@pytest.fixture
def metadata_forbidden(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    import guardrails.plugins

    def refuse(**_: object) -> object:
        raise AssertionError("installed packages were scanned for a policy that needs no plugin")

    monkeypatch.setattr(guardrails.plugins, "entry_points", refuse)
    yield


@pytest.mark.usefixtures("metadata_forbidden")
@pytest.mark.parametrize("policy", ["json", "default"])
def test_bundled_policies_never_scan_installed_packages(policy: str) -> None:
    assert Engine.from_policy(policy).rules


def test_import_and_a_bundled_policy_scan_no_installed_package() -> None:
    # In a fresh process, so that nothing imported earlier hides a scan at import time.
    code = textwrap.dedent(
        """
        import importlib.metadata

        scan = importlib.metadata.entry_points

        def refuse(**params):
            # pydantic looks up its own plugins at the first model: only outguard's groups are refused.
            if str(params.get("group", "")).startswith("outguard."):
                raise SystemExit("installed packages scanned for outguard plugins")
            return scan(**params)

        importlib.metadata.entry_points = refuse
        import guardrails
        from guardrails import Engine

        print(len(Engine.from_policy("json").rules))
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) > 0


def test_plugin_whose_run_raises_is_a_check_failed_finding_not_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unique: str
) -> None:
    kind = unique[:30] + "_kind"
    source = _GOOD.format(kind=kind) + "\n    def _run(self, doc, ctx):\n        raise MemoryError('plugin bug')\n"
    source += "\n    C.run = _run\n"
    _plugin(tmp_path, monkeypatch, unique, source, f"[outguard.checks]\n{kind} = {unique}_mod:C\n")
    rules = _rules_dir(tmp_path, kind)
    report = Engine.from_policy(str(rules / "policies" / "p.yaml"), rules_dirs=[rules]).validate("hello")
    assert [f.rule_id for f in report.findings] == ["check-failed"]
    assert report.verdict.value == "block"  # fails closed by default
    assert [d.rule_id for d in report.degraded] == ["plugged"]

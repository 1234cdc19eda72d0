"""The reference half of the docs site is generated from the code: it must be fresh and complete.

Fresh: the files under docs/reference/ equal what `guardrails docs` writes now (no page changed, missing or left
over). Complete: every check parameter has a description, every rule and check kind has a page, every
`OUTGUARD_*` variable the code reads is on the environment page, every command is on the CLI page.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest

from guardrails.checks.base import check_class
from guardrails.cli.main import build_parser
from guardrails.docs import ENV_VARS, bundled_kinds, reference_pages, stale_pages, undocumented_fields
from guardrails.engine import ENGINE_RULES
from guardrails.rules.loader import load_ruleset
from guardrails.rules.model import Policy

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "docs" / "reference"


@cache
def _pages() -> dict[str, str]:
    return reference_pages(load_ruleset(), build_parser())


def test_generated_pages_are_fresh() -> None:
    stale = stale_pages(REFERENCE, _pages())
    assert stale == [], f"docs/reference is stale ({', '.join(stale[:10])}): run `guardrails docs`"


@pytest.mark.parametrize("kind", bundled_kinds())
def test_every_check_parameter_has_a_description(kind: str) -> None:
    assert undocumented_fields(check_class(kind).Params) == []


def test_every_policy_key_has_a_description() -> None:
    # Not every key yet: the ones listed are documented on Rules and policies, by hand. Shrink, never grow.
    known_gaps = {"Policy.name", "Policy.version", "Policy.description", "Policy.exclude", "Policy.include_preview"}
    known_gaps |= {"Policy.max_output_chars", "RepairSettings.enabled", "RepairSettings.max_rounds"}
    known_gaps |= {"RegenerationSettings.max_attempts", "RegenerationSettings.max_tokens"}
    known_gaps |= {"RegenerationSettings.max_seconds", "Policy.repair", "Policy.regeneration", "RuleOverride.severity"}
    known_gaps |= {"RuleOverride.action", "RuleOverride.deadline_ms", "RuleOverride.message"}
    assert set(undocumented_fields(Policy)) <= known_gaps


def test_a_parameter_without_a_description_is_caught() -> None:
    from pydantic import Field

    from guardrails.checks.base import CheckParams

    class Sloppy(CheckParams):
        said: int = Field(default=1, description="documented")
        unsaid: int = 2

    assert undocumented_fields(Sloppy) == ["Sloppy.unsaid"]


def test_every_rule_and_check_kind_has_a_page() -> None:
    pages = _pages()
    codes = {r.rule.code for r in load_ruleset().rules.values()} | {r.code for r in ENGINE_RULES.values()}
    assert {f"rules/{c}.md" for c in codes} <= pages.keys()
    assert {f"checks/{k}.md" for k in bundled_kinds()} <= pages.keys()
    for kind in bundled_kinds():
        params = check_class(kind).Params.model_fields
        assert all(f"| `{info.alias or name}` |" in pages[f"checks/{kind}.md"] for name, info in params.items())


def _variables_read_in_code() -> set[str]:
    names: set[str] = set()
    for top in ("guardrails", "service"):
        for path in (ROOT / top).rglob("*"):
            if path.suffix in {".py", ".html", ".j2", ".yaml", ".yml", ".toml", ".sh"} and path.is_file():
                names |= set(re.findall(r"\bOUTGUARD_[A-Z0-9_]*[A-Z0-9]\b", path.read_text("utf-8", "replace")))
    return names


def test_every_outguard_variable_read_in_code_is_on_the_environment_page() -> None:
    page = _pages()["environment.md"]
    found = _variables_read_in_code()
    assert len(found) > 20  # the grep works
    assert sorted(v for v in found if f"`{v}`" not in page) == []
    assert sorted({v.name for v in ENV_VARS} - found) == [], "a documented variable nothing reads"


def test_every_command_is_on_the_cli_page() -> None:
    page = _pages()["cli.md"]
    commands = re.findall(r"^### `guardrails (\w+)`$", page, flags=re.M)
    assert {"check", "serve", "rules", "docs", "batch", "schema"} <= set(commands)
    assert "--stream-release {final,cleared}" in page


def test_rule_pages_have_ruffs_sections() -> None:
    page = _pages()["rules/PII001.md"]
    for section in ("## What it flags", "## Parameters", "## Fix safety", "## Examples that are flagged",
                    "## Examples that pass", "## Policies that run it"):  # fmt: skip
        assert section in page
    assert "`default`" in page.split("## Policies that run it")[1]
    assert "(safe, applied when repair is on)" in page

"""The reference half of the docs site, generated from the code so it cannot drift from it.

`reference_pages(ruleset, parser)` returns every page under docs/reference/ as {relative path: text}:
a page per rule and per check kind, the CLI, the environment variables, the policy file and the Report
schema. `write_reference` brings a directory in line with them; `stale_pages` says what differs (the
freshness test and `guardrails docs --check`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from guardrails.docs._md import GENERATED, model_tables, undocumented_fields
from guardrails.docs.check_pages import bundled_kinds, check_page, checks_index
from guardrails.docs.cli_page import cli_page
from guardrails.docs.env_page import ENV_VARS, env_page
from guardrails.docs.rule_pages import rule_entries, rule_page, rules_index
from guardrails.docs.rule_table import END, START, rule_reference, update_readme
from guardrails.docs.schema_page import report_page
from guardrails.rules.loader import RuleSet
from guardrails.rules.model import Policy

__all__ = [
    "END",
    "ENV_VARS",
    "START",
    "bundled_kinds",
    "reference_pages",
    "rule_reference",
    "stale_pages",
    "undocumented_fields",
    "update_readme",
    "write_reference",
]


def _policy_page() -> str:
    out = [
        GENERATED,
        "",
        "# Policy files",
        "",
        "Every key of a policy YAML file (`rules/policies/*.yaml` or your own), from the `Policy` model. Unknown",
        "keys fail when the file loads, naming file and key. How selection and overrides work: Rules and policies.",
        "",
    ]
    out += model_tables(Policy, first="key")
    return "\n".join(out) + "\n"


def _index() -> str:
    return "\n".join(
        [
            GENERATED,
            "",
            "# Reference",
            "",
            "Generated from the code by `guardrails docs` (a test fails when a page is stale).",
            "",
            "- [Rules](rules/index.md): one page per rule, in ruff's sections.",
            "- [Check kinds](checks/index.md): what each check does and every parameter it takes.",
            "- [Policy files](policy.md): every key of a policy.",
            "- [Report](report.md): the fields and JSON Schema of what validation returns.",
            "- [Command line](cli.md): every command and option.",
            "- [Environment variables](environment.md): every `OUTGUARD_*` variable.",
            "",
        ]
    )


def reference_pages(ruleset: RuleSet, parser: argparse.ArgumentParser) -> dict[str, str]:
    entries = rule_entries(ruleset)
    kinds = bundled_kinds()
    pages = {
        "index.md": _index(),
        "rules/index.md": rules_index(entries),
        "checks/index.md": checks_index(kinds),
        "policy.md": _policy_page(),
        "report.md": report_page(),
        "cli.md": cli_page(parser),
        "environment.md": env_page(),
    }
    pages.update({f"rules/{e.rule.code}.md": rule_page(e, ruleset) for e in entries})
    pages.update({f"checks/{kind}.md": check_page(kind, entries) for kind in kinds})
    return pages


def stale_pages(root: Path, pages: dict[str, str]) -> list[str]:
    """Relative paths that differ from what the generator writes now: changed, missing, or left over."""
    on_disk = {p.relative_to(root).as_posix() for p in root.rglob("*.md")} if root.is_dir() else set()
    stale = [
        rel for rel, text in pages.items() if not (root / rel).is_file() or (root / rel).read_text("utf-8") != text
    ]
    return sorted(stale + [rel for rel in on_disk - pages.keys()])


def write_reference(root: Path, pages: dict[str, str]) -> list[str]:
    """Write the pages under `root`, delete generated pages nothing generates any more; returns what changed."""
    changed = stale_pages(root, pages)
    for rel in changed:
        path = root / rel
        if rel in pages:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(pages[rel], encoding="utf-8")
        else:
            path.unlink()
    return changed

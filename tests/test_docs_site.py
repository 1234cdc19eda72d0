"""The docs site builds with --strict: every page in the nav exists and every relative link resolves."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_docs_site_builds_strictly(tmp_path: Path) -> None:
    pytest.importorskip("mkdocs")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    site = tmp_path / "site"
    assert (site / "security" / "index.html").is_file()
    assert (site / "reference" / "rules" / "PII001" / "index.html").is_file()
    assert (site / "reference" / "checks" / "pii" / "index.html").is_file()
    assert "material" in (site / "index.html").read_text(encoding="utf-8")  # the theme, not mkdocs' fallback


def test_every_page_in_docs_is_in_the_nav_or_generated() -> None:
    import yaml

    def pages(node: object) -> list[str]:
        if isinstance(node, str):
            return [node]
        if isinstance(node, list):
            return [p for item in node for p in pages(item)]
        if isinstance(node, dict):
            return [p for value in node.values() for p in pages(value)]
        return []

    nav = set(pages(yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))["nav"]))
    written = {p.relative_to(ROOT / "docs").as_posix() for p in (ROOT / "docs").glob("*.md")}
    assert sorted(written - nav) == [], "add the page to mkdocs.yml's nav"


def test_readme_links_to_pages_that_exist() -> None:
    import re

    links = re.findall(r"\]\((docs/[^)#]+)\)", (ROOT / "README.md").read_text(encoding="utf-8"))
    assert links, "the README should link the docs pages"
    assert [link for link in links if not (ROOT / link).is_file()] == []

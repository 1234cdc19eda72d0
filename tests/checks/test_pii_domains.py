"""The e-mail domain test without tldextract's import (`_pii/domains.py`) gives tldextract's own answer."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("tldextract")

from guardrails.checks._pii.domains import has_fqdn

EDGES = [
    "john.smith@example.com",
    "a@b.co",
    "a@b.co.uk",
    "a@co.uk",
    "a@uk",
    "a@localhost",
    "a@foo.ck",  # *.ck: foo.ck is a suffix, no domain before it
    "a@bar.foo.ck",
    "a@www.ck",  # !www.ck: an exception to the wildcard
    "a@x.www.ck",
    "a@xn--fiqs8s",  # punycode TLD (China)
    "a@example.xn--fiqs8s",
    "a@example.XN--FIQS8S",
    "a@example.xn--zz",  # not valid punycode: kept as written
    "a@EXAMPLE.COM",
    "a@example.com.",
    "a@example.com:8080",
    "a@10.0.0.1",
    "a@[::1]",
    "a@[2001:db8::1]",
    "a@user.github.io",  # a private-section suffix: excluded, so the domain is github
    "a@github.io",
    "a@b@example.org",
    "http://user@example.org/path",
    "a@example.\u3002com",
    "a@example\uff0ecom",
    "",
    "@",
    "a@.",
    "a@..com",
    "a@-.com",
    "a@e_x.com",
    "a@例え.テスト",
    "a@example.テスト",
    "a@example.公司.cn",
]


def _rules() -> list[str]:
    spec = importlib.util.find_spec("tldextract")
    assert spec is not None and spec.submodule_search_locations
    text = Path(next(iter(spec.submodule_search_locations)), ".tld_set_snapshot").read_text(encoding="utf-8")
    return [line.split()[0] for line in text.splitlines() if line.strip() and not line.startswith("//")]


def test_same_answer_as_tldextract_on_every_suffix_and_edge_case() -> None:
    import tldextract

    theirs = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True)
    rules = _rules()
    assert len(rules) > 5000
    cases = list(EDGES)
    for rule in rules:
        host = rule.replace("*", "w").lstrip("!")
        cases += [f"u@{host}", f"u@x.{host}", f"u@a.x.{host}", f"u@{host.upper()}"]
    differ = [c for c in cases if has_fqdn(c) != (theirs(c).fqdn != "")]
    assert differ == []
    assert sum(map(has_fqdn, cases)) > len(rules)  # both answers occur

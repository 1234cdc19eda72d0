"""Does an e-mail address end in a registrable domain? tldextract's answer, without importing tldextract.

presidio's EmailRecognizer keeps a match only when `tldextract.extract(match).fqdn` is not empty: the host
has a public suffix (ICANN section of the Public Suffix List) and a label before it. `import tldextract`
imports requests, urllib3 and filelock (~0.07 s of CPU, every PII policy's load) for fetching suffix lists
this check never fetches. This module reads the same snapshot file tldextract ships and walks the same
trie the same way (`_PublicSuffixListTLDExtractor.suffix_index` with private domains excluded, punycode
labels decoded with idna); tldextract's own light `remote` module cuts the host out of the address. A
parity test compares both over every suffix in the list and the edge cases (wildcards, exceptions,
punycode, IPs, brackets, ports, trailing dots).
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import re
from pathlib import Path
from typing import Any

import idna

_SNAPSHOT = ".tld_set_snapshot"
# tldextract.suffix_list's reading of the list: the first token of each line that starts a rule.
_SUFFIX = re.compile(r"^(?P<suffix>[.*!]*\w[\S]*)", re.UNICODE | re.MULTILINE)
_PRIVATE_SECTION = "// ===BEGIN PRIVATE DOMAINS==="
_END = "."  # the trie's end-of-suffix mark: labels are split on dots, so none is "."


def _remote() -> Any:
    """tldextract.remote (standard library only), imported without running tldextract's package __init__."""
    return importlib.import_module("tldextract.remote")


@functools.cache
def _trie() -> dict[str, Any]:
    """The ICANN suffixes, labels reversed, as nested dicts; `_END` marks where a suffix ends."""
    spec = importlib.util.find_spec("tldextract")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("No module named 'tldextract'", name="tldextract")
    text = Path(next(iter(spec.submodule_search_locations)), _SNAPSHOT).read_text(encoding="utf-8")
    public, _, _ = text.partition(_PRIVATE_SECTION)
    root: dict[str, Any] = {}
    for m in _SUFFIX.finditer(public):
        node = root
        for label in reversed(m.group("suffix").split(".")):
            node = node.setdefault(label, {})
        node[_END] = True
    return root


def _decode(label: str) -> str:
    lowered = label.lower()
    if lowered.startswith("xn--"):
        try:
            return str(idna.decode(lowered))
        except (UnicodeError, IndexError):
            pass
    return lowered


def _suffix_index(labels: list[str]) -> int | None:
    """Where the public suffix starts in `labels` (None: no suffix), as tldextract finds it."""
    node = _trie()
    suffix_idx = label_idx = len(labels)
    for label in reversed(labels):
        decoded = _decode(label)
        if decoded in node:
            label_idx -= 1
            node = node[decoded]
            if _END in node:
                suffix_idx = label_idx
            continue
        if "*" in node:
            return label_idx if "!" + decoded in node else label_idx - 1
        break
    return None if suffix_idx == len(labels) else suffix_idx


def has_fqdn(address: str) -> bool:
    """`TLDExtract(...)(address).fqdn != ""` with the bundled snapshot and private domains excluded."""
    remote = _remote()
    netloc = remote.lenient_netloc(address)
    host = netloc.replace("\u3002", ".").replace("\uff0e", ".").replace("\uff61", ".")
    if len(host) >= 4 and host[0] == "[" and host[-1] == "]" and remote.looks_like_ipv6(host[1:-1]):
        return False
    labels = host.split(".")
    index = _suffix_index(labels)
    if index is None:
        return False
    domain = labels[index - 1] if index > 0 else ""
    suffix = ".".join(labels[index:])
    return bool(suffix and domain)

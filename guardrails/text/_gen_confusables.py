"""Write `_confusables.py` from Unicode's confusables data as the confusable-homoglyphs package ships it.

    python -m guardrails.text._gen_confusables

The table is generated, not read at run time: loading the package's 900 KB JSON costs ~25 ms, and the
core install does not depend on it. tests/text/test_chars.py fails when the committed table is stale.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

TARGET = Path(__file__).with_name("_confusables.py")
HEADER = '''"""Non-ASCII characters -> the ASCII letter or digit they are confusable with (generated, do not edit).

From Unicode's confusables.txt (Unicode License v3) as packaged by confusable-homoglyphs; regenerate with
`python -m guardrails.text._gen_confusables`. One entry per character: the first ASCII letter or digit
the data lists for it.
"""

# fmt: off
LATIN_LOOKALIKES: dict[str, str] = {
'''


def build() -> dict[str, str]:
    raw = resources.files("confusable_homoglyphs").joinpath("confusables.json").read_text("utf-8")
    data: dict[str, list[dict[str, str]]] = json.loads(raw)
    out: dict[str, str] = {}
    for char, entries in data.items():
        if len(char) != 1 or char.isascii():
            continue
        for entry in entries:
            c = entry.get("c", "")
            if len(c) == 1 and c.isascii() and c.isalnum():
                out[char] = c
                break
    return dict(sorted(out.items()))


def render(table: dict[str, str]) -> str:
    lines = [f"    {ord(k):#07x}: {v!r},\n" for k, v in table.items()]
    body = "".join(lines).replace("'", '"')
    # Keys as code points: many of these characters are invisible or right-to-left in an editor.
    return HEADER.replace("dict[str, str] = {", "dict[int, str] = {") + body + "}\n# fmt: on\n"


if __name__ == "__main__":  # pragma: no cover - run by hand when the dependency updates
    TARGET.write_text(render(build()), encoding="utf-8")

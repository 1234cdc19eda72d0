"""Shapes for people: show what kind of value was found without showing the value."""

from __future__ import annotations


def shape(value: str, limit: int = 64) -> str:
    """Letters become x/X, digits #, everything else stays: "jo.doe@ex.com" -> "xx.xxx@xx.xxx".

    Separators (@ . - space) carry no identity but tell a reviewer an e-mail from a card number.
    """
    out = []
    for ch in value[:limit]:
        if ch.isdigit():
            out.append("#")
        elif ch.isalpha():
            out.append("X" if ch.isupper() else "x")
        elif ch.isspace():
            out.append(" ")
        elif ch.isascii() and ch.isprintable():
            out.append(ch)
        else:
            out.append("?")
    if len(value) > limit:
        out.append("…")
    return "".join(out)

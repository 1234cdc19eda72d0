"""Where the default facts database lives (no SQLAlchemy import: the check asks before opening anything)."""

from __future__ import annotations

import os
from pathlib import Path


def default_data_dir() -> Path:
    base = os.environ.get("OUTGUARD_DATA_DIR")
    return Path(base) if base else Path.home() / ".local" / "share" / "outguard"


def default_url() -> str:
    """`OUTGUARD_FACTS_DB` when set, else a SQLite file `facts.db` in the data directory."""
    return os.environ.get("OUTGUARD_FACTS_DB") or f"sqlite:///{default_data_dir() / 'facts.db'}"


def missing_sqlite_file(url: str) -> bool:
    """True for a sqlite:/// URL whose file does not exist (a fresh machine: no facts yet)."""
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        return False
    path = url[len(prefix) :].split("?", 1)[0]
    return bool(path) and path != ":memory:" and not Path(path).exists()

"""Helpers shared by subcommands: reading input, loading an engine from --policy/--rules."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from guardrails.cli.main import UsageError
from guardrails.engine import Engine

MAX_INPUT_BYTES = 64 * 1024 * 1024


def add_policy_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--policy", default="default", help="policy name or path to a policy .yaml (default: default)")
    p.add_argument(
        "--rules",
        action="append",
        default=[],
        metavar="DIR",
        help="extra rules directory beside the bundled rules (repeatable)",
    )


def engine_from_args(args: argparse.Namespace) -> Engine:
    return Engine.from_policy(args.policy, args.rules)


def read_text(source: str) -> tuple[str, str]:
    """Read a file or '-' (stdin) as UTF-8, replacing undecodable bytes; returns (label, text)."""
    try:
        if source == "-":
            raw = sys.stdin.buffer.read(MAX_INPUT_BYTES + 1)
            label = "<stdin>"
        else:
            path = Path(source)
            if not path.is_file():
                raise UsageError(f"{source}: no such file")
            with path.open("rb") as fh:
                raw = fh.read(MAX_INPUT_BYTES + 1)
            label = source
    except OSError as exc:
        raise UsageError(f"{source}: cannot read: {exc.strerror}") from exc
    if len(raw) > MAX_INPUT_BYTES:
        raise UsageError(f"{source}: larger than {MAX_INPUT_BYTES} bytes")
    return label, raw.decode("utf-8", errors="replace")


def read_context(value: str | None) -> dict[str, Any] | None:
    """--context takes inline JSON or @file.json."""
    if value is None:
        return None
    try:
        text = Path(value[1:]).read_text(encoding="utf-8") if value.startswith("@") else value
        data = json.loads(text)
    except (OSError, json.JSONDecodeError) as exc:
        raise UsageError(f"--context: not readable JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise UsageError("--context: expected a JSON object")
    return data

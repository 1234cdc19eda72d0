"""`guardrails schema`: print the JSON Schema of the Report (shared by library, CLI and HTTP)."""

from __future__ import annotations

import argparse
import json

from guardrails.cli.main import EXIT_OK


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("schema", help="print the Report's JSON Schema")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from guardrails.findings import report_json_schema

    print(json.dumps(report_json_schema(), indent=2, sort_keys=True))
    return EXIT_OK

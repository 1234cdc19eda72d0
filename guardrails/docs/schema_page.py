"""The Report reference (docs/reference/report.md): field tables and the JSON Schema, from the pydantic model
that the library, the CLI's JSON and the sidecar all serialise."""

from __future__ import annotations

import json

from guardrails.docs._md import GENERATED, fence, model_tables
from guardrails.findings import REPORT_SCHEMA_VERSION, Report, report_json_schema


def report_page() -> str:
    schema = json.dumps(report_json_schema(), indent=2, sort_keys=True)
    out = [
        GENERATED,
        "",
        "# Report",
        "",
        f"What the engine decided about one output (schema version `{REPORT_SCHEMA_VERSION}`). The library returns",
        "it, `guardrails check --format json` prints it and the sidecar answers it, byte for byte the same.",
        "",
        "## Fields",
        "",
    ]
    out += model_tables(Report, heading="###", first="field")
    out += ["", "## JSON Schema", "", "`guardrails schema` prints the same.", "", fence(schema, "json")]
    return "\n".join(out) + "\n"

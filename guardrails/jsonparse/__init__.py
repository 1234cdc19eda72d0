"""JSON in model output: find it, parse it strictly (C fast path), repair it as edits, locate pointers.

Private helpers for the `json_syntax`, `json_repair` and `json_schema` checks. They sit below
`guardrails.checks` in the dependency order and import only the bottom layer.
"""

from guardrails.jsonparse.locate import locate, pointer_from_path
from guardrails.jsonparse.tolerant import Repair, RepairResult, repair_region
from guardrails.jsonparse.view import JsonView, build_view, document_view

__all__ = [
    "JsonView",
    "Repair",
    "RepairResult",
    "build_view",
    "document_view",
    "locate",
    "pointer_from_path",
    "repair_region",
]

"""The public API for writing a check kind: subclass `Check[MyParams]`, yield `Hit`s from `run()`.

```python
from collections.abc import Iterator

from pydantic import Field

from guardrails.checks import Check, CheckParams, Document, Hit, RunContext


class ShoutingParams(CheckParams):
    min_letters: int = Field(default=12, ge=1, description="Uppercase letters in a row that count as shouting")


class ShoutingCheck(Check[ShoutingParams]):
    kind = "shouting"

    def run(self, doc: Document, ctx: RunContext) -> Iterator[Hit]:
        ...  # self.params is a ShoutingParams
```

Built-in kinds live one module per kind in this package (each exposes `CHECK`); third-party kinds are
declared in the `outguard.checks` entry-point group (see `guardrails.plugins`). The check modules are
imported only when a policy uses them, so importing this package stays light.
"""

from guardrails.checks.base import (
    Check,
    CheckParams,
    Deadline,
    DeadlineExceeded,
    Hit,
    RunContext,
    TemplateValue,
)
from guardrails.context import Context
from guardrails.document import Document
from guardrails.findings import Edit, Evidence, Fix, RegenerationItem

__all__ = [
    "Check",
    "CheckParams",
    "Context",
    "Deadline",
    "DeadlineExceeded",
    "Document",
    "Edit",
    "Evidence",
    "Fix",
    "Hit",
    "RegenerationItem",
    "RunContext",
    "TemplateValue",
]

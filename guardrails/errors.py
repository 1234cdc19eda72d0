"""Errors are data: one base class for every error outguard raises on purpose, and `Problem`, one load or
configuration problem as a record (file, rule id, key path, line, type, message, hint) that the CLI prints as
a line and the sidecar answers as JSON, like pydantic's errors (`type`, `loc`, `msg`).

`except OutguardError` catches everything outguard raises on purpose and nothing else. Each class also keeps
the builtin base it had before (`RuleError` is still a `ValueError`, `UnknownCheckKind` a `LookupError`), so
code written against those keeps working. The subclasses, by module (tests/test_errors.py holds this list to
the code):

- `guardrails.rules.errors.RuleError`: a rule pack or policy that cannot be loaded or compiled; `.problems`.
- `guardrails.checks.base.DeadlineExceeded`, `guardrails.checks.base.UnknownCheckKind`
- `guardrails.checks._bounded_regex.UnsafePattern`
- `guardrails.checks._html.template.TemplateError`
- `guardrails.checks._facts.index.StoreDriverMissing`
- `guardrails.plugins.PluginError`
- `guardrails.examples.ExamplesNeedModel`
- `guardrails.engine.WorkerSetupError`
- `guardrails.facts.rows.FieldError`, `guardrails.facts.io.FileFormatError`,
  `guardrails.facts.store.FactStoreError`, `guardrails.facts.store.FactStoreMissing`
- `guardrails.reviews.routing.RoutingError`, `guardrails.reviews.store.ReviewError`,
  `guardrails.reviews.store.ReviewNotFound`, `guardrails.reviews.store.ReviewConflict`
- `guardrails.models.sources.SourceError`, `guardrails.models.store.ModelNotInstalled`,
  `guardrails.models.store.ModelCorrupt`, `guardrails.models.manifest.ManifestError`
- `guardrails.jsonparse.strict.NonFiniteNumber`, `guardrails.jsonparse.tolerant.RepairAborted`
- `guardrails.telemetry.prices.PriceTableError`
- `guardrails.guard.llm.LLMError`, `guardrails.guard.llm.LLMBudgetError`
- `guardrails.batch.runners.BatchError`
- `guardrails.integrations._columns.MissingExtra`, `guardrails.integrations._columns.IntegrationError`
- `guardrails.cli.main.UsageError`
- `service.errors.ApiError`, `service.auth.AuthConfigError`, `service.webhooks.WebhookRefused`,
  `service.limits.store.StoreDown`
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class OutguardError(Exception):
    """Base of every exception outguard raises on purpose (see the module docstring for the list)."""


class Problem(BaseModel):
    """One thing wrong with a rule file, policy or setting, as data: programs read `type`, `file`, `rule`,
    `loc` and `line`; people read `message` and `hint`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: str = Field(description="Stable kebab-case code, e.g. unknown-key, invalid-yaml, duplicate-code")
    message: str = Field(description="What is wrong, for people; names the key when there is one")
    file: str | None = Field(default=None, description="The rule pack or policy file, when there is one")
    rule: str | None = Field(default=None, description="The id of the rule the problem is in")
    loc: str | None = Field(default=None, description="Dotted key path inside the rule or file, e.g. params.pattern")
    line: int | None = Field(default=None, description="1-based line in `file`, when known")
    column: int | None = Field(default=None, description="1-based column in `file`, when known")
    hint: str | None = Field(default=None, description="What to do about it, e.g. did you mean 'max_rounds'?")
    policy: str | None = Field(
        default=None, description="The policy file whose overrides of the rule may have caused the problem"
    )

    def where(self, *, with_line: bool) -> str:
        """`file[:line[:column]]: `, the part of a line that says where ('' for a setting)."""
        place = self.file or ("<inline>" if self.rule else "")
        if place and with_line and self.line is not None:
            place += f":{self.line}" + (f":{self.column}" if self.column is not None else "")
        return f"{place}: " if place else ""

    def render(self) -> str:
        """The line the CLI prints: `file:line:column: [type] rule 'id': message (hint)`."""
        return f"{self.where(with_line=True)}[{self.type}] {self._rule()}{self.message}{self._hint()}"

    def __str__(self) -> str:
        # Without line and type: the sentence RuleError's str() has always been, which callers match on.
        return f"{self.where(with_line=False)}{self._rule()}{self.message}{self._hint()}"

    def _rule(self) -> str:
        return f"rule {self.rule!r}: " if self.rule else ""

    def _hint(self) -> str:
        hint = f" ({self.hint})" if self.hint else ""
        return hint + (f" (with overrides from policy {self.policy})" if self.policy else "")

"""The result columns every integration adds, and the engine each worker compiles once.

A worker (a Ray actor, a Spark executor's Python process) gets an `EngineSpec`, which pickles: the policy and
rules directories as absolute paths and the policy version the driver compiled. It compiles the engine on first
use and keeps it in `_ENGINES` for the life of the process (compiled engines hold stores, models and HTML trees
that do not pickle), and refuses to run when its rules compile to another version than the driver's (rules that
differ on a worker's disk would give different answers silently).

Every row gets the same five columns; a row that cannot be validated is never dropped:

| column  | type         | value                                                                                   |
|---------|--------------|-----------------------------------------------------------------------------------------|
| verdict | string       | the report's verdict; `block` for a row that could not be validated (fail closed)       |
| codes   | list[string] | the distinct codes of the report's findings, sorted                                      |
| output  | string       | the delivered output (repaired or original); null for a row that could not be validated |
| report  | string       | the report as JSON, redacted like every report that leaves the process                   |
| error   | string       | null, or `kind: detail` for a bad row (kinds in `BAD_ROW_KINDS`); never quotes the text  |
"""

from __future__ import annotations

import importlib
import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from pydantic import ValidationError

from guardrails.engine import Engine
from guardrails.errors import OutguardError
from guardrails.findings import Verdict
from guardrails.redaction import sensitive_rule_ids

RESULT_COLUMNS = ("verdict", "codes", "output", "report", "error")

BAD_ROW_KINDS = {
    "text-not-string": "the text column holds no string (null, a number, bytes...): nothing was validated",
    "text-too-large": "the text is longer than the policy's max_output_chars: the engine blocked it unchecked (ENG003)",
    "context-invalid": "the row's context columns do not make a valid Context: nothing was validated",
    "validate-failed": "the engine raised on this row (a bug): nothing was validated",
}
"""What the `error` column's kinds mean. A bad row is counted and named in summaries, never dropped."""

NAMED_BAD_ROWS = 100
"""How many bad rows a summary names (by id); it counts all of them."""


class MissingExtra(OutguardError, ImportError):
    """ray or pyspark is not installed: the message names the extra that brings it."""


class IntegrationError(OutguardError, ValueError):
    """A call that cannot work (a column that does not exist or collides, rules that differ on a worker)."""


def require(module: str, extra: str) -> ModuleType:
    """Import `module`, or say which extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtra(
            f"{module} is not installed: install outguard[{extra}] (pip install 'outguard[{extra}]')"
        ) from exc


# -- the engine, once per worker process ----------------------------------------------------------


@dataclass(frozen=True)
class EngineSpec:
    """What a worker needs to compile the driver's engine: picklable, paths absolute."""

    policy: str
    rules_dirs: tuple[str, ...]
    version: str
    show_values: bool = False

    @classmethod
    def build(cls, policy: str, rules_dirs: Sequence[str | Path], *, show_values: bool = False) -> EngineSpec:
        """Compile on the driver (a bad policy fails here, not on every worker) and record its version."""
        path = Path(policy)
        # A policy file named relative to the driver's working directory means nothing to a worker elsewhere.
        pol = str(path.resolve()) if path.suffix in {".yaml", ".yml"} and path.exists() else policy
        dirs = tuple(str(Path(d).resolve()) for d in rules_dirs)
        spec = cls(pol, dirs, "", show_values)
        engine = _compile(spec)
        spec = cls(pol, dirs, engine.compiled.version, show_values)
        _ENGINES[spec.key] = engine
        return spec

    @property
    def key(self) -> tuple[str, tuple[str, ...], str]:
        return (self.policy, self.rules_dirs, self.version)

    def engine(self) -> Engine:
        engine = _ENGINES.get(self.key)
        if engine is None:
            engine = _compile(self)
            if engine.compiled.version != self.version:
                raise IntegrationError(
                    f"policy {self.policy} compiled to version {engine.compiled.version} on this worker, not"
                    f" {self.version} as on the driver: its rules differ on this machine (ship the same rules_dirs)"
                )
            _ENGINES[self.key] = engine
        return engine


_ENGINES: dict[tuple[str, tuple[str, ...], str], Engine] = {}


def _compile(spec: EngineSpec) -> Engine:
    return Engine.from_policy(spec.policy, spec.rules_dirs)


# -- which columns hold the text and the context ---------------------------------------------------


@dataclass(frozen=True)
class ColumnPlan:
    """Where a batch's text and context come from, and what the result columns are called."""

    text: str
    context_fields: tuple[tuple[str, str], ...] = ()
    """(column, Context field) pairs."""
    context_column: str | None = None
    """A column holding a whole context: a dict (struct) or a JSON object as text."""
    prefix: str = ""

    @classmethod
    def build(
        cls,
        text_column: str,
        context_columns: Sequence[str] | Mapping[str, str] = (),
        context_column: str | None = None,
        prefix: str = "",
    ) -> ColumnPlan:
        if isinstance(context_columns, str):
            raise IntegrationError("context_columns: give a list of column names or a {column: field} mapping")
        pairs = (
            tuple(context_columns.items())
            if isinstance(context_columns, Mapping)
            else tuple((c, c) for c in context_columns)
        )
        return cls(text_column, pairs, context_column, prefix)

    @property
    def inputs(self) -> list[str]:
        cols = [self.text, *(c for c, _ in self.context_fields)]
        return [*cols, self.context_column] if self.context_column else cols

    @property
    def results(self) -> list[str]:
        return [self.prefix + c for c in RESULT_COLUMNS]

    def check(self, columns: Iterable[str]) -> None:
        """Fail before any work when an input column is missing or a result column would overwrite one."""
        have = list(columns)
        missing = [c for c in self.inputs if c not in have]
        if missing:
            raise IntegrationError(f"column(s) {missing} not in the dataset (it has {have})")
        clash = [c for c in self.results if c in have]
        if clash:
            raise IntegrationError(
                f"the dataset already has column(s) {clash}: pass prefix='og_' (or rename them) so results"
                " do not overwrite them"
            )

    def contexts(self, columns: Mapping[str, Sequence[Any]], n: int) -> list[Any]:
        """One context per row (None when the row has none), from plain Python column values."""
        if not self.context_fields and not self.context_column:
            return [None] * n
        out: list[Any] = []
        for i in range(n):
            ctx: Any = _context_value(columns[self.context_column][i]) if self.context_column else None
            fields = {f: plain(columns[c][i]) for c, f in self.context_fields if not _missing(columns[c][i])}
            if fields:
                ctx = {**ctx, **fields} if isinstance(ctx, dict) else (fields if ctx is None else ctx)
            out.append(ctx)
        return out


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _context_value(value: Any) -> Any:
    if _missing(value):
        return None
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value  # Context.coerce rejects it, and the row is named context-invalid
    return plain(value)


def plain(value: Any) -> Any:
    """numpy arrays and scalars (what pandas hands over for list and struct columns) as plain Python values."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    tolist = getattr(value, "tolist", None)  # numpy.ndarray and numpy scalars alike
    if tolist is not None and not isinstance(value, str):
        return plain(tolist()) if isinstance(out := tolist(), (list, tuple, dict)) else out
    return value


# -- validating a batch -----------------------------------------------------------------------------


@dataclass
class Results:
    """The result columns of one batch, as plain Python lists in row order."""

    verdict: list[str] = field(default_factory=list)
    codes: list[list[str]] = field(default_factory=list)
    output: list[str | None] = field(default_factory=list)
    report: list[str | None] = field(default_factory=list)
    error: list[str | None] = field(default_factory=list)

    def columns(self) -> list[list[Any]]:
        return [self.verdict, self.codes, self.output, self.report, self.error]

    def rows(self) -> Iterable[dict[str, Any]]:
        for values in zip(*self.columns(), strict=True):
            yield dict(zip(RESULT_COLUMNS, values, strict=True))

    def _bad(self, error: str) -> None:
        for column, value in zip(self.columns(), bad_row(error).values(), strict=True):
            column.append(value)


def bad_row(error: str) -> dict[str, Any]:
    """The result columns of a row that could not be validated: blocked (fail closed), named by `error`."""
    return {"verdict": Verdict.BLOCK.value, "codes": [], "output": None, "report": None, "error": error}


def text_problem(text: Any) -> str | None:
    """The `error` of a row whose text is no string, else None."""
    if isinstance(text, str):
        return None
    return f"text-not-string: got {'null' if _missing(text) else type(text).__name__}"


class BatchValidator:
    """Validates batches with one worker's engine; built once per actor or executor process."""

    def __init__(self, spec: EngineSpec) -> None:
        self.spec = spec
        self.engine = spec.engine()
        self.sensitive = sensitive_rule_ids(self.engine.rules)
        self.limit = self.engine.policy.max_output_chars

    def validate(self, texts: Sequence[Any], contexts: Sequence[Any]) -> Results:
        res = Results()
        for text, ctx in zip(texts, contexts, strict=True):
            self._one(res, text, ctx)
        return res

    def _one(self, res: Results, text: Any, ctx: Any) -> None:
        problem = text_problem(text)
        if problem is not None:
            res._bad(problem)
            return
        try:
            report = self.engine.validate(text, ctx)
        except ValidationError as exc:
            # The fields and messages only: pydantic's default message quotes the input, which may be PII.
            where = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'context'}: {e['msg']}" for e in exc.errors())
            res._bad(f"context-invalid: {where}")
            return
        except Exception as exc:  # the engine never raises on text; if it does, the row still comes back named
            res._bad(f"validate-failed: {type(exc).__name__}")
            return
        shown = report if self.spec.show_values else report.redacted(self.sensitive)
        res.verdict.append(report.verdict.value)
        res.codes.append(sorted({f.code for f in report.findings}))
        res.output.append(report.output)
        res.report.append(shown.model_dump_json(by_alias=True))
        res.error.append(f"text-too-large: {len(text)} characters > {self.limit}" if len(text) > self.limit else None)


# -- summaries --------------------------------------------------------------------------------------


@dataclass
class Summary:
    """Counts by verdict, code and bad-row kind, and the first `NAMED_BAD_ROWS` bad rows by id."""

    rows: int = 0
    verdicts: Counter[str] = field(default_factory=Counter)
    codes: Counter[str] = field(default_factory=Counter)
    bad: Counter[str] = field(default_factory=Counter)
    named: list[tuple[Any, str]] = field(default_factory=list)

    def add(self, row_id: Any, verdict: str, codes: Iterable[str] | None, error: str | None) -> None:
        self.rows += 1
        self.verdicts[verdict] += 1
        self.codes.update(plain(codes) or ())
        if error:
            self.bad[error.split(":", 1)[0]] += 1
            if len(self.named) < NAMED_BAD_ROWS:
                self.named.append((plain(row_id), error))

    @property
    def bad_rows(self) -> int:
        return sum(self.bad.values())

    def __str__(self) -> str:
        verdicts = ", ".join(f"{k} {v}" for k, v in sorted(self.verdicts.items()))
        bad = ", ".join(f"{k} {v}" for k, v in sorted(self.bad.items())) or "none"
        return f"{self.rows} rows ({verdicts}); bad rows: {bad}"

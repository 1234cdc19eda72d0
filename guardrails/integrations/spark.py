"""Validate a Spark DataFrame with `mapInPandas`: one engine per executor Python process (extra `spark`).

    from guardrails.integrations.spark import validate_frame

    df = spark.read.parquet("outputs/")
    checked = validate_frame(df, policy="default", text_column="answer", context_columns=["template"])
    checked.write.parquet("checked/")

The frame comes back with the result columns of `guardrails.integrations._columns` (verdict, codes, output,
report, error) beside its own. Spark reuses its Python workers across tasks (spark.python.worker.reuse, on by
default), so the engine each one compiles is kept in a module-level dict keyed by the policy's arguments and paid
for once per process, not once per task. A Python worker that dies mid-task fails the task, which Spark runs
again (spark.task.maxFailures; in local mode give it as `local[N,F]`, since plain `local[N]` never retries).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from guardrails.integrations._columns import (
    NAMED_BAD_ROWS,
    RESULT_COLUMNS,
    BatchValidator,
    ColumnPlan,
    EngineSpec,
    Summary,
    bad_row,
    require,
    text_problem,
)

ROWS_PER_JOB = 20_000
"""`batch_runner` gathers this many rows into one Spark job: a job costs tens of milliseconds to schedule."""

_VALIDATORS: dict[tuple[str, tuple[str, ...], str], BatchValidator] = {}


def _spark_sql() -> Any:
    return require("pyspark.sql", "spark")


def _validator(spec: EngineSpec) -> BatchValidator:
    validator = _VALIDATORS.get(spec.key)
    if validator is None:
        validator = _VALIDATORS[spec.key] = BatchValidator(spec)
    return validator


def _validate_partition(batches: Iterator[Any], spec: EngineSpec, plan: ColumnPlan) -> Iterator[Any]:
    """mapInPandas' function: pandas batches in, the same batches with result columns out."""
    validator = _validator(spec)
    for pdf in batches:
        values = {c: pdf[c].tolist() for c in plan.inputs}
        res = validator.validate(values[plan.text], plan.contexts(values, len(pdf)))
        for name, column in zip(plan.results, res.columns(), strict=True):
            pdf[name] = column
        yield pdf


def result_schema(df: Any, plan: ColumnPlan) -> Any:
    types = require("pyspark.sql.types", "spark")
    string = types.StringType()
    kinds = [string, types.ArrayType(string), string, string, string]
    extra = [types.StructField(n, t, True) for n, t in zip(plan.results, kinds, strict=True)]
    return types.StructType([*df.schema.fields, *extra])


def validate_frame(
    df: Any,
    *,
    policy: str = "default",
    text_column: str = "text",
    context_columns: Sequence[str] | Mapping[str, str] = (),
    context_column: str | None = None,
    rules_dirs: Sequence[str | Path] = (),
    show_values: bool = False,
    prefix: str = "",
) -> Any:
    """`df` with the result columns added (lazy, like every Spark transform).

    `context_columns` name columns holding Context fields (a list when column and field share a name, else
    {column: field}); `context_column` names one holding a whole context (a struct or a JSON object as text).
    `policy` and `rules_dirs` must exist at the same paths on every executor. `show_values` keeps the values that
    PII and sensitive findings detected in the report column (masked by default). `prefix` renames the result
    columns when the frame already has columns of those names."""
    _spark_sql()
    plan = ColumnPlan.build(text_column, context_columns, context_column, prefix)
    plan.check(df.columns)
    spec = EngineSpec.build(policy, rules_dirs, show_values=show_values)

    def validate(batches: Iterator[Any]) -> Iterator[Any]:
        return _validate_partition(batches, spec, plan)

    return df.mapInPandas(validate, result_schema(df, plan))


def summarize(df: Any, *, id_column: str | None = None, prefix: str = "") -> Summary:
    """Counts by verdict, code and bad-row kind over a validated frame (Spark aggregates; cache the frame first
    to avoid validating it again), naming the first bad rows by `id_column`."""
    functions = require("pyspark.sql.functions", "spark")
    verdict, codes, error = (prefix + c for c in ("verdict", "codes", "error"))
    summary = Summary()
    for row in df.groupBy(verdict).count().collect():
        summary.verdicts[row[0]] = row[1]
        summary.rows += row[1]
    for row in df.select(functions.explode(codes).alias("code")).groupBy("code").count().collect():
        summary.codes[row[0]] = row[1]
    bad = df.where(functions.col(error).isNotNull())
    kind = functions.split(functions.col(error), ":").getItem(0)
    for row in bad.groupBy(kind.alias("kind")).count().collect():
        summary.bad[row[0]] = row[1]
    named = bad.select(functions.col(id_column) if id_column else functions.lit(None), error)
    summary.named = [(r[0], r[1]) for r in named.limit(NAMED_BAD_ROWS).collect()]
    return summary


# -- the runner of `guardrails batch --engine spark` -------------------------------------------------


def batch_runner(
    chunks: Iterable[list[dict[str, Any]]],
    *,
    policy: str = "default",
    rules_dirs: Sequence[str | Path] = (),
    workers: int = 2,
    show_values: bool = False,
    master: str | None = None,
    rows_per_job: int = ROWS_PER_JOB,
) -> Iterator[dict[str, Any]]:
    """Validate row dicts {"id", "text", "context"} on Spark; yield one result dict per row,
    {"id", "verdict", "codes", "output", "report", "error"}, in input order.

    Uses the active SparkSession, else starts one on `master` (default `local[workers,4]`: four tries per
    task) and stops it after. Rows are gathered `rows_per_job` at a time into one job each."""
    sql = _spark_sql()
    spec = EngineSpec.build(policy, rules_dirs, show_values=show_values)
    plan = ColumnPlan.build("text", context_column="context")
    spark = sql.SparkSession.getActiveSession()
    started = spark is None
    if started:
        spark = _local_session(sql, master or f"local[{max(1, workers)},4]")
    try:
        pending: list[dict[str, Any]] = []
        for chunk in chunks:
            pending.extend(chunk)
            if len(pending) >= rows_per_job:
                yield from _run_job(spark, pending, spec, plan)
                pending = []
        if pending:
            yield from _run_job(spark, pending, spec, plan)
    finally:
        if started:
            spark.stop()


def _local_session(sql: Any, master: str) -> Any:
    import sys

    return (
        sql.SparkSession.builder.master(master)
        .appName("outguard-batch")
        .config("spark.pyspark.python", sys.executable)
        .config("spark.ui.enabled", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )


def _run_job(spark: Any, rows: list[dict[str, Any]], spec: EngineSpec, plan: ColumnPlan) -> Iterator[dict[str, Any]]:
    import pandas as pd

    # A text that is not a string cannot travel in a string column: it is named here, where its type is known.
    sent = [i for i, r in enumerate(rows) if isinstance(r.get("text"), str)]
    pdf = pd.DataFrame(
        {
            "_row": pd.Series(sent, dtype="int64"),
            "text": pd.Series([rows[i]["text"] for i in sent], dtype="object"),
            "context": pd.Series([_context_json(rows[i].get("context")) for i in sent], dtype="object"),
        }
    )
    types = require("pyspark.sql.types", "spark")
    schema = types.StructType(
        [
            types.StructField("_row", types.LongType(), False),
            types.StructField("text", types.StringType(), True),
            types.StructField("context", types.StringType(), True),
        ]
    )
    df = spark.createDataFrame(pdf, schema)

    def validate(batches: Iterator[Any]) -> Iterator[Any]:
        return _validate_partition(batches, spec, plan)

    out = df.mapInPandas(validate, result_schema(df, plan)).toPandas().sort_values("_row")
    done = {int(r["_row"]): r for r in out.to_dict("records")}
    for i, row in enumerate(rows):
        got = done.get(i)
        if got is None:
            result = bad_row(text_problem(row.get("text")) or "validate-failed: row lost")
        else:
            result = {c: got[c] for c in RESULT_COLUMNS}
            result["codes"] = list(result["codes"]) if result["codes"] is not None else []
        yield {"id": row.get("id"), **result}


def _context_json(context: Any) -> str | None:
    if context is None:
        return None
    return json.dumps(context, default=str)


__all__ = ["RESULT_COLUMNS", "batch_runner", "result_schema", "summarize", "validate_frame"]

"""Validate a Ray Dataset on an actor pool: the engine compiled once per actor (extra `ray`).

    import ray
    from guardrails.integrations.ray import validate_dataset

    ds = ray.data.read_parquet("outputs/")
    checked = validate_dataset(ds, policy="default", text_column="answer", context_columns=["template"])
    checked.write_parquet("checked/")

The dataset comes back with the result columns of `guardrails.integrations._columns` (verdict, codes, output,
report, error) beside its own. An actor that dies mid-batch (killed, out of memory) is restarted and its batch
retried, at most `max_restarts` / `max_task_retries` times: bounded, so a row that kills every actor it meets
fails the job instead of looping for ever.
"""

from __future__ import annotations

import warnings
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from guardrails.integrations._columns import (
    RESULT_COLUMNS,
    BatchValidator,
    ColumnPlan,
    EngineSpec,
    Summary,
    require,
)

DEFAULT_BATCH_SIZE = 256
"""Rows per actor call: a few hundred keeps Ray's per-batch overhead small next to rule-only validation."""
DEFAULT_MAX_RESTARTS = 4


def _ray() -> Any:
    return require("ray", "ray")


class _ArrowValidator:
    """A Ray Data actor: compiles the engine once, then turns pyarrow batches into batches with result columns."""

    def __init__(self, spec: EngineSpec, plan: ColumnPlan) -> None:
        self.validator = BatchValidator(spec)
        self.plan = plan

    def __call__(self, batch: Any) -> Any:
        import pyarrow as pa

        self.plan.check(batch.column_names)
        values = {c: batch.column(c).to_pylist() for c in self.plan.inputs}
        n = batch.num_rows
        res = self.validator.validate(values[self.plan.text], self.plan.contexts(values, n))
        types = [pa.string(), pa.list_(pa.string()), pa.string(), pa.string(), pa.string()]
        for name, column, typ in zip(self.plan.results, res.columns(), types, strict=True):
            batch = batch.append_column(name, pa.array(column, type=typ))
        return batch


def validate_dataset(
    ds: Any,
    *,
    policy: str = "default",
    text_column: str = "text",
    context_columns: Sequence[str] | Mapping[str, str] = (),
    context_column: str | None = None,
    rules_dirs: Sequence[str | Path] = (),
    actors: int = 2,
    batch_size: int = DEFAULT_BATCH_SIZE,
    num_cpus: float = 1,
    max_restarts: int = DEFAULT_MAX_RESTARTS,
    show_values: bool = False,
    prefix: str = "",
) -> Any:
    """`ds` with the result columns added, validated on `actors` actors of `num_cpus` each (lazy, like every
    Ray Data transform: nothing runs until the dataset is consumed).

    `context_columns` name columns holding Context fields (a list when column and field share a name, else
    {column: field}); `context_column` names one holding a whole context (a struct or a JSON object as text).
    `policy` and `rules_dirs` must exist at the same paths on every node. `show_values` keeps the values that
    PII and sensitive findings detected in the report column (masked by default). `prefix` renames the result
    columns when the dataset already has columns of those names."""
    ray = _ray()
    plan = ColumnPlan.build(text_column, context_columns, context_column, prefix)
    columns = ds.columns(fetch_if_missing=False)  # fetching could run the whole pipeline before this step
    if columns is not None:
        plan.check(columns)
    spec = EngineSpec.build(policy, rules_dirs, show_values=show_values)
    with warnings.catch_warnings():
        # Ray 2.5x deprecates passing actor options through **ray_remote_args but offers no named parameter for
        # restarts yet; its default (-1) restarts for ever, so a row that kills every actor would never end.
        warnings.filterwarnings("ignore", message="`ray_remote_args` is deprecated")
        return ds.map_batches(
            _ArrowValidator,
            fn_constructor_args=(spec, plan),
            batch_format="pyarrow",
            batch_size=batch_size,
            compute=ray.data.ActorPoolStrategy(size=actors),
            num_cpus=num_cpus,
            max_restarts=max_restarts,
            max_task_retries=max_restarts,
        )


def summarize(ds: Any, *, id_column: str | None = None, prefix: str = "") -> Summary:
    """Counts by verdict, code and bad-row kind over a validated dataset, naming the first bad rows by
    `id_column` (or row number). Streams the small result columns through the driver."""
    cols = [prefix + c for c in ("verdict", "codes", "error")]
    summary = Summary()
    n = 0
    for batch in ds.select_columns([*cols, *([id_column] if id_column else [])]).iter_batches(batch_format="pyarrow"):
        ids = batch.column(id_column).to_pylist() if id_column else range(n, n + batch.num_rows)
        verdicts, codes, errors = (batch.column(c).to_pylist() for c in cols)
        for row in zip(ids, verdicts, codes, errors, strict=True):
            summary.add(*row)
        n += batch.num_rows
    return summary


# -- the runner of `guardrails batch --engine ray` ---------------------------------------------------


class _RowsValidator:
    """A Ray actor for the batch command: lists of row dicts in, result dicts out."""

    def __init__(self, spec: EngineSpec) -> None:
        self.validator = BatchValidator(spec)

    def validate(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        res = self.validator.validate([r.get("text") for r in rows], [r.get("context") for r in rows])
        return [{"id": r.get("id"), **out} for r, out in zip(rows, res.rows(), strict=True)]


def batch_runner(
    chunks: Iterable[list[dict[str, Any]]],
    *,
    policy: str = "default",
    rules_dirs: Sequence[str | Path] = (),
    workers: int = 2,
    batch_size: int = DEFAULT_BATCH_SIZE,
    max_restarts: int = DEFAULT_MAX_RESTARTS,
    show_values: bool = False,
    address: str | None = None,
) -> Iterator[dict[str, Any]]:
    """Validate row dicts {"id", "text", "context"} on `workers` Ray actors; yield one result dict per row,
    {"id", "verdict", "codes", "output", "report", "error"}, in input order.

    Connects to the cluster at `address` (or RAY_ADDRESS), else starts a local one for the run and stops it
    after. Chunks are split into batches of `batch_size`; at most two batches per actor are in flight, so the
    input is read as the results are written, never whole."""
    ray = _ray()
    spec = EngineSpec.build(policy, rules_dirs, show_values=show_values)
    started = not ray.is_initialized()
    if started:
        _init(ray, address)
    try:
        actor = ray.remote(num_cpus=1, max_restarts=max_restarts, max_task_retries=max_restarts)(_RowsValidator)
        pool = [actor.remote(spec) for _ in range(max(1, workers))]
        in_flight: deque[Any] = deque()
        for i, rows in enumerate(_batches(chunks, batch_size)):
            in_flight.append(pool[i % len(pool)].validate.remote(rows))
            if len(in_flight) >= 2 * len(pool):
                yield from ray.get(in_flight.popleft())
        while in_flight:
            yield from ray.get(in_flight.popleft())
    finally:
        if started:
            ray.shutdown()


def _init(ray: Any, address: str | None, attempts: int = 3) -> None:
    """ray.init, tried again: a local raylet gives its agents a fixed 15 s to start, which a busy machine misses."""
    for attempt in range(attempts):
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False)
            return
        except Exception:
            ray.shutdown()
            if address is not None or attempt == attempts - 1:
                raise


def _batches(chunks: Iterable[list[dict[str, Any]]], size: int) -> Iterator[list[dict[str, Any]]]:
    for chunk in chunks:
        for i in range(0, len(chunk), size):
            yield chunk[i : i + size]


__all__ = ["RESULT_COLUMNS", "batch_runner", "summarize", "validate_dataset"]

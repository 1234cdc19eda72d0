"""Streaming batch validation: `guardrails batch` reads JSONL, CSV or Parquet in bounded chunks, validates them on
a runner (this host's process pool, Ray or Spark) in order, and writes reports as it goes, resumably.

The runner seam (`Row`, `EngineSpec`, `Runner`, `get_runner`) is in `guardrails.batch.runners`.
"""

from guardrails.batch.runners import ENGINES, BatchError, EngineSpec, Row, Runner, get_runner, register_runner

__all__ = ["ENGINES", "BatchError", "EngineSpec", "Row", "Runner", "get_runner", "register_runner"]

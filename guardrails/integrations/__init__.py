"""Adapters to the engines users already run batch work on: Ray Data (`guardrails.integrations.ray`, extra `ray`)
and Spark (`guardrails.integrations.spark`, extra `spark`).

Each adds the same result columns to a dataset (see `_columns`). Nothing here imports ray or pyspark until one of
their functions is called, so `import guardrails` never pays for them.
"""

"""Check kinds, one module per kind. See `guardrails.checks.base` for the protocol."""

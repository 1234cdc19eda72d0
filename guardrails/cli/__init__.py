"""Command-line interface (`guardrails ...`)."""

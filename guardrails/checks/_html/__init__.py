"""Private helpers of the `html_template` check: scanner, template registry, analysis, URL policy, renderer.

Nothing here is public API; `guardrails.checks.html_template` is the only importer.
"""

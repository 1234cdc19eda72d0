"""Attacks on the sidecar and the library, one module per class of the red-team findings (issue 13).

Each test is written as the attacker would run it: a real `guardrails serve` process on loopback
(tests/service/server.py), real SQLite and PostgreSQL queues, a scripted upstream.
"""

"""Environment variables (docs/reference/environment.md). The registry is written here by hand, since a
variable's meaning is not in the code that reads it; a test greps guardrails/ and service/ for OUTGUARD_ names
and fails when one is read but missing here."""

from __future__ import annotations

from dataclasses import dataclass

from guardrails.docs._md import GENERATED, cell


@dataclass(frozen=True, slots=True)
class EnvVar:
    name: str
    area: str
    default: str
    meaning: str


ENV_VARS: tuple[EnvVar, ...] = (
    # library: rules, checks, stores
    EnvVar("OUTGUARD_DATA_DIR", "library", "`./var`", "Directory of the default SQLite files (facts, review queue)."),
    EnvVar("OUTGUARD_FACTS_DB", "library", "`sqlite:///<data dir>/facts.db`", "Database URL of the known-facts store."),
    EnvVar("OUTGUARD_MODEL_DIR", "library", "`~/.cache/outguard/models`", "The local model store (toxicity weights)."),
    EnvVar(
        "OUTGUARD_MODEL_MANIFEST",
        "library",
        "unset",
        "Extra model manifests (paths joined by the OS path separator), read after the bundled one.",
    ),
    EnvVar(
        "OUTGUARD_RULE_FILE_MAX_BYTES",
        "library",
        "16 MB",
        "Largest file a rule's params may name (lists, schemas, templates).",
    ),
    EnvVar(
        "OUTGUARD_RULE_FILES_ANYWHERE",
        "library",
        "unset",
        "`1` lets rule params name files outside the rules directory tree (symlinks resolved otherwise).",
    ),
    EnvVar(
        "OUTGUARD_POLICY_CACHE",
        "library",
        "on",
        "`0`, `false`, `no` or `off` turns off the compiled-policy cache; any cache problem falls back to loading.",
    ),
    EnvVar(
        "OUTGUARD_CACHE_DIR",
        "library",
        "`$XDG_CACHE_HOME/outguard`, else `~/.cache/outguard`",
        "Where the compiled-policy cache lives.",
    ),
    EnvVar(
        "OUTGUARD_DEADLINE_SCALE",
        "library",
        "`1`",
        "Factor applied to every check deadline when a policy compiles (the tests run with 8 on a shared machine).",
    ),
    EnvVar(
        "OUTGUARD_PURE_PYTHON",
        "library",
        "unset",
        "When set, the HTML check uses its pure-Python modules even when a compiled (mypyc) build is present.",
    ),
    EnvVar(
        "OUTGUARD_PII_HASH_KEY",
        "library",
        "unset",
        "Key of the PII check's `hash` redaction (the variable is named by the check's `hash_key_env` parameter).",
    ),
    EnvVar(
        "OUTGUARD_TRACE_CHECKS",
        "library",
        "`all`",
        "`notable`: only checks that found something, degraded or ran slowly get an OpenTelemetry span.",
    ),
    EnvVar(
        "OUTGUARD_DOCS_URL",
        "library",
        "`docs/reference/rules/{code}.md`",
        "Base of each finding's `doc_url`: a template with `{code}`, or a site root to which `CODE/` is added.",
    ),
    # command line
    EnvVar("OUTGUARD_NO_PROGRESS", "command line", "unset", "When set, no progress bar on a terminal."),
    # sidecar
    EnvVar(
        "OUTGUARD_API_KEYS",
        "sidecar",
        "unset",
        "API keys, `name:scope+scope:KEY;...` (a key may be given as `sha256:<hex>`).",
    ),
    EnvVar("OUTGUARD_REVIEW_DB", "sidecar", "SQLite under the data dir", "Database URL of the review queue."),
    EnvVar(
        "OUTGUARD_LIMITS_DB",
        "sidecar",
        "unset",
        "Database shared by workers and replicas for rate limits and token quotas; unset, each process limits alone.",
    ),
    EnvVar("OUTGUARD_WORKERS", "sidecar", "`1`", "Worker processes of `guardrails serve`."),
    EnvVar(
        "OUTGUARD_SESSION_SECRET",
        "sidecar",
        "random per process",
        "Signs review-page sessions; set one value on every replica so a session survives a hop.",
    ),
    EnvVar("OUTGUARD_HEADER_TIMEOUT", "sidecar", "`10`", "Seconds a client has to send its request headers."),
    EnvVar("OUTGUARD_BODY_TIMEOUT", "sidecar", "`30`", "Seconds a client has to send its request body."),
    EnvVar("OUTGUARD_MAX_HEADER_BYTES", "sidecar", "`65536`", "Largest request head accepted."),
    EnvVar("OUTGUARD_MAX_CONNECTIONS", "sidecar", "`1000`", "Open connections per worker; 503 when all are busy."),
    EnvVar(
        "OUTGUARD_UPSTREAM_MAX_BYTES",
        "sidecar",
        "4 MiB",
        "Largest upstream answer the proxy reads; a larger one fails like a spent budget.",
    ),
    EnvVar(
        "OUTGUARD_STREAM_RELEASE",
        "sidecar",
        "`final`",
        "When the streaming proxy releases checked text: at the end (`final`) or as it is cleared.",
    ),
    EnvVar(
        "OUTGUARD_STREAM_KEEPALIVE",
        "sidecar",
        "`15`",
        "Seconds between keep-alive comments on a held stream; `0` disables them.",
    ),
    EnvVar("OUTGUARD_CACHE_MAX_ENTRIES", "sidecar", "`10000`", "Entries per result or proxy cache, per replica."),
    EnvVar("OUTGUARD_CACHE_MAX_MB", "sidecar", "`64`", "Megabytes per result or proxy cache, per replica."),
    EnvVar(
        "OUTGUARD_PRICES_FILE",
        "sidecar",
        "unset",
        "Token prices per model, for the cost metrics; unset, no cost is estimated.",
    ),
    EnvVar(
        "OUTGUARD_HOLD_FILE",
        "sidecar",
        "unset",
        "YAML or JSON file configuring hold for review (waits, webhooks) when the service config gives none.",
    ),
    EnvVar(
        "OUTGUARD_REVIEW_CLAIM_MINUTES",
        "sidecar",
        "`15`",
        'How long a reviewer\'s claim on an item holds before "next" hands it on.',
    ),
    EnvVar(
        "OUTGUARD_REVIEW_ROUTING",
        "sidecar",
        "unset",
        "File seeding an empty database's reviewer-group routing; afterwards the admin edits it on the page.",
    ),
    EnvVar(
        "OUTGUARD_WORKER_CONFIG",
        "internal",
        "set by `serve`",
        "The service config `guardrails serve --workers N` hands each worker process; do not set it.",
    ),
    EnvVar(
        "OUTGUARD_WORKER_CONNECTION_LIMITS",
        "internal",
        "set by `serve`",
        "The connection limits `guardrails serve --workers N` hands each worker process; do not set it.",
    ),
)


def env_page() -> str:
    out = [
        GENERATED,
        "",
        "# Environment variables",
        "",
        "Every `OUTGUARD_*` variable the library, the command line and the sidecar read. A command-line flag",
        "given explicitly wins over its variable. Every `OUTGUARD_*` variable also keys the compiled-policy cache,",
        "so changing one recompiles. OpenTelemetry reads its own `OTEL_*` variables (see Operations).",
    ]
    for area in ("library", "command line", "sidecar", "internal"):
        out += ["", f"## {area.capitalize()}", "", "| variable | default | meaning |", "|---|---|---|"]
        out += [f"| `{v.name}` | {cell(v.default)} | {cell(v.meaning)} |" for v in ENV_VARS if v.area == area]
    return "\n".join(out) + "\n"

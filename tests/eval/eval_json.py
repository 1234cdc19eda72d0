"""Evaluate the JSON checks on the labelled dev sets, next to python-jsonschema and json-repair.

    python tests/eval/eval_json.py            # all three sets
    python tests/eval/eval_json.py --only repair

Data: $OUTGUARD_EVAL_DIR or <repo>/../shared/eval (dev splits only; the holdout is scored elsewhere).
- jsonschemabench_instances: real-world schemas, one valid and one invalid LLM instance each.
- json_schema_test_suite: the official keyword conformance tests (draft 7 and 2020-12), per keyword file.
- json_repair_cases: malformed JSON -> the value json-repair's own tests expect (its opinion, not truth).

Ours = the Engine with the bundled `json` policy, the schema passed per call in Context.schema, exactly
as a user would run it. A schema the engine refuses (fails closed with ENG001) counts as unsupported.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import jsonschema  # noqa: E402
from jsonschema import validators  # noqa: E402

from guardrails import Engine  # noqa: E402
from guardrails.findings import Report, Verdict  # noqa: E402
from guardrails.rules.compile import compile_policy  # noqa: E402
from guardrails.rules.loader import load_ruleset  # noqa: E402
from guardrails.rules.model import RepairSettings  # noqa: E402

JSON_FAILURE_CODES = {"JSON001", "JSON002", "JSON003", "JSON030"}


def eval_dir() -> Path:
    env = os.environ.get("OUTGUARD_EVAL_DIR")
    return Path(env) if env else ROOT.parent / "shared" / "eval"


def rows(name: str) -> Iterator[dict[str, Any]]:
    with (eval_dir() / name / "dev.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            yield json.loads(line)


def engines() -> tuple[Engine, Engine, Engine]:
    """(validation only, safe repairs as bundled, repairs including unsafe ones)."""
    rs = load_ruleset()
    policy, path = rs.policy("json")

    def make(repair: RepairSettings) -> Engine:
        return Engine(compile_policy(policy.model_copy(update={"repair": repair}), rs, path))

    return (
        make(RepairSettings(enabled=False)),
        make(RepairSettings()),
        make(RepairSettings(allow_unsafe=True)),
    )


_BOOL_ENGINES: dict[bool, Engine] = {}


def bool_engine(schema: bool) -> Engine:
    if schema not in _BOOL_ENGINES:
        rs = load_ruleset()
        policy, path = rs.policy("json")
        over = policy.overrides["schema-violation"].model_copy(
            update={"params": {**policy.overrides["schema-violation"].params, "schema": schema}}
        )
        policy = policy.model_copy(
            update={
                "repair": RepairSettings(enabled=False),
                "overrides": {**policy.overrides, "schema-violation": over},
            }
        )
        _BOOL_ENGINES[schema] = Engine(compile_policy(policy, rs, path))
    return _BOOL_ENGINES[schema]


def unsupported(report: Report) -> bool:
    return any(f.code == "ENG001" for f in report.findings)


def ours_valid(report: Report) -> bool:
    return not any(f.code in JSON_FAILURE_CODES for f in report.findings)


def baseline(schema: Any, instance_json: str, *, formats: bool) -> tuple[bool | None, str | None]:
    """python-jsonschema alone: (valid, error) with None when it cannot use the schema."""
    try:
        instance = json.loads(instance_json)
    except ValueError:
        return False, None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cls = validators.validator_for(schema, default=jsonschema.Draft202012Validator)
            cls.check_schema(schema)
            fmt = cls.FORMAT_CHECKER if formats else None
            return cls(schema, format_checker=fmt).is_valid(instance), None
    except Exception as exc:  # the baseline's own failures are what we measure
        return None, type(exc).__name__


class Score:
    def __init__(self) -> None:
        self.tp = self.fp = self.tn = self.fn = self.unsupported = 0

    def add(self, predicted_valid: bool | None, valid: bool) -> None:
        if predicted_valid is None:
            self.unsupported += 1
            predicted_valid = False  # fail closed: an unusable schema blocks the output
        if not valid:
            if predicted_valid:
                self.fn += 1
            else:
                self.tp += 1
        elif predicted_valid:
            self.tn += 1
        else:
            self.fp += 1

    @property
    def n(self) -> int:
        return self.tp + self.fp + self.tn + self.fn

    def line(self) -> str:
        acc = (self.tp + self.tn) / self.n if self.n else 0.0
        p = self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0
        r = self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        return (
            f"acc {acc:.4f}  invalid P {p:.3f} R {r:.3f} F1 {f1:.4f}  unsupported rows {self.unsupported}  (n={self.n})"
        )


def eval_schema_set(name: str, group_key: str, per_group: bool) -> None:
    validate_only, _, _ = engines()
    ours, base, base_fmt = Score(), Score(), Score()
    groups: dict[str, tuple[Score, Score]] = defaultdict(lambda: (Score(), Score()))
    schema_ok: dict[str, bool] = {}
    group_schemas: dict[str, dict[str, bool]] = defaultdict(dict)
    times = []
    for row in rows(name):
        schema, text, valid = row["schema"], row["instance_json"], bool(row["valid"])
        if row.get("draft") == "draft7" and isinstance(schema, dict) and "$schema" not in schema:
            # The suite states the draft beside the schema; a user states it in the schema (both tools get it).
            schema = {"$schema": "http://json-schema.org/draft-07/schema#", **schema}
        t0 = time.perf_counter()
        if isinstance(schema, bool):  # Context.schema takes objects; a boolean schema goes in the rule's params
            report = bool_engine(schema).validate(text)
        else:
            report = validate_only.validate(text, {"schema": schema})
        times.append(time.perf_counter() - t0)
        supported = not unsupported(report)
        prediction = ours_valid(report) if supported else None
        ours.add(prediction, valid)
        b, _ = baseline(schema, text, formats=False)
        base.add(b, valid)
        base_fmt.add(baseline(schema, text, formats=True)[0], valid)
        sid = row.get("schema_id") or row.get("group_id") or row["id"]
        schema_ok[sid] = schema_ok.get(sid, True) and supported
        if per_group:
            g = row[group_key]
            groups[g][0].add(prediction, valid)
            groups[g][1].add(b, valid)
            group_schemas[g][sid] = group_schemas[g].get(sid, True) and supported
    share = sum(schema_ok.values()) / len(schema_ok)
    times.sort()
    print(f"\n== {name} (dev, {ours.n} rows, {len(schema_ok)} schemas)")
    print(f"  outguard json policy      {ours.line()}")
    print(f"  python-jsonschema         {base.line()}")
    print(f"  python-jsonschema+format  {base_fmt.line()}")
    print(f"  schemas supported: {share:.4f}   engine p50 {times[len(times) // 2] * 1e3:.3f} ms per row")
    if per_group:
        print(f"  per {group_key}: ours acc / jsonschema acc / schemas supported")
        for g in sorted(groups):
            o, b = groups[g]
            sup = group_schemas[g]
            print(
                f"    {g:28s} {(o.tp + o.tn) / o.n:.3f} / {(b.tp + b.tn) / b.n:.3f} / "
                f"{sum(sup.values())}/{len(sup)}  (n={o.n})"
            )


def _same(value: Any, expected: Any) -> bool:
    """Equal as JSON (1 == 1.0 but True != 1)."""
    return json.dumps(value, sort_keys=True) == json.dumps(expected, sort_keys=True)


def eval_repair() -> None:
    """Share repaired to `expected`; valid inputs unchanged; and confident wrong answers (a guardrail's worst case).

    `expected` == "" (json-repair gives up) counts as unrepairable: success is then *not* delivering an
    output (verdict regenerate/block). Valid inputs are split: without a schema they must come back byte
    for byte; with a schema, the schema may demand a coercion (json-repair's tests expect {"flag": 1} ->
    {"flag": true} under a boolean schema), so those are reported apart.
    """
    _, safe_engine, unsafe_engine = engines()
    import json_repair

    c: dict[str, int] = defaultdict(int)
    failures: list[str] = []
    for row in rows("json_repair_cases"):
        text, expected, opts = row["input"], row["expected"], row["options"] or {}
        unrepairable = bool(row["unrepairable"]) or expected == ""
        has_schema = isinstance(opts.get("schema"), dict)
        ctx = {"schema": opts["schema"]} if has_schema else None
        valid_plain = row["input_is_valid_json"] and not has_schema
        c["n"] += 1
        c["valid_plain"] += valid_plain
        c["valid_schema"] += row["input_is_valid_json"] and has_schema
        for label, engine in (("safe", safe_engine), ("unsafe", unsafe_engine)):
            report = engine.validate(text, ctx)
            delivered = report.verdict in (Verdict.PASS, Verdict.REPAIRED)
            try:
                value, parses = json.loads(report.output), True
            except ValueError:
                value, parses = None, False
            right = parses and not unrepairable and _same(value, expected)
            ok = (not delivered) if unrepairable else (delivered and right)
            c[f"{label}_ok"] += ok
            c[f"{label}_wrong"] += delivered and not right
            if valid_plain:
                c[f"{label}_valid_unchanged"] += report.output == text
            if (label == "unsafe" or delivered) and not ok:
                failures.append(
                    f"[{label}] " + f"{row['id']}: {text[:60]!r} -> {report.output[:60]!r} ({report.verdict})"
                )
        kwargs = {k: v for k, v in opts.items() if k in ("schema", "strict", "schema_repair_mode")}
        try:
            got = json_repair.repair_json(text, return_objects=True, **kwargs)
            lib_ok = (got == "" or got is None) if unrepairable else _same(got, expected)
            as_text = json_repair.repair_json(text, **kwargs)
            lib_same = as_text == text
        except Exception:
            lib_ok, lib_same = False, False
        c["lib_ok"] += lib_ok
        if valid_plain:
            c["lib_valid_unchanged"] += lib_same
    n, nv = c["n"], c["valid_plain"]
    print(f"\n== json_repair_cases (dev, {n} cases; {nv} valid without schema, {c['valid_schema']} valid with one)")
    for label, name in (
        ("safe", "outguard json policy, safe fixes only"),
        ("unsafe", "outguard json policy, allow_unsafe"),
    ):
        print(
            f"  {name:40s} repaired to expected {c[f'{label}_ok'] / n:.3f}"
            f"  delivered but wrong {c[f'{label}_wrong']}"
            f"  valid inputs byte-identical {c[f'{label}_valid_unchanged']}/{nv}"
        )
    print(
        f"  {'json-repair library':40s} repaired to expected {c['lib_ok'] / n:.3f}"
        f"  (its own test expectations)       valid inputs byte-identical {c['lib_valid_unchanged']}/{nv}"
    )
    if os.environ.get("VERBOSE"):
        print("  misses (allow_unsafe):")
        for line in failures:
            print("   ", line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", choices=["bench", "suite", "repair"])
    args = parser.parse_args()
    if args.only in (None, "bench"):
        eval_schema_set("jsonschemabench_instances", "subset", per_group=True)
    if args.only in (None, "suite"):
        eval_schema_set("json_schema_test_suite", "keyword_file", per_group=True)
    if args.only in (None, "repair"):
        eval_repair()


if __name__ == "__main__":
    main()

"""`guardrails models pull|list|verify|remove`: the local model store that model-backed checks read."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING

from guardrails.cli.main import EXIT_ACTION, EXIT_OK, UsageError

if TYPE_CHECKING:
    from guardrails.models import ModelStore


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("models", help="pull, list and verify the models that model-backed checks load")
    p.add_argument("action", choices=["pull", "list", "verify", "remove"])
    p.add_argument("names", nargs="*", metavar="NAME", help="model names (pull, verify, remove)")
    p.add_argument("--dir", help="model store directory (default: $OUTGUARD_MODEL_DIR or ~/.cache/outguard/models)")
    p.add_argument("--manifest", action="append", default=[], metavar="FILE", help="extra model manifest (repeatable)")
    p.add_argument("--force", action="store_true", help="pull again even when the stored copy is intact")
    p.add_argument(
        "--trust-on-first-use",
        action="store_true",
        help="allow files whose manifest entry has no full sha256: record their digest now, verify it later",
    )
    p.add_argument("--quiet", "-q", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from guardrails.models import ManifestError, ModelStore, load_manifests

    store = ModelStore(args.dir)
    try:
        specs = load_manifests(args.manifest)
    except ManifestError as exc:
        raise UsageError(str(exc)) from exc
    if args.action == "list":
        return _list(store, specs)
    if not args.names:
        if args.action == "verify":
            args.names = [m.name for m in store.installed()]
        else:
            raise UsageError(f"models {args.action}: name at least one model (see `guardrails models list`)")
    if args.action == "pull":
        return _pull(store, specs, args)
    if args.action == "verify":
        return _verify(store, args.names)
    for name in args.names:
        print(f"{name}: {'removed' if store.remove(name) else 'not installed'}")
    return EXIT_OK


def _list(store: ModelStore, specs: Mapping[str, object]) -> int:
    installed = {m.name: m for m in store.installed()}
    print(f"model store: {store.root}")
    for name in sorted(set(specs) | set(installed)):
        m = installed.get(name)
        if m is None:
            print(f"  {name:<22} not pulled    (guardrails models pull {name})")
            continue
        pinned = all(f.pinned for f in m.files.values())
        print(
            f"  {name:<22} pulled {m.pulled_at}  {m.size / 1e6:8.1f} MB  backend={m.backend}"
            f"  labels={','.join(m.labels)}{'' if pinned else '  (digests recorded on first use)'}"
        )
    return EXIT_OK


def _pull(store: ModelStore, specs: Mapping[str, object], args: argparse.Namespace) -> int:
    from guardrails.models import ModelSpec, SourceError
    from guardrails.rules.errors import suggest

    failed = 0
    for name in args.names:
        spec = specs.get(name)
        if not isinstance(spec, ModelSpec):
            raise UsageError(f"unknown model {name!r}{suggest(name, specs)}; known: {', '.join(sorted(specs))}")
        try:
            model, changed = store.pull(
                spec,
                force=args.force,
                trust_on_first_use=args.trust_on_first_use,
                progress=None if args.quiet or not sys.stderr.isatty() else _Progress(name),
            )
        except (SourceError, OSError) as exc:
            print(f"error: {name}: {exc}", file=sys.stderr)
            failed += 1
            continue
        if not args.quiet:
            state = "pulled" if changed else "already present and intact"
            print(
                f"{name}: {state} in {model.dir} ({len(model.files)} files, {model.size / 1e6:.1f} MB, sha256 verified)"
            )
    return EXIT_ACTION if failed else EXIT_OK


class _Progress:
    """Prints `name file: 12.0/420.0 MB` on one terminal line, at most every 1% of a file."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.shown = -1

    def __call__(self, file: str, done: int, total: int | None) -> None:
        step = done * 100 // total if total else done >> 22
        if step == self.shown:
            return
        self.shown = step
        of = f"/{total / 1e6:.1f}" if total else ""
        end = "\n" if total and done >= total else ""
        print(f"\r{self.model} {file}: {done / 1e6:.1f}{of} MB", end=end, file=sys.stderr, flush=True)


def _verify(store: ModelStore, names: list[str]) -> int:
    bad = 0
    for name in names:
        problems = store.verify(name)
        if problems:
            bad += 1
            for p in problems:
                print(f"FAIL {p}")
        else:
            print(f"ok   {name}")
    if not names:
        print(f"no models in {store.root}")
    return EXIT_ACTION if bad else EXIT_OK

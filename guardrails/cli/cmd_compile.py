"""`guardrails compile`: build the HTML check's per-element modules with mypyc (a C compiler is needed).

Optional: without a build the same modules run as Python, about a third slower per HTML check. The build is
used only while its sources are unchanged (see `guardrails.checks._html`); `--check` says which is in use.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from guardrails.cli.main import EXIT_OK, EXIT_USAGE


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("compile", help="compile the HTML check's scanner with mypyc (optional speed-up)")
    p.add_argument("--check", action="store_true", help="only say whether a fresh compiled build is in use")
    p.add_argument("--quiet", action="store_true", help="print only errors")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from guardrails.checks._html import HERE, NATIVE_MODULES, native_state

    if args.check:
        state = native_state()
        print(f"html scanner: {state}" + ("" if state == "compiled" else " (running as Python)"))
        return EXIT_OK if state == "compiled" else 1
    try:
        build(quiet=args.quiet)
    except (ImportError, OSError, SystemExit) as exc:
        # SystemExit: how setuptools reports a failed compiler run.
        print(f"error: the mypyc build failed ({exc}); the HTML check keeps running as Python", file=sys.stderr)
        return EXIT_USAGE
    if not args.quiet:
        print(f"html scanner: compiled ({', '.join(NATIVE_MODULES)}) in {HERE}")
    return EXIT_OK


def build(quiet: bool = True) -> None:
    """Compile NATIVE_MODULES in place (extension modules beside their sources) and stamp their digests."""
    from mypyc.build import mypycify  # the dev extra's mypy: only this command needs it
    from setuptools import Distribution

    from guardrails.checks._html import HERE, NATIVE_GROUP, NATIVE_MODULES, STAMP, source_digests

    package_root = HERE.parents[2]  # the directory holding `guardrails/`
    digests = source_digests()
    for old in [STAMP, *HERE.glob("*.so")]:
        old.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="outguard-mypyc-") as tmp:
        cwd = os.getcwd()
        os.chdir(package_root)  # mypyc names modules by their path from here
        try:
            sources = [str((HERE / f"{name}.py").relative_to(package_root)) for name in NATIVE_MODULES]
            extensions = mypycify(
                sources,
                opt_level="3",
                group_name=f"guardrails.checks._html.{NATIVE_GROUP}",
                target_dir=str(Path(tmp) / "c"),
                verbose=not quiet,
            )
            dist = Distribution({"name": "outguard-native", "ext_modules": extensions})
            dist.verbose = 0 if quiet else 1
            command = dist.get_command_obj("build_ext")
            command.inplace = True
            command.build_temp = str(Path(tmp) / "temp")
            command.build_lib = str(Path(tmp) / "lib")
            dist.run_command("build_ext")
        finally:
            os.chdir(cwd)
    STAMP.write_text(json.dumps(digests, indent=1, sort_keys=True) + "\n", encoding="utf-8")

"""Reading the files rule params name (ban lists, schemas, templates, facts) and rule YAML itself, safely.

Rule files are trusted, but a typo or a copied rule must not read `/dev/zero` until memory runs out, block on
a FIFO, pull a file from anywhere on the machine, or blow the stack with a 5,000-deep YAML document. So:

- files named in params resolve inside the rules directory tree (symlinks resolved) unless the operator
  opts out with OUTGUARD_RULE_FILES_ANYWHERE=1;
- only regular files are read (checked with stat before opening, opened non-blocking), at most
  OUTGUARD_RULE_FILE_MAX_BYTES (16 MB by default);
- YAML is read by a SafeLoader bounded in nesting depth and in how far aliases expand.

Errors are ValueErrors naming the params key and what to do; the rule compiler adds file and rule id.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.nodes import MappingNode, Node, SequenceNode

ANYWHERE_ENV = "OUTGUARD_RULE_FILES_ANYWHERE"
MAX_BYTES_ENV = "OUTGUARD_RULE_FILE_MAX_BYTES"
DEFAULT_MAX_BYTES = 16 * 1024 * 1024
MAX_YAML_DEPTH = 100
"""Deeper than any rule or schema needs, shallow enough for PyYAML's recursive composer and constructor."""
MAX_YAML_NODES = 1_000_000
"""Nodes a document may expand to once every alias is followed (a billion-laughs bomb expands to 10^9)."""

_RULE_FILES: ContextVar[tuple[Path, ...]] = ContextVar("outguard_rule_files", default=())
_ROOTS: ContextVar[tuple[Path, ...]] = ContextVar("outguard_rule_roots", default=())


def _root_of(file: Path, roots: Sequence[Path]) -> Path:
    """The rules directory holding `file` (a policy in <dir>/policies/ belongs to <dir>), else its folder."""
    folder = file.resolve().parent
    return next((r for r in roots if folder.is_relative_to(r)), folder)


@contextmanager
def building_from(files: Sequence[str | Path | None], roots: Sequence[str | Path] = ()) -> Iterator[None]:
    paths = tuple(Path(f) for f in files if f and Path(f).suffix)
    resolved_roots = [Path(r).resolve() for r in roots]
    token = _RULE_FILES.set(paths)
    roots_token = _ROOTS.set(tuple(_root_of(p, resolved_roots) for p in paths))
    try:
        yield
    finally:
        _ROOTS.reset(roots_token)
        _RULE_FILES.reset(token)


def rule_files() -> tuple[Path, ...]:
    return _RULE_FILES.get()


def anywhere() -> bool:
    return os.environ.get(ANYWHERE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def max_bytes() -> int:
    raw = os.environ.get(MAX_BYTES_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_BYTES
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value <= 0:
        raise ValueError(f"environment variable {MAX_BYTES_ENV}={raw!r}: must be a positive number of bytes")
    return value


def confine(path: Path, key: str) -> Path:
    """Refuse a path (symlinks resolved) outside the rules directory tree of the rule being built.

    A check built by hand (no rule file) is code, not data: its paths are not confined."""
    roots = _ROOTS.get()
    if not roots or anywhere():
        return path
    real = Path(os.path.realpath(path))
    if any(real.is_relative_to(r) for r in roots):
        return path
    where = " or ".join(str(r) for r in dict.fromkeys(roots))
    raise ValueError(
        f"key {key!r}: {str(path)!r} resolves to {real}, outside the rules directory {where}: keep the files a "
        f"rule names under its rules directory (relative paths resolve from the rule's file), or set "
        f"{ANYWHERE_ENV}=1 to allow any path"
    )


def _describe(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def checked(path: Path, key: str, cap: int | None = None) -> Path:
    """`path` confined, existing, a regular file and at most `cap` bytes (errors name `key`)."""
    confine(path, key)
    cap = max_bytes() if cap is None else cap
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise ValueError(f"key {key!r}: file {str(path)!r} does not exist") from None
    except OSError as exc:
        raise ValueError(f"key {key!r}: cannot read {str(path)!r}: {exc.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise ValueError(f"key {key!r}: {str(path)!r} is {_describe(st.st_mode)}: name a regular file")
    if st.st_size > cap:
        raise ValueError(
            f"key {key!r}: {str(path)!r} is {st.st_size} bytes, over the {cap} byte limit (raise {MAX_BYTES_ENV})"
        )
    return path


def read_limited(path: Path, key: str, cap: int | None = None, *, confined: bool = True) -> bytes:
    """The bytes of a regular file of at most `cap` bytes: stat before opening (a device or FIFO is refused
    unopened), open non-blocking (a file swapped for a FIFO cannot block), read at most cap + 1 bytes."""
    cap = max_bytes() if cap is None else cap
    if confined:
        checked(path, key, cap)
    else:
        token = _ROOTS.set(())
        try:
            checked(path, key, cap)
        finally:
            _ROOTS.reset(token)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise ValueError(f"key {key!r}: cannot read {str(path)!r}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise ValueError(f"key {key!r}: {str(path)!r} is not a regular file: name a regular file")
        data = fh.read(cap + 1)
    if len(data) > cap:
        raise ValueError(f"key {key!r}: {str(path)!r} is over the {cap} byte limit ({MAX_BYTES_ENV})")
    return data


# -- bounded YAML ----------------------------------------------------------------------------------


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that refuses documents nested deeper than MAX_YAML_DEPTH or expanding (through aliases)
    to more than MAX_YAML_NODES nodes, and recursive aliases, before anything is constructed."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._sizes: dict[int, int] = {}

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise ComposerError(None, None, f"nested deeper than {MAX_YAML_DEPTH} levels", mark)
            if self.check_event(yaml.AliasEvent):
                event = self.peek_event()  # type: ignore[no-untyped-call]
                target = self.anchors.get(event.anchor)
                if target is not None and id(target) not in self._sizes:  # sized once finished composing
                    raise ComposerError(None, None, "an alias refers to a node that contains it", event.start_mark)
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if node is None:
            return node
        size = 1
        children: list[Node] = []
        if isinstance(node, SequenceNode):
            children = list(node.value)
        elif isinstance(node, MappingNode):
            children = [n for pair in node.value for n in pair]
        for child in children:
            known = self._sizes.get(id(child))
            if known is None:
                raise ComposerError(None, None, "an alias refers to a node that contains it", child.start_mark)
            size += known
        if size > MAX_YAML_NODES:
            raise ComposerError(
                None, None, f"aliases expand to more than {MAX_YAML_NODES} nodes (an alias bomb?)", node.start_mark
            )
        self._sizes[id(node)] = size
        return node


def load_yaml(text: str) -> Any:
    """yaml.safe_load with limits; raises yaml.YAMLError (and ValueError for scalars Python cannot hold)."""
    loader = _BoundedLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()

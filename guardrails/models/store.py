"""The local model store: one directory per model, pulled once, checksummed, read offline.

Layout: `<root>/<name>/` holds the model's files and `outguard-model.json` (the lock: backend, labels
and each file's sha256 and size as pulled). A pull stages everything in a hidden directory beside it
and swaps it into place only when every file matched its checksum, so a failed or interrupted pull
leaves the previous copy (or nothing) behind, never a half model. Validation only ever reads here.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from guardrails.errors import OutguardError
from guardrails.models.manifest import ModelSpec
from guardrails.models.sources import Progress, SourceError, copy_from_package, download, remove_tree, sha256_file

MODEL_DIR_ENV = "OUTGUARD_MODEL_DIR"
LOCK_NAME = "outguard-model.json"
LOCK_VERSION = 1


class ModelNotInstalled(OutguardError, LookupError):
    """The model is not in the store; the message names the pull command."""

    def __init__(self, name: str, root: Path, why: str = "is not in the model store") -> None:
        self.name = name
        self.root = root
        super().__init__(
            f"model {name!r} {why} at {root}: run `guardrails models pull {name}` "
            "(models are never downloaded at validation time)"
        )


class ModelCorrupt(OutguardError, ValueError):
    """A stored model whose files no longer match the checksums recorded when it was pulled."""


@contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    """Serialise pulls of one model across processes (two `models pull` runs must not swap at once)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on Windows; pulls there are not serialised
        yield
        return
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def default_root() -> Path:
    env = os.environ.get(MODEL_DIR_ENV)
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "outguard" / "models"


@dataclass(frozen=True)
class FileRecord:
    name: str
    sha256: str
    size: int
    origin: str
    pinned: bool
    """False when the manifest had no full sha256 and the digest was recorded on first use."""


@dataclass(frozen=True)
class InstalledModel:
    name: str
    dir: Path
    backend: str
    labels: tuple[str, ...]
    files: dict[str, FileRecord]
    pulled_at: str
    description: str = ""
    license: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def path(self, file_name: str) -> Path:
        return self.dir / file_name

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files.values())


def _read_lock(model_dir: Path) -> InstalledModel:
    data = json.loads((model_dir / LOCK_NAME).read_text(encoding="utf-8"))
    if not isinstance(data, dict) or data.get("lock_version") != LOCK_VERSION:
        raise ValueError(f"{model_dir / LOCK_NAME}: unknown lock format")
    files = {n: FileRecord(name=n, **rec) for n, rec in data["files"].items()}
    return InstalledModel(
        name=data["name"],
        dir=model_dir,
        backend=data["backend"],
        labels=tuple(data.get("labels", [])),
        files=files,
        pulled_at=data.get("pulled_at", ""),
        description=data.get("description", ""),
        license=data.get("license", ""),
    )


class ModelStore:
    """A directory of pulled models. Cheap to construct; touches the disk only when asked."""

    _verified: dict[tuple[str, tuple[tuple[str, int, int], ...]], bool] = {}
    _verified_lock = threading.Lock()

    def __init__(self, root: Path | str | None = None) -> None:
        self.root = Path(root).expanduser() if root is not None else default_root()

    def model_dir(self, name: str) -> Path:
        if not name or "/" in name or "\\" in name or name.startswith("."):
            raise ValueError(f"invalid model name {name!r}")
        return self.root / name

    # -- reading -------------------------------------------------------------------------------

    def installed(self) -> list[InstalledModel]:
        if not self.root.is_dir():
            return []
        out = []
        for d in sorted(self.root.iterdir()):
            if d.is_dir() and not d.name.startswith(".") and (d / LOCK_NAME).is_file():
                try:
                    out.append(_read_lock(d))
                except (ValueError, KeyError, TypeError, OSError):
                    continue  # `verify` reports unreadable locks; listing skips them
        return out

    def get(self, name: str) -> InstalledModel:
        """The installed model, or ModelNotInstalled naming `guardrails models pull NAME`."""
        d = self.model_dir(name)
        if not (d / LOCK_NAME).is_file():
            raise ModelNotInstalled(name, self.root)
        try:
            return _read_lock(d)
        except (ValueError, KeyError, TypeError, OSError) as exc:
            raise ModelNotInstalled(name, self.root, f"has an unreadable lock file ({exc})") from exc

    def verify(self, name: str, *, full: bool = True) -> list[str]:
        """Problems with a stored model: missing files, wrong sizes, and (full) wrong sha256. Empty = fine."""
        try:
            model = self.get(name)
        except ModelNotInstalled as exc:
            return [str(exc)]
        problems = []
        for rec in model.files.values():
            p = model.path(rec.name)
            if not p.is_file():
                problems.append(f"{name}: file {rec.name} is missing")
                continue
            size = p.stat().st_size
            if size != rec.size:
                problems.append(f"{name}: file {rec.name} is {size} bytes, {rec.size} were pulled")
            elif full and sha256_file(p) != rec.sha256:
                problems.append(f"{name}: file {rec.name} does not match its sha256 {rec.sha256}")
        return problems

    def require(self, name: str, *, verify: bool = True) -> InstalledModel:
        """For loaders: the model, checked against its lock (full hash once per process per file state)."""
        model = self.get(name)
        stamp = self._stamp(model)
        key = (str(model.dir), stamp)
        if verify and not self._verified.get(key):
            problems = self.verify(name)
            if problems:
                raise ModelCorrupt("; ".join(problems) + f": run `guardrails models pull {name} --force`")
            with self._verified_lock:
                self._verified[key] = True
        return model

    @staticmethod
    def _stamp(model: InstalledModel) -> tuple[tuple[str, int, int], ...]:
        out = []
        for n in sorted(model.files):
            try:
                st = model.path(n).stat()
                out.append((n, st.st_size, st.st_mtime_ns))
            except OSError:
                out.append((n, -1, -1))
        return tuple(out)

    # -- pulling -------------------------------------------------------------------------------

    def pull(
        self,
        spec: ModelSpec,
        *,
        force: bool = False,
        trust_on_first_use: bool = False,
        client: Any = None,
        progress: Progress | None = None,
    ) -> tuple[InstalledModel, bool]:
        """Fetch every file of spec into the store. Returns (model, changed); unchanged when already intact."""
        unpinned = [f.name for f in spec.files if not f.pinned]
        if unpinned and not trust_on_first_use:
            raise SourceError(
                f"model {spec.name!r}: the manifest gives no full sha256 for {', '.join(unpinned)}; "
                "pass --trust-on-first-use to record the digests of this download and verify against them later"
            )
        self.root.mkdir(parents=True, exist_ok=True)
        with _exclusive(self.root / f".lock-{spec.name}"):
            if not force and self._intact(spec):
                return self.get(spec.name), False
            return self._pull_locked(spec, client=client, progress=progress), True

    def _pull_locked(self, spec: ModelSpec, *, client: Any, progress: Progress | None) -> InstalledModel:
        staging = Path(tempfile.mkdtemp(prefix=f".pull-{spec.name}-", dir=self.root))
        staging.chmod(0o755)
        try:
            records = {}
            for f in spec.files:
                dest = staging / f.name
                if f.url is not None:
                    got = download(f, dest, client=client, progress=progress)
                else:
                    assert spec.source is not None
                    got = copy_from_package(spec.source, f, dest)
                records[f.name] = FileRecord(f.name, got.sha256, got.size, got.origin, f.pinned)
            lock = {
                "lock_version": LOCK_VERSION,
                "name": spec.name,
                "backend": spec.backend,
                "labels": spec.labels,
                "description": spec.description,
                "license": spec.license,
                "pulled_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "files": {
                    r.name: {"sha256": r.sha256, "size": r.size, "origin": r.origin, "pinned": r.pinned}
                    for r in records.values()
                },
            }
            (staging / LOCK_NAME).write_text(json.dumps(lock, indent=2, sort_keys=True) + "\n", encoding="utf-8")
            self._swap_in(staging, self.model_dir(spec.name))
        finally:
            remove_tree(staging)
        return self.get(spec.name)

    def _intact(self, spec: ModelSpec) -> bool:
        """Already pulled with the same files and checksums, and still matching them on disk."""
        try:
            model = self.get(spec.name)
        except ModelNotInstalled:
            return False
        if set(model.files) != {f.name for f in spec.files} or model.backend != spec.backend:
            return False
        for f in spec.files:
            rec = model.files[f.name]
            if (f.sha256 and rec.sha256 != f.sha256) or (
                f.sha256_prefix and not rec.sha256.startswith(f.sha256_prefix)
            ):
                return False
        return not self.verify(spec.name)

    def _swap_in(self, staging: Path, target: Path) -> None:
        old = None
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".old-{target.name}-", dir=self.root))
            os.replace(target, old / "model")
        os.replace(staging, target)
        if old is not None:
            remove_tree(old)

    def remove(self, name: str) -> bool:
        d = self.model_dir(name)
        if not d.exists():
            return False
        remove_tree(d)
        return True

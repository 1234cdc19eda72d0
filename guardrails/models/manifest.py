"""What a model is made of: its files, where each comes from and the checksum it must have.

A manifest is YAML: `models: {NAME: {backend, labels, description, license, files: [...]}}`. Each file
comes from a URL (downloaded over HTTP(S)) or from a path inside an installed PyPI distribution
(`package:`), and carries the sha256 it must have. The bundled manifest ships with outguard; more can be
given with `--manifest` or $OUTGUARD_MODEL_MANIFEST (paths separated by the OS path separator).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from guardrails.errors import OutguardError

MANIFEST_ENV = "OUTGUARD_MODEL_MANIFEST"
_NAME = r"^[a-z0-9]+(?:[-.][a-z0-9]+)*$"
_SHA256 = r"^[0-9a-f]{64}$"


class ManifestError(OutguardError, ValueError):
    """A manifest that cannot be read; the message names the file and key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelFile(_Strict):
    name: str = Field(description="File name inside the model's store directory")
    url: str | None = Field(default=None, description="HTTP(S) URL to download from")
    path: str | None = Field(default=None, description="Path inside the installed distribution named by `package`")
    sha256: str | None = Field(default=None, pattern=_SHA256, description="Expected sha256 (lower-case hex)")
    sha256_prefix: str | None = Field(
        default=None, pattern=r"^[0-9a-f]{8,63}$", description="A published checksum prefix, when only that is known"
    )
    max_bytes: int = Field(default=4 * 1024**3, ge=1, description="Refuse downloads larger than this")

    @field_validator("name")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        if not value or "/" in value or "\\" in value or value in {".", ".."} or value.startswith("."):
            raise ValueError(f"file name {value!r} must be a plain name (no directories, not hidden)")
        return value

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"url {value!r} must start with http:// or https://")
        return value

    @property
    def pinned(self) -> bool:
        """True when the manifest gives the full checksum (not just a prefix, not nothing)."""
        return self.sha256 is not None


class PackageSource(_Strict):
    package: str = Field(description="Distribution name of an installed PyPI package that ships the files")
    version: str | None = Field(default=None, description="Exact version required")
    install: str | None = Field(default=None, description="How to install it, shown when it is missing")


class ModelSpec(_Strict):
    name: str = Field(pattern=_NAME)
    backend: str = Field(description="Which loader reads these files: detoxify, keras-bilstm, ...")
    labels: list[str] = Field(default_factory=list, description="Categories the model scores, detoxify names")
    description: str = ""
    license: str = ""
    source: PackageSource | None = Field(default=None, description="For files given by `path`")
    files: list[ModelFile] = Field(min_length=1)

    @model_validator(mode="after")
    def _sources(self) -> ModelSpec:
        seen: set[str] = set()
        for f in self.files:
            if f.name in seen:
                raise ValueError(f"file {f.name!r} is listed twice")
            seen.add(f.name)
            if (f.url is None) == (f.path is None):
                raise ValueError(f"file {f.name!r}: give exactly one of `url` or `path`")
            if f.path is not None and self.source is None:
                raise ValueError(f"file {f.name!r} has a `path` but the model has no `source.package`")
        return self


class Manifest(_Strict):
    models: dict[str, ModelSpec]


def bundled_manifest_path() -> Path:
    return Path(str(resources.files("guardrails.models").joinpath("manifest.yaml")))


def _read(path: Path) -> dict[str, ModelSpec]:
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ManifestError(f"{path}: cannot read model manifest: {exc.strerror}") from exc
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{path}: not a valid YAML model manifest: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("models"), dict):
        raise ManifestError(f"{path}: expected a mapping with a `models:` mapping at the top level")
    raw = {name: {"name": name, **spec} if isinstance(spec, dict) else spec for name, spec in data["models"].items()}
    try:
        return Manifest.model_validate({"models": raw}).models
    except ValidationError as exc:
        problems = [f"{path}: key {'.'.join(str(p) for p in e['loc'])!r}: {e['msg']}" for e in exc.errors()]
        raise ManifestError("\n".join(problems)) from exc


def load_manifests(extra: Iterable[Path | str] = (), *, include_bundled: bool = True) -> dict[str, ModelSpec]:
    """Bundled manifest, then $OUTGUARD_MODEL_MANIFEST, then `extra`; later entries override earlier ones."""
    paths: list[Path] = [bundled_manifest_path()] if include_bundled else []
    env = os.environ.get(MANIFEST_ENV, "")
    paths += [Path(p) for p in env.split(os.pathsep) if p]
    paths += [Path(p) for p in extra]
    specs: dict[str, ModelSpec] = {}
    for path in paths:
        specs.update(_read(path))
    return specs

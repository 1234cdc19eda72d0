"""The local model store: `guardrails models pull NAME` fetches weights once; checks load only from here.

This package sits beside `checks` and imports only the bottom layer, so importing it never imports
torch or any model library.
"""

from guardrails.models.manifest import ManifestError, ModelFile, ModelSpec, PackageSource, load_manifests
from guardrails.models.sources import SourceError
from guardrails.models.store import (
    MODEL_DIR_ENV,
    InstalledModel,
    ModelCorrupt,
    ModelNotInstalled,
    ModelStore,
    default_root,
)

__all__ = [
    "MODEL_DIR_ENV",
    "InstalledModel",
    "ManifestError",
    "ModelCorrupt",
    "ModelFile",
    "ModelNotInstalled",
    "ModelSpec",
    "ModelStore",
    "PackageSource",
    "SourceError",
    "default_root",
    "load_manifests",
]

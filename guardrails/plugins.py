"""Third-party check kinds and rule packs, found through entry points only when a policy asks for them.

Two entry-point groups, declared in a plugin's pyproject.toml:

```toml
[project.entry-points."outguard.checks"]
word_count = "outguard_example.word_count:WordCountCheck"   # a Check subclass, or a module with CHECK

[project.entry-points."outguard.packs"]
example = "outguard_example.rules"                          # a package (its folder), or a str/Path to one
```

A check kind's name is the entry point's name; a rule names it as `check: word_count`. A pack is a rules
directory like `rules/` (YAML packs, optional `policies/`); a policy selects it with `pack:example` (the
entry point's name), or names one of its policies.

Nothing here runs when guardrails is imported or when a policy uses built-in kinds and bundled packs only:
scanning every installed distribution's metadata costs milliseconds, so it happens when a rule names a kind
no built-in module has, or a policy selects a pack or names a policy no rules directory holds. Every way a
plugin can fail (not installed, its import raising, the wrong kind of object) is a `PluginError` naming the
distribution, the entry point and the file, which the rule compiler reports with the rule's file and id.
"""

from __future__ import annotations

import importlib.util
import os
import types
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

from guardrails.checks.base import Check, CheckParams
from guardrails.errors import OutguardError

CHECKS_GROUP = "outguard.checks"
PACKS_GROUP = "outguard.packs"


class PluginError(OutguardError, LookupError):
    """A plugin that cannot be used: the message names the distribution, entry point and file."""


@dataclass(frozen=True, slots=True)
class PluginOrigin:
    """Where a plugin's object came from, for messages: `dist` (distribution name and version), the entry
    point (`group`, `name = value`) and the file of the module it points to."""

    dist: str
    group: str
    entry_point: str
    file: str

    def describe(self) -> str:
        return f"plugin {self.dist}, entry point {self.group}: {self.entry_point!r}, file {self.file}"


_ORIGINS: dict[type[Check], PluginOrigin] = {}


def origin_of(cls: type[Check]) -> PluginOrigin | None:
    """The plugin a check class was loaded from, None for a built-in or import-path kind."""
    return _ORIGINS.get(cls)


def _find(group: str, name: str) -> EntryPoint | None:
    # Two distributions may claim one name (a stale copy beside a new one): the first on sys.path wins, as
    # for imports.
    return next(iter(entry_points(group=group, name=name)), None)


def names(group: str) -> list[str]:
    """The names installed plugins declare in `group` (for "known kinds" hints and listings)."""
    return sorted({ep.name for ep in entry_points(group=group)})


def _origin(ep: EntryPoint) -> PluginOrigin:
    dist = f"{ep.dist.name} {ep.dist.version}" if ep.dist is not None else "<unknown distribution>"
    return PluginOrigin(dist, ep.group, f"{ep.name} = {ep.value}", _module_file(ep.module))


def _module_file(module: str) -> str:
    # find_spec imports parent packages, which may be what fails: then the file is not known.
    try:
        spec = importlib.util.find_spec(module)
    except Exception:
        return f"<module {module}>"
    if spec is None:
        return f"<no module {module}>"
    return spec.origin or f"<module {module}>"


def _load(ep: EntryPoint, origin: PluginOrigin) -> object:
    try:
        return ep.load()
    except Exception as exc:  # a plugin's own import-time error is data for the load error, not a crash
        raise PluginError(f"{origin.describe()}: importing it raised {type(exc).__name__}: {exc}") from exc


def check_plugin(kind: str) -> type[Check] | None:
    """The Check class an installed plugin declares for `kind` in `outguard.checks`, None when none does.

    The entry point names a Check subclass or a module exposing `CHECK`; its `Params` must be a
    CheckParams model, so a broken plugin fails when the policy loads, never while validating."""
    ep = _find(CHECKS_GROUP, kind)
    if ep is None:
        return None
    origin = _origin(ep)
    obj = _load(ep, origin)
    cls = getattr(obj, "CHECK", None) if isinstance(obj, types.ModuleType) else obj
    if not (isinstance(cls, type) and issubclass(cls, Check)):
        raise PluginError(f"{origin.describe()}: {ep.value!r} is not a Check subclass (nor a module with CHECK)")
    params = cls.__dict__.get("Params", cls.Params)
    if not (isinstance(params, type) and issubclass(params, CheckParams)):
        raise PluginError(f"{origin.describe()}: {cls.__name__}.Params is not a CheckParams model")
    if getattr(cls, "kind", kind) != kind:
        raise PluginError(f"{origin.describe()}: {cls.__name__}.kind is {cls.kind!r}, not the entry point's {kind!r}")
    cls.kind = kind
    _ORIGINS[cls] = origin
    return cls


def pack_dir(name: str) -> Path | None:
    """The rules directory an installed plugin declares as pack `name` in `outguard.packs`, None if none."""
    ep = _find(PACKS_GROUP, name)
    return None if ep is None else _pack_path(ep)


def pack_dirs() -> dict[str, Path]:
    """Every installed plugin pack by entry-point name (when a policy names a policy no directory holds)."""
    found: dict[str, Path] = {}
    for ep in entry_points(group=PACKS_GROUP):
        found.setdefault(ep.name, _pack_path(ep))
    return found


def _pack_path(ep: EntryPoint) -> Path:
    origin = _origin(ep)
    obj = _load(ep, origin)
    if isinstance(obj, types.ModuleType):
        # A package's folder; a plain module's file sits in the folder it names.
        where = obj.__file__ or next(iter(getattr(obj, "__path__", [])), None)
        if where is None:
            raise PluginError(f"{origin.describe()}: module {obj.__name__} has no folder on disk")
        path = Path(where).parent if Path(where).is_file() else Path(where)
    elif isinstance(obj, str | os.PathLike):
        path = Path(obj)
    else:
        raise PluginError(f"{origin.describe()}: a pack is a package or a path, not {type(obj).__name__}")
    if not path.is_dir():
        raise PluginError(f"{origin.describe()}: pack folder {path} does not exist")
    return path

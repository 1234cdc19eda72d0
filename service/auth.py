"""API keys and reviewer accounts: hashed at rest, scoped, loaded from a file or the environment.

API keys are long random tokens, so a plain SHA-256 of the key is a sound verifier (no dictionary to
attack) and keeps the per-request check in microseconds. Reviewer passwords are chosen by people, so
they get scrypt with a per-password salt.

Keys file (YAML or JSON):

    api_keys:
      - {name: billing, key_sha256: <hex>, scopes: [validate]}
      - {name: nightly, key_sha256: <hex>, scopes: [validate], rate_limit_rps: 2, rate_limit_burst: 4}
    reviewers:
      - {name: alice, password: "scrypt$16384$8$1$<salt b64>$<hash b64>", scopes: [review], policies: [default]}

Environment (`OUTGUARD_API_KEYS`): `name:scope+scope:KEY;name2:admin:sha256:<hex>`; a plain KEY is
hashed when it is read and never kept.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from guardrails import OutguardError
from service.limits.model import TokenQuota


class Scope(StrEnum):
    VALIDATE = "validate"
    REVIEW = "review"
    ADMIN = "admin"


class AuthConfigError(OutguardError, ValueError):
    """A keys file or env var that cannot be used; the message names the file, entry and field."""


class ApiKey(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(min_length=1, max_length=100)
    key_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    scopes: frozenset[Scope]
    rate_limit_rps: float | None = Field(
        default=None, gt=0, allow_inf_nan=False, description="This key's sustained requests per second"
    )
    rate_limit_burst: int | None = Field(
        default=None, gt=0, description="Requests at once (default: two seconds of the key's own rate, at least 1)"
    )
    token_quota: TokenQuota | None = Field(
        default=None, description="Guarded proxy: LLM tokens this key may use per window (service/limits/quota.py)"
    )

    def allows(self, scope: Scope) -> bool:
        return scope in self.scopes or Scope.ADMIN in self.scopes


class Reviewer(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(min_length=1, max_length=100)
    password: str = Field(description="scrypt$N$r$p$salt$hash")
    scopes: frozenset[Scope] = frozenset({Scope.REVIEW})
    policies: list[str] | None = Field(default=None, description="Policies whose items this reviewer sees")

    def allows(self, scope: Scope) -> bool:
        return scope in self.scopes or Scope.ADMIN in self.scopes

    def visible_policies(self) -> list[str] | None:
        return None if Scope.ADMIN in self.scopes else self.policies


class KeysFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    api_keys: list[ApiKey] = Field(default_factory=list)
    reviewers: list[Reviewer] = Field(default_factory=list)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    return "og_" + secrets.token_urlsafe(32)


_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32)
    b64 = base64.b64encode
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        expected = base64.b64decode(digest)
        got = hashlib.scrypt(
            password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=len(expected)
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


class KeyRing:
    """Every API key and reviewer the service accepts."""

    def __init__(self, keys: Iterable[ApiKey] = (), reviewers: Iterable[Reviewer] = ()) -> None:
        self.keys = {k.key_sha256: k for k in keys}
        self.reviewers = {r.name: r for r in reviewers}
        # A fixed dummy hash so that a login for an unknown user costs as much as a wrong password.
        self._dummy = hash_password(secrets.token_hex(8))

    def add_key(self, key: ApiKey) -> None:
        self.keys[key.key_sha256] = key

    def add_reviewer(self, reviewer: Reviewer) -> None:
        self.reviewers[reviewer.name] = reviewer

    def authenticate(self, presented: str) -> ApiKey | None:
        return self.keys.get(hash_key(presented))

    def login(self, name: str, password: str) -> Reviewer | None:
        reviewer = self.reviewers.get(name)
        ok = verify_password(password, reviewer.password if reviewer else self._dummy)
        return reviewer if ok and reviewer is not None else None

    @classmethod
    def load(cls, keys_file: Path | None, env_var: str, environ: dict[str, str] | None = None) -> KeyRing:
        ring = cls()
        if keys_file is not None:
            data = _load_keys_file(keys_file)
            for k in data.api_keys:
                ring.add_key(k)
            for r in data.reviewers:
                ring.add_reviewer(r)
        env = os.environ if environ is None else environ
        for key in parse_env_keys(env.get(env_var, ""), env_var):
            ring.add_key(key)
        return ring


def _load_keys_file(path: Path) -> KeysFile:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise AuthConfigError(f"{path}: cannot read keys file: {exc.strerror}") from exc
    try:
        raw: Any = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise AuthConfigError(f"{path}: not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {exc}") from exc
    try:
        return KeysFile.model_validate(raw or {})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        raise AuthConfigError(f"{path}: key {where!r}: {first['msg']}") from exc


def parse_env_keys(value: str, env_var: str = "OUTGUARD_API_KEYS") -> list[ApiKey]:
    keys = []
    for n, entry in enumerate(e.strip() for e in value.split(";")):
        if not entry:
            continue
        parts = entry.split(":", 2)
        if len(parts) != 3:
            raise AuthConfigError(f"{env_var}: entry {n + 1} must be name:scope+scope:KEY")
        name, scopes_raw, key = parts
        try:
            scopes = frozenset(Scope(s) for s in scopes_raw.split("+") if s)
        except ValueError as exc:
            raise AuthConfigError(
                f"{env_var}: entry {n + 1} ({name}): unknown scope in {scopes_raw!r}; use validate, review, admin"
            ) from exc
        digest = key[len("sha256:") :] if key.startswith("sha256:") else hash_key(key)
        try:
            keys.append(ApiKey(name=name, key_sha256=digest, scopes=scopes))
        except ValidationError as exc:
            raise AuthConfigError(f"{env_var}: entry {n + 1} ({name}): {exc.errors()[0]['msg']}") from exc
    return keys

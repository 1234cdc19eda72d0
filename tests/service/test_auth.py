"""API keys and reviewer accounts: hashing, scopes, and config errors that name the file, entry and field."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.auth import (
    AuthConfigError,
    KeyRing,
    Scope,
    hash_key,
    hash_password,
    parse_env_keys,
    verify_password,
)


def test_env_keys_are_hashed_and_scoped() -> None:
    [a, b] = parse_env_keys("ci:validate:plain-key; ops:review+admin:sha256:" + hash_key("other"))
    assert a.key_sha256 == hash_key("plain-key") and a.scopes == {Scope.VALIDATE}
    assert b.key_sha256 == hash_key("other") and b.allows(Scope.VALIDATE)  # admin implies every scope
    assert "plain-key" not in repr(a)
    ring = KeyRing([a, b])
    assert ring.authenticate("plain-key") is a and ring.authenticate("nope") is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("justakey", "entry 1 must be name:scope+scope:KEY"),
        ("ci:root:k", "unknown scope"),
        ("ci:validate:sha256:xyz", "entry 1 (ci)"),
        (":validate:k", "entry 1"),
    ],
)
def test_bad_env_keys_name_the_entry(value: str, message: str) -> None:
    with pytest.raises(AuthConfigError) as info:
        parse_env_keys(value)
    assert message in str(info.value) and str(info.value).startswith("OUTGUARD_API_KEYS: ")


def test_keys_file(tmp_path: Path) -> None:
    good = tmp_path / "keys.yaml"
    good.write_text(
        f"api_keys:\n  - {{name: a, key_sha256: {hash_key('k1')}, scopes: [validate]}}\n"
        f'reviewers:\n  - {{name: r, password: "{hash_password("pw")}", policies: [demo]}}\n'
    )
    ring = KeyRing.load(good, "NOPE", environ={"NOPE": "b:admin:k2"})
    assert ring.authenticate("k1").name == "a"  # type: ignore[union-attr]
    assert ring.authenticate("k2").name == "b"  # type: ignore[union-attr]
    assert ring.login("r", "pw") is not None and ring.login("r", "bad") is None and ring.login("x", "pw") is None
    assert ring.reviewers["r"].visible_policies() == ["demo"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("api_keys: [{name: a, key_sha256: short, scopes: [validate]}]", "api_keys.0.key_sha256"),
        ("api_keys: [{name: a, key_sha256: " + "a" * 64 + ", scopes: [root]}]", "api_keys.0.scopes"),
        ("reviewers: [{name: r}]", "reviewers.0.password"),
        ("tokens: []", "tokens"),
        ("api_keys: [unclosed", "not valid YAML"),
    ],
)
def test_bad_keys_files_name_the_key(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "keys.yaml"
    path.write_text(content)
    with pytest.raises(AuthConfigError, match=str(path)) as info:
        KeyRing.load(path, "NOPE", environ={})
    assert message in str(info.value)


def test_missing_keys_file(tmp_path: Path) -> None:
    with pytest.raises(AuthConfigError, match="cannot read keys file"):
        KeyRing.load(tmp_path / "nope.yaml", "X", environ={})


@settings(max_examples=10, deadline=None)
@given(st.text(max_size=40))
def test_password_round_trip(password: str) -> None:
    stored = hash_password(password)
    assert verify_password(password, stored)
    assert not verify_password(password + "x", stored)
    assert len(password) < 4 or password not in stored


def test_malformed_password_hashes_never_verify() -> None:
    for stored in ["", "scrypt$", "bcrypt$1$2$3$4$5", "scrypt$x$8$1$AA==$AA==", "scrypt$16384$8$1$!!$!!"]:
        assert not verify_password("pw", stored)

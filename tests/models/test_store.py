"""The model store: pulls over loopback HTTP and from installed packages, checksums, atomic swaps, CLI."""

from __future__ import annotations

import hashlib
import json
from importlib import metadata
from pathlib import Path

import pytest
import yaml

from guardrails.cli.main import main
from guardrails.models import (
    ManifestError,
    ModelCorrupt,
    ModelFile,
    ModelNotInstalled,
    ModelSpec,
    ModelStore,
    PackageSource,
    SourceError,
    load_manifests,
)
from tests.models.loopback import serve

WEIGHTS = b"\x00weights" * 1000
CONFIG = b'{"hidden": 4}'


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def http_spec(base: str, **overrides: object) -> ModelSpec:
    files = [
        ModelFile(name="weights.bin", url=f"{base}/w.bin", sha256=sha(WEIGHTS)),
        ModelFile(name="config.json", url=f"{base}/c.json", sha256=sha(CONFIG)),
    ]
    return ModelSpec.model_validate({"name": "tiny", "backend": "detoxify", "files": files, **overrides})


def leftovers(root: Path) -> list[str]:
    """Staging files and directories left behind (the per-model lock files stay on purpose)."""
    return sorted(
        str(p.relative_to(root))
        for p in root.rglob("*")
        if (p.name.startswith(".") and not p.name.startswith(".lock-")) or p.suffix == ".part"
    )


def test_pull_over_http_verifies_and_records_checksums(tmp_path: Path) -> None:
    with serve({"w.bin": WEIGHTS, "c.json": CONFIG}) as srv:
        store = ModelStore(tmp_path)
        model, changed = store.pull(http_spec(srv.base))
    assert changed
    assert (tmp_path / "tiny" / "weights.bin").read_bytes() == WEIGHTS
    assert model.files["weights.bin"].sha256 == sha(WEIGHTS)
    assert model.files["config.json"].pinned
    assert store.verify("tiny") == []
    assert leftovers(tmp_path) == []
    lock = json.loads((tmp_path / "tiny" / "outguard-model.json").read_text())
    assert lock["files"]["weights.bin"]["origin"].endswith("/w.bin")


def test_second_pull_of_an_intact_model_fetches_nothing(tmp_path: Path) -> None:
    with serve({"w.bin": WEIGHTS, "c.json": CONFIG}) as srv:
        store = ModelStore(tmp_path)
        store.pull(http_spec(srv.base))
        before = len(srv.requests)
        _, changed = store.pull(http_spec(srv.base))
        assert not changed
        assert len(srv.requests) == before
        _, changed = store.pull(http_spec(srv.base), force=True)
        assert changed and len(srv.requests) == before + 2


def test_wrong_checksum_leaves_nothing_behind(tmp_path: Path) -> None:
    with serve({"w.bin": WEIGHTS + b"tampered", "c.json": CONFIG}) as srv:
        store = ModelStore(tmp_path)
        with pytest.raises(SourceError, match=r"weights.bin: sha256 mismatch"):
            store.pull(http_spec(srv.base))
    assert not (tmp_path / "tiny").exists()
    assert leftovers(tmp_path) == []
    with pytest.raises(ModelNotInstalled, match=r"guardrails models pull tiny"):
        store.get("tiny")


def test_failed_repull_keeps_the_previous_copy(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    with serve({"w.bin": WEIGHTS, "c.json": CONFIG}) as srv:
        store.pull(http_spec(srv.base))
        srv.files["c.json"] = b"changed upstream"
        with pytest.raises(SourceError):
            store.pull(http_spec(srv.base), force=True)
    assert store.verify("tiny") == []
    assert (tmp_path / "tiny" / "config.json").read_bytes() == CONFIG


@pytest.mark.parametrize(
    ("files", "truncate", "problem"),
    [
        ({"c.json": CONFIG}, set(), "HTTP 404"),
        ({"w.bin": WEIGHTS, "c.json": CONFIG}, {"w.bin"}, "w.bin"),
    ],
)
def test_http_failures_are_errors(tmp_path: Path, files: dict[str, bytes], truncate: set[str], problem: str) -> None:
    with serve(files) as srv:
        srv.truncate = truncate
        with pytest.raises(SourceError, match=problem):
            ModelStore(tmp_path).pull(http_spec(srv.base))
    assert leftovers(tmp_path) == []


def test_oversize_download_is_refused(tmp_path: Path) -> None:
    with serve({"w.bin": WEIGHTS}) as srv:
        spec = ModelSpec(
            name="big", backend="detoxify", files=[ModelFile(name="w", url=f"{srv.base}/w.bin", max_bytes=100)]
        )
        with pytest.raises(SourceError, match="max_bytes"):
            ModelStore(tmp_path).pull(spec, trust_on_first_use=True)


def test_unpinned_files_need_trust_on_first_use_then_stay_pinned_to_that_digest(tmp_path: Path) -> None:
    with serve({"w.bin": WEIGHTS}) as srv:
        spec = ModelSpec(name="tofu", backend="detoxify", files=[ModelFile(name="w", url=f"{srv.base}/w.bin")])
        store = ModelStore(tmp_path)
        with pytest.raises(SourceError, match="--trust-on-first-use"):
            store.pull(spec)
        model, _ = store.pull(spec, trust_on_first_use=True)
    assert not model.files["w"].pinned and model.files["w"].sha256 == sha(WEIGHTS)
    (tmp_path / "tofu" / "w").write_bytes(WEIGHTS[:-1] + b"X")
    assert any("does not match its sha256" in p for p in store.verify("tofu"))


def test_checksum_prefix_is_checked(tmp_path: Path) -> None:
    with serve({"w.bin": WEIGHTS}) as srv:
        spec = ModelSpec(
            name="pre",
            backend="detoxify",
            files=[ModelFile(name="w", url=f"{srv.base}/w.bin", sha256_prefix="deadbeef")],
        )
        with pytest.raises(SourceError, match="expected prefix deadbeef"):
            ModelStore(tmp_path).pull(spec, trust_on_first_use=True)


def test_require_detects_tampering_after_pull(tmp_path: Path) -> None:
    with serve({"w.bin": WEIGHTS, "c.json": CONFIG}) as srv:
        store = ModelStore(tmp_path)
        store.pull(http_spec(srv.base))
    assert store.require("tiny").name == "tiny"
    (tmp_path / "tiny" / "weights.bin").write_bytes(b"\x01" + WEIGHTS[1:])  # same size, other bytes
    with pytest.raises(ModelCorrupt, match=r"weights.bin does not match.*pull tiny --force"):
        store.require("tiny")
    (tmp_path / "tiny" / "config.json").unlink()
    assert any("config.json is missing" in p for p in store.verify("tiny"))


def _installed_file() -> tuple[str, str, Path]:
    dist = metadata.distribution("PyYAML")
    rel = next(str(f) for f in dist.files or [] if str(f).endswith("yaml/__init__.py"))
    return "PyYAML", rel, Path(str(dist.locate_file(rel)))


def test_pull_copies_from_an_installed_package(tmp_path: Path) -> None:
    package, rel, src = _installed_file()
    digest = sha(src.read_bytes())
    spec = ModelSpec(
        name="pkg",
        backend="keras-bilstm",
        source=PackageSource(package=package),
        files=[ModelFile(name="init.py", path=rel, sha256=digest)],
    )
    model, _ = ModelStore(tmp_path).pull(spec)
    assert model.path("init.py").read_bytes() == src.read_bytes()
    assert model.files["init.py"].origin == f"{package}:{rel}"
    bad = spec.model_copy(update={"files": [ModelFile(name="init.py", path=rel, sha256="0" * 64)]})
    with pytest.raises(SourceError, match="sha256 mismatch"):
        ModelStore(tmp_path / "other").pull(bad)


def test_package_source_errors_name_the_install_command(tmp_path: Path) -> None:
    f = ModelFile(name="m", path="x/m.bin", sha256="0" * 64)
    missing = ModelSpec(
        name="m",
        backend="keras-bilstm",
        source=PackageSource(package="no-such-dist-xyz", install="pip install x"),
        files=[f],
    )
    with pytest.raises(SourceError, match=r"not installed \(install it: pip install x\)"):
        ModelStore(tmp_path).pull(missing)
    wrong = ModelSpec(
        name="m", backend="keras-bilstm", source=PackageSource(package="PyYAML", version="0.0.1"), files=[f]
    )
    with pytest.raises(SourceError, match=r"the manifest needs 0\.0\.1"):
        ModelStore(tmp_path).pull(wrong)


def test_bundled_manifest_is_valid_and_pins_the_offline_default() -> None:
    specs = load_manifests()
    default = specs["toxblock-bilstm"]
    assert default.backend == "keras-bilstm" and all(f.pinned for f in default.files)
    assert "detoxify-original" in specs


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("models: [", "not a valid YAML"),
        ("- a\n- b\n", "`models:` mapping"),
        ("models: {m: {backend: x, files: [{name: a, url: 'ftp://h/a'}]}}", "must start with http"),
        ("models: {m: {backend: x, files: [{name: a, path: p}]}}", "no `source.package`"),
        ("models: {m: {backend: x, files: [{name: ../a, url: 'http://h/a'}]}}", "plain name"),
        ("models: {m: {backend: x, colour: red, files: [{name: a, url: 'http://h/a'}]}}", "colour"),
        ("models: {m: {backend: x, files: [{name: a, url: 'http://h/a', sha256: XYZ}]}}", "sha256"),
    ],
)
def test_bad_manifests_name_file_and_key(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "manifest.yaml"
    path.write_text(content)
    with pytest.raises(ManifestError, match=problem) as err:
        load_manifests([path], include_bundled=False)
    assert str(path) in str(err.value)


def test_cli_pull_list_verify_remove(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store_dir = tmp_path / "store"
    with serve({"w.bin": WEIGHTS, "c.json": CONFIG}) as srv:
        manifest = tmp_path / "m.yaml"
        spec = http_spec(srv.base).model_dump(exclude_none=True, exclude={"name"})
        manifest.write_text(yaml.safe_dump({"models": {"tiny": spec}}))
        args = ["--dir", str(store_dir), "--manifest", str(manifest)]
        assert main(["models", "list", *args]) == 0
        assert "tiny" in capsys.readouterr().out
        assert main(["models", "pull", "tiny", *args]) == 0
        assert "tiny: pulled" in capsys.readouterr().out
    assert main(["models", "verify", *args]) == 0
    assert "ok   tiny" in capsys.readouterr().out
    (store_dir / "tiny" / "config.json").write_bytes(b"x" * len(CONFIG))
    assert main(["models", "verify", "tiny", *args]) == 1
    assert "FAIL tiny: file config.json" in capsys.readouterr().out
    assert main(["models", "pull", "tinny", *args]) == 2
    assert "did you mean 'tiny'" in capsys.readouterr().err
    assert main(["models", "remove", "tiny", *args]) == 0
    assert not (store_dir / "tiny").exists()


def test_cli_pull_failure_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with serve({}) as srv:
        manifest = tmp_path / "m.yaml"
        manifest.write_text(
            yaml.safe_dump(
                {
                    "models": {
                        "gone": {"backend": "x", "files": [{"name": "a", "url": srv.url("a"), "sha256": "0" * 64}]}
                    }
                }
            )
        )
        assert main(["models", "pull", "gone", "--dir", str(tmp_path / "s"), "--manifest", str(manifest)]) == 1
    assert "HTTP 404" in capsys.readouterr().err


def test_store_dir_comes_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OUTGUARD_MODEL_DIR", str(tmp_path / "env-store"))
    assert ModelStore().root == tmp_path / "env-store"
    monkeypatch.delenv("OUTGUARD_MODEL_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert ModelStore().root == tmp_path / "xdg" / "outguard" / "models"


def test_invalid_model_names_are_refused(tmp_path: Path) -> None:
    for name in ("../etc", ".hidden", "a/b", ""):
        with pytest.raises(ValueError, match="invalid model name"):
            ModelStore(tmp_path).get(name)


def test_concurrent_pulls_fetch_once(tmp_path: Path) -> None:
    import threading

    with serve({"w.bin": WEIGHTS, "c.json": CONFIG}) as srv:
        results: list[bool] = []
        errors: list[BaseException] = []

        def pull() -> None:
            try:
                results.append(ModelStore(tmp_path).pull(http_spec(srv.base))[1])
            except BaseException as exc:  # surfaced below
                errors.append(exc)

        threads = [threading.Thread(target=pull) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
    assert errors == []
    assert sorted(results) == [False, False, True]
    assert len(srv.requests) == 2
    assert ModelStore(tmp_path).verify("tiny") == []

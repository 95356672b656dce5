"""Signed artifacts: save(key=) signs the manifest (HMAC-SHA256), load(key=)
refuses what is unsigned or signed otherwise, LAYERC_SIGNING_KEY_FILE gives
the key and LAYERC_REQUIRE_SIGNATURE=1 makes one necessary."""

import hashlib
import json
import zipfile

import numpy as np
import pytest

import layerc
from layerc.layers import Dense
from layerc.runtime import artifact

KEY = b"0123456789abcdef0123456789abcdef"
OTHER = b"fedcba9876543210fedcba9876543210"


@pytest.fixture(scope="module")
def compiled():
    layerc.utils.set_random_seed(5)
    return layerc.compile(layerc.Sequential([Dense(6, activation="relu", input_shape=(4,)),
                                             Dense(2)]))


@pytest.fixture
def signed(compiled, tmp_path):
    path = tmp_path / "signed.lcz"
    compiled.save(path, key=KEY)
    return path


@pytest.fixture(autouse=True)
def no_key_in_the_environment(monkeypatch):
    monkeypatch.delenv(artifact.KEY_FILE_ENV, raising=False)
    monkeypatch.delenv(artifact.REQUIRE_ENV, raising=False)


def _refused(path, *words, **kwargs):
    with pytest.raises(layerc.ArtifactError) as info:
        layerc.load(path, **kwargs)
    for word in words:
        assert word in str(info.value)


def test_a_signed_artifact_loads_with_its_key(compiled, signed):
    with zipfile.ZipFile(signed) as zf:
        record = json.loads(zf.read(artifact.SIGNATURE))
    assert record["algorithm"] == "hmac-sha256" and len(record["signature"]) == 64
    x = np.ones((3, 4), np.float32)
    np.testing.assert_array_equal(layerc.load(signed, key=KEY).predict(x), compiled.predict(x))
    layerc.load(signed)  # without a key the signature goes unchecked


def test_signing_is_deterministic(compiled, signed, tmp_path):
    compiled.save(tmp_path / "again.lcz", key=KEY)
    with zipfile.ZipFile(signed) as a, zipfile.ZipFile(tmp_path / "again.lcz") as b:
        assert a.read(artifact.SIGNATURE) == b.read(artifact.SIGNATURE)


def test_an_unsigned_artifact_is_refused_when_a_key_is_given(compiled, tmp_path):
    compiled.save(tmp_path / "plain.lcz")
    _refused(tmp_path / "plain.lcz", "is not signed", key=KEY)


def test_another_key_is_refused(signed):
    _refused(signed, "signature does not match", key=OTHER)


def _rewrite(src, dst, change):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for name in zin.namelist():
            zout.writestr(name, change(name, zin.read(name)))
    return dst


def test_a_forgery_with_recomputed_hashes_fails_the_signature(signed, tmp_path):
    """graph.json edited (a Dense's activation) and its sha256 written into
    the manifest: without the key the signature cannot follow."""
    def change(name, data):
        if name == "graph.json":
            return data.replace(b'"relu"', b'"tanh"')
        return data
    tmp = _rewrite(signed, tmp_path / "t.lcz", change)
    with zipfile.ZipFile(tmp) as zf:
        digest = hashlib.sha256(zf.read("graph.json")).hexdigest()

    def rehash(name, data):
        if name != "manifest.json":
            return data
        manifest = json.loads(data)
        manifest["sha256"]["graph.json"] = digest
        return json.dumps(manifest, indent=1).encode()
    forged = _rewrite(tmp, tmp_path / "forged.lcz", rehash)
    _refused(forged, "signature does not match", key=KEY)


def test_a_damaged_signature_is_refused(signed, tmp_path):
    bad = _rewrite(signed, tmp_path / "b.lcz", lambda name, data: b"{" if
                   name == artifact.SIGNATURE else data)
    _refused(bad, "signature.json is malformed", key=KEY)


def test_unknown_parts_are_refused(signed, tmp_path):
    with zipfile.ZipFile(signed, "a") as zf:
        zf.writestr("extra.py", "print('hi')")
    _refused(signed, "holds parts a layerc artifact has not: extra.py")


def test_the_key_file_variable_signs_and_checks(compiled, tmp_path, monkeypatch):
    (tmp_path / "key").write_bytes(KEY)
    monkeypatch.setenv(artifact.KEY_FILE_ENV, str(tmp_path / "key"))
    compiled.save(tmp_path / "m.lcz")
    layerc.load(tmp_path / "m.lcz")
    _refused(tmp_path / "m.lcz", "signature does not match", key=OTHER)  # key= comes first
    monkeypatch.delenv(artifact.KEY_FILE_ENV)
    compiled.save(tmp_path / "plain.lcz")
    monkeypatch.setenv(artifact.KEY_FILE_ENV, str(tmp_path / "key"))
    _refused(tmp_path / "plain.lcz", "is not signed")


def test_a_required_signature_needs_a_key(signed, monkeypatch, tmp_path):
    monkeypatch.setenv(artifact.REQUIRE_ENV, "1")
    _refused(signed, "LAYERC_REQUIRE_SIGNATURE=1", "LAYERC_SIGNING_KEY_FILE")
    layerc.load(signed, key=KEY)
    (tmp_path / "key").write_bytes(KEY)
    monkeypatch.setenv(artifact.KEY_FILE_ENV, str(tmp_path / "key"))
    layerc.load(signed)


@pytest.mark.parametrize("value", ["yes", "true", "2"])
def test_an_unclear_requirement_is_a_config_error(signed, monkeypatch, value):
    monkeypatch.setenv(artifact.REQUIRE_ENV, value)
    with pytest.raises(layerc.ConfigError, match="LAYERC_REQUIRE_SIGNATURE"):
        layerc.load(signed)


@pytest.mark.parametrize("key, words", [
    (b"short", "at least 16 bytes"),
    ("a string key of enough length", "key must be bytes"),
])
def test_bad_keys_are_config_errors(compiled, tmp_path, key, words):
    with pytest.raises(layerc.ConfigError, match=words):
        compiled.save(tmp_path / "m.lcz", key=key)
    assert not (tmp_path / "m.lcz").exists()


def test_a_missing_key_file_is_a_config_error(signed, monkeypatch, tmp_path):
    monkeypatch.setenv(artifact.KEY_FILE_ENV, str(tmp_path / "nothing"))
    with pytest.raises(layerc.ConfigError, match="LAYERC_SIGNING_KEY_FILE=.*cannot read"):
        layerc.load(signed)

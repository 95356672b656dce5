"""Signing artifacts: the key and the HMAC-SHA256 of a manifest (which holds
every part's sha256, so the signature covers the whole artifact). The key
comes from `key=`, else from the file $LAYERC_SIGNING_KEY_FILE names;
LAYERC_REQUIRE_SIGNATURE=1 refuses to load without one. HMAC is symmetric:
whoever can check a signature can also make one."""

from __future__ import annotations

import hashlib
import hmac
import os
from typing import Any

from layerc.ir import ConfigError

KEY_FILE_ENV = "LAYERC_SIGNING_KEY_FILE"
REQUIRE_ENV = "LAYERC_REQUIRE_SIGNATURE"
MIN_KEY_BYTES = 16
ALGORITHM = "hmac-sha256"
_SIGNED = b"layerc-artifact signature v1\n"  # what a signature is of: this, then the manifest


def signing_key(key: Any = None) -> bytes | None:
    """The key to sign or check artifacts with: `key` (bytes), else the
    contents of the file $LAYERC_SIGNING_KEY_FILE names, else None."""
    if key is None:
        path = os.environ.get(KEY_FILE_ENV)
        return key_from_file(path, f"{KEY_FILE_ENV}={path}") if path else None
    if not isinstance(key, (bytes, bytearray, memoryview)):
        raise ConfigError(f"key must be bytes (e.g. read from a file), got "
                          f"{type(key).__name__}")
    return _long_enough(bytes(key), "key")


def key_from_file(path: str, what: str = "") -> bytes:
    """The signing key a file holds: all its bytes, a final newline included
    (the same file signs and checks, so that needs no rule)."""
    what = what or f"key file {path}"
    try:
        with open(path, "rb") as f:
            key = f.read()
    except OSError as err:
        raise ConfigError(f"{what}: cannot read the signing key ({err.strerror or err})") \
            from None
    return _long_enough(key, what)


def _long_enough(key: bytes, what: str) -> bytes:
    if len(key) < MIN_KEY_BYTES:
        raise ConfigError(f"{what}: a signing key needs at least {MIN_KEY_BYTES} bytes, this "
                          f"one has {len(key)} (32 random bytes are best)")
    return key


def required() -> bool:
    value = os.environ.get(REQUIRE_ENV, "")
    if value not in ("", "0", "1"):
        raise ConfigError(f"{REQUIRE_ENV}={value!r}: expected 1 (artifacts must be signed) or "
                          f"0")
    return value == "1"


def signature(manifest: bytes, key: bytes) -> str:
    return hmac.new(key, _SIGNED + manifest, hashlib.sha256).hexdigest()

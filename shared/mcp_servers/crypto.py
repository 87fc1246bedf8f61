"""Credentials at rest: AES-256-GCM with a key ring held in Secret Manager.

A sealed value is ``v1.<key id>.<base64url(nonce | ciphertext+tag)>``; the key id is the first
8 hex digits of the key's SHA-256, so rotation is adding a new key in front of the ring (it
encrypts from then on; the old ones still decrypt) and re-sealing lazily. The associated data
binds a ciphertext to its server and user, so a sealed value copied onto another document does
not open. See docs/api-decisions/mcp-servers.md for why Secret Manager and not Cloud KMS.

Keys: ``MCP_CREDENTIAL_KEYS`` (comma-separated base64 of 32 bytes), else in the cloud the secret
``MCP_CREDENTIAL_KEYS_NAME``; locally and in tests a key derived from the JWT signing key.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import os

from shared.errors import ConfigurationError
from shared.settings import get_settings

_VERSION = "v1"
_NONCE_BYTES = 12


class SealedValueError(Exception):
    """A sealed value did not open (unknown key, tampered, or bound to another document)."""


def _key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:8]


@functools.cache
def _ring() -> tuple[tuple[str, bytes], ...]:
    settings = get_settings()
    raw: str | None = None
    if settings.mcp_credential_keys is not None and settings.mcp_credential_keys.get_secret_value():
        raw = settings.mcp_credential_keys.get_secret_value()
    elif settings.environment == "cloud":
        from shared.secrets import read_secret

        raw = read_secret(settings.mcp_credential_keys_name)
    if raw is None:
        # Local and test only: a stable key derived from the JWT signing key.
        derived = hashlib.sha256(b"mcp-credentials|" + settings.jwt_signing_key().encode()).digest()
        return ((_key_id(derived), derived),)
    keys: list[tuple[str, bytes]] = []
    for part in raw.split(","):
        try:
            key = base64.b64decode(part.strip(), validate=True)
        except (binascii.Error, ValueError):
            key = b""
        if len(key) != 32:
            raise ConfigurationError(
                "MCP credential keys must be base64 of 32 bytes", details={"setting": "MCP_CREDENTIAL_KEYS"}
            )
        keys.append((_key_id(key), key))
    if not keys:
        raise ConfigurationError("no MCP credential key", details={"setting": "MCP_CREDENTIAL_KEYS"})
    return tuple(keys)


def reset_keys() -> None:
    _ring.cache_clear()


def seal(plaintext: str, *, aad: str) -> str:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    key_id, key = _ring()[0]
    nonce = os.urandom(_NONCE_BYTES)
    sealed = AESGCM(key).encrypt(nonce, plaintext.encode(), aad.encode())
    return f"{_VERSION}.{key_id}.{base64.urlsafe_b64encode(nonce + sealed).decode()}"


def open_sealed(value: str, *, aad: str) -> str:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        version, key_id, body = value.split(".", 2)
        blob = base64.urlsafe_b64decode(body)
    except (ValueError, binascii.Error):
        raise SealedValueError("malformed sealed value") from None
    key = dict(_ring()).get(key_id)
    if version != _VERSION or key is None:
        raise SealedValueError("sealed with an unknown key")
    try:
        return AESGCM(key).decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], aad.encode()).decode()
    except InvalidTag:
        raise SealedValueError("the sealed value does not open") from None


def needs_reseal(value: str) -> bool:
    """Sealed with a key that is no longer the first of the ring."""
    parts = value.split(".", 2)
    return len(parts) != 3 or parts[1] != _ring()[0][0]

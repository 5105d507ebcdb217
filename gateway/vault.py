"""Encryption at rest for tokens and shop secrets.

Format: ``v1:<kid>:<urlsafe-base64(nonce || ciphertext+tag)>`` with AES-256-GCM. The key id
says which key of the ring decrypts it, so keys can be rotated while old ciphertexts are
still read. The associated data names the row and column the value belongs to: a
ciphertext copied into another row (or column) fails to decrypt instead of leaking.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Sequence
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gateway.secret import Secret
from gateway.settings import TokenKey

VERSION: Final = "v1"
_NONCE_BYTES: Final = 12


class VaultError(Exception):
    pass


class UnknownKeyError(VaultError):
    pass


def row_aad(table: str, column: str, row_id: object) -> str:
    """The associated data binding a ciphertext to one column of one row."""
    return f"{table}.{column}:{row_id}"


class Vault:
    def __init__(self, keys: Sequence[TokenKey]) -> None:
        if not keys:
            raise VaultError("the keyring is empty")
        self._current = keys[0]
        self._ciphers = {k.kid: AESGCM(k.key) for k in keys}

    def __repr__(self) -> str:
        return f"Vault(current={self._current.kid!r}, keys={list(self._ciphers)!r})"

    @property
    def current_kid(self) -> str:
        return self._current.kid

    def encrypt(self, plaintext: str | Secret, *, aad: str) -> str:
        value = plaintext.reveal() if isinstance(plaintext, Secret) else plaintext
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._ciphers[self._current.kid].encrypt(nonce, value.encode(), aad.encode())
        body = base64.urlsafe_b64encode(nonce + sealed).decode()
        return f"{VERSION}:{self._current.kid}:{body}"

    def decrypt(self, ciphertext: str, *, aad: str) -> Secret:
        version, kid, body = _split(ciphertext)
        if version != VERSION:
            raise VaultError(f"unsupported ciphertext version {version!r}")
        cipher = self._ciphers.get(kid)
        if cipher is None:
            raise UnknownKeyError(
                f"ciphertext was made with key {kid!r}, which is not in GATEWAY_TOKEN_KEYS"
            )
        try:
            raw = base64.urlsafe_b64decode(body.encode())
            plain = cipher.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], aad.encode())
        except (InvalidTag, binascii.Error, ValueError) as exc:
            raise VaultError(f"ciphertext does not decrypt for {aad.split(':')[0]}") from exc
        return Secret(plain.decode())

    def is_current(self, ciphertext: str) -> bool:
        """Whether the ciphertext already uses the newest key (so rotation can skip it)."""
        version, kid, _ = _split(ciphertext)
        return version == VERSION and kid == self._current.kid


def _split(ciphertext: str) -> tuple[str, str, str]:
    parts = ciphertext.split(":", 2)
    if len(parts) != 3:
        raise VaultError("malformed ciphertext")
    return parts[0], parts[1], parts[2]

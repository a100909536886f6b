"""AES-256-GCM under a keyring of named keys, so keys can rotate without losing data (FIT-120).

Every sealed value records the id of the key that sealed it. The keyring's first key seals new
values; the others only open old ones until :meth:`KeyringCipher.rotate` has re-sealed them.
A key spec (the ``CREDENTIAL_KEYS`` setting) is ``"kid1:<base64 32 bytes>,kid0:<...>"``,
newest first; a malformed one raises ``ConfigurationError``.

Blob layout: one version byte, a random 96-bit nonce, then the GCM ciphertext and tag. The
associated data binds the blob to its key id and to the caller's ``context``, so a sealed card
token cannot be replayed as another organisation's provider password.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import re
import secrets
from collections.abc import Sequence
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from fitdata_adapters.private_fs import make_private_dir
from fitdata_core.errors import ConfigurationError, InvalidInput
from fitdata_core.ports.infrastructure import Ciphertext

__all__ = ["EMBEDDED_KEY_FILE", "KeyringCipher"]

EMBEDDED_KEY_FILE = "credential-keys"
"""The file, inside the embedded data directory, that holds the development key spec."""

_VERSION = b"\x01"
_NONCE_BYTES = 12
_KEY_BYTES = 32
_TAG_BYTES = 16
_KEY_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def _undecryptable(key_id: str, reason: str) -> InvalidInput:
    return InvalidInput(
        f"Stored credentials cannot be decrypted ({reason}; sealed with key {key_id!r}). "
        "Re-enter the credentials, or restore the old key to the keyring.",
        code="UNDECRYPTABLE",
    )


def _bad_spec(reason: str) -> ConfigurationError:
    # Names the problem, never the key material.
    return ConfigurationError(f"CREDENTIAL_KEYS is invalid: {reason}")


def _decode_key(key_id: str, text: str) -> bytes:
    try:
        # With altchars, both the URL-safe and the standard alphabet decode.
        key = base64.b64decode(text.strip(), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _bad_spec(f"key {key_id!r} is not valid base64") from exc
    if len(key) != _KEY_BYTES:
        raise _bad_spec(f"key {key_id!r} must decode to {_KEY_BYTES} bytes, not {len(key)}")
    return key


class KeyringCipher:
    """A :class:`~fitdata_core.ports.infrastructure.CredentialCipher` with rotating keys."""

    __slots__ = ("_current", "_keys")

    def __init__(self, keys: Sequence[tuple[str, bytes]]) -> None:
        """``keys`` as ``(key_id, 32 raw bytes)``, the current (sealing) key first."""
        if not keys:
            raise _bad_spec("the keyring needs at least one key")
        self._keys: dict[str, AESGCM] = {}
        for key_id, key in keys:
            if not _KEY_ID.fullmatch(key_id):
                raise _bad_spec(f"key id {key_id!r} must be 1-64 of A-Z a-z 0-9 _ . -")
            if key_id in self._keys:
                raise _bad_spec(f"key id {key_id!r} appears twice")
            if len(key) != _KEY_BYTES:
                raise _bad_spec(f"key {key_id!r} must be {_KEY_BYTES} bytes")
            self._keys[key_id] = AESGCM(key)
        self._current = keys[0][0]

    @classmethod
    def from_spec(cls, spec: str) -> KeyringCipher:
        """Parse ``"kid1:<base64>,kid0:<base64>"`` (current key first)."""
        keys: list[tuple[str, bytes]] = []
        for entry in spec.split(","):
            if not entry.strip():
                continue
            key_id, sep, encoded = entry.strip().partition(":")
            if not sep:
                raise _bad_spec("each entry must be <key id>:<base64 key>")
            keys.append((key_id, _decode_key(key_id, encoded)))
        return cls(keys)

    @staticmethod
    def generate_spec(key_id: str | None = None) -> str:
        """A one-key spec with a fresh random key. Prepend it to an existing spec to rotate."""
        key_id = key_id or f"k{secrets.token_hex(4)}"
        if not _KEY_ID.fullmatch(key_id):
            raise _bad_spec(f"key id {key_id!r} must be 1-64 of A-Z a-z 0-9 _ . -")
        return f"{key_id}:{base64.b64encode(AESGCM.generate_key(bit_length=256)).decode()}"

    @classmethod
    def for_embedded(cls, data_dir: Path) -> KeyringCipher:
        """The development keyring: read from ``data_dir``, created (mode 0600) on first use.

        Persisting the key keeps embedded mode's stored credentials readable across restarts.
        Several processes may start at once: the file is published with a hard link, which
        fails rather than overwrites, so they all end up with the same key.
        """
        make_private_dir(data_dir)
        path = data_dir / EMBEDDED_KEY_FILE
        if not path.exists():
            temporary = data_dir / f".{EMBEDDED_KEY_FILE}.{secrets.token_hex(8)}"
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                with os.fdopen(fd, "w", encoding="ascii") as file:
                    file.write(cls.generate_spec("embedded1") + "\n")
                    file.flush()
                    os.fsync(file.fileno())
                # If another process won the race, its key is the one everybody uses.
                with contextlib.suppress(FileExistsError):
                    os.link(temporary, path)
            finally:
                temporary.unlink(missing_ok=True)
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)  # a key readable by others is no secret; tighten it
        try:
            return cls.from_spec(path.read_text(encoding="ascii"))
        except (ConfigurationError, UnicodeDecodeError) as exc:
            raise ConfigurationError(
                f"The embedded key file {str(path)!r} is damaged. Restore it from a backup, or "
                "delete it and re-enter stored credentials."
            ) from exc

    @property
    def current_key_id(self) -> str:
        """The id of the key that seals new values."""
        return self._current

    @property
    def key_ids(self) -> tuple[str, ...]:
        """Every key id in the keyring, current first."""
        return tuple(self._keys)

    def encrypt(self, plaintext: bytes, *, context: str) -> Ciphertext:
        """Seal ``plaintext`` under the current key, bound to ``context``."""
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._keys[self._current].encrypt(
            nonce, plaintext, self._associated(self._current, context)
        )
        return Ciphertext(key_id=self._current, blob=_VERSION + nonce + sealed)

    def decrypt(self, sealed: Ciphertext, *, context: str) -> bytes:
        """Open ``sealed``; ``InvalidInput(code="UNDECRYPTABLE")`` if it cannot be opened."""
        aead = self._keys.get(sealed.key_id)
        if aead is None:
            raise _undecryptable(sealed.key_id, "that key is not in the keyring")
        blob = sealed.blob
        if blob[:1] != _VERSION or len(blob) < 1 + _NONCE_BYTES + _TAG_BYTES:
            raise _undecryptable(sealed.key_id, "the stored value is not in a known format")
        nonce, body = blob[1 : 1 + _NONCE_BYTES], blob[1 + _NONCE_BYTES :]
        try:
            return aead.decrypt(nonce, body, self._associated(sealed.key_id, context))
        except InvalidTag as exc:
            raise _undecryptable(
                sealed.key_id, "the value was altered or sealed for another use"
            ) from exc

    def needs_rotation(self, sealed: Ciphertext) -> bool:
        """True when ``sealed`` was not sealed by the current key."""
        return sealed.key_id != self._current

    def rotate(self, sealed: Ciphertext, context: str) -> Ciphertext:
        """``sealed`` re-sealed under the current key (unchanged if it already is).

        Run over stored rows after adding a new key; once none needs rotation, the old key
        can leave the keyring.
        """
        plaintext = self.decrypt(sealed, context=context)
        if not self.needs_rotation(sealed):
            return sealed
        return self.encrypt(plaintext, context=context)

    @staticmethod
    def _associated(key_id: str, context: str) -> bytes:
        return b"fitdata-credential\x00" + key_id.encode() + b"\x00" + context.encode()

    def __repr__(self) -> str:
        return f"KeyringCipher(current={self._current!r}, key_ids={list(self._keys)!r})"

    __str__ = __repr__

"""Object storage in a local folder, with HMAC-signed download links served by the HTTP app.

The embedded default. Objects are written to a hidden staging folder under the root and
renamed into place once complete, so a reader never sees half an object. Files are 0600 and
folders 0700 (exports hold members' personal data). A writer killed mid-object leaves its
``.part`` file in the staging folder; :meth:`LocalFolderStorage.remove_abandoned_uploads`
(run by the stale-export sweep) deletes those. A signed URL is
``{public_url}/files/{key}?expires=<unix>&sig=<hmac>[&name=<download name>]``; the HTTP app
checks it with :meth:`LocalFolderStorage.verify_download` before streaming the file.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import secrets
from collections.abc import AsyncIterable, AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import quote, urlencode

from fitdata_adapters.private_fs import make_private_dir, open_private
from fitdata_adapters.storage.keys import validate_key
from fitdata_core.errors import ConfigurationError, InvalidInput, NotFound, StorageUnavailable
from fitdata_core.ports.clock import Clock
from fitdata_core.ports.infrastructure import StoredObject

__all__ = ["LocalFolderStorage", "sign_download"]

_STAGING = ".staging"  # keys cannot have dot-first segments, so this never collides
_READ_CHUNK = 64 * 1024


def sign_download(signing_key: bytes, key: str, expires: int, download_name: str | None) -> str:
    """The hex HMAC-SHA256 that authorises downloading ``key`` until ``expires`` (unix time)."""
    message = "\n".join((key, str(expires), download_name or "")).encode()
    return hmac.new(signing_key, message, hashlib.sha256).hexdigest()


class LocalFolderStorage:
    """An :class:`~fitdata_core.ports.infrastructure.ObjectStorage` on the local file system."""

    def __init__(self, root: Path, *, public_url: str, signing_key: bytes, clock: Clock) -> None:
        if len(signing_key) < 16:
            raise ConfigurationError("The download signing key must be at least 16 bytes")
        self._root = root
        self._public_url = public_url.rstrip("/")
        self._signing_key = signing_key
        self._clock = clock

    def __repr__(self) -> str:
        return f"LocalFolderStorage(root={str(self._root)!r}, public_url={self._public_url!r})"

    @property
    def root(self) -> Path:
        return self._root

    def path_for(self, key: str) -> Path:
        """The file that holds ``key`` (validated, so always inside the root)."""
        return self._root.joinpath(*validate_key(key).split("/"))

    async def put_stream(
        self, key: str, chunks: AsyncIterable[bytes], *, content_type: str
    ) -> StoredObject:
        target = self.path_for(key)
        staging = self._root / _STAGING
        try:
            make_private_dir(staging)
            partial = staging / f"{secrets.token_hex(12)}.part"
            file = os.fdopen(open_private(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL), "wb")
        except OSError as exc:
            raise self._unavailable("write", key, exc) from exc
        size = 0
        try:
            with file:
                async for chunk in chunks:
                    # Writing a chunk into the page cache is quicker than a thread hop would be.
                    try:
                        file.write(chunk)
                    except OSError as exc:
                        raise self._unavailable("write", key, exc) from exc
                    size += len(chunk)
            try:
                await asyncio.to_thread(_publish, partial, target)
            except OSError as exc:
                raise self._unavailable("write", key, exc) from exc
        except BaseException:
            # Whatever failed (the source, the disk, a cancellation) leaves no object behind.
            partial.unlink(missing_ok=True)
            raise
        return StoredObject(key=key, size=size)

    async def read(self, key: str) -> AsyncIterator[bytes]:
        path = self.path_for(key)
        try:
            file = path.open("rb")
        except FileNotFoundError:
            raise NotFound(f"No stored object {key!r}") from None
        except OSError as exc:
            raise self._unavailable("read", key, exc) from exc
        with file:
            while True:
                try:
                    chunk = file.read(_READ_CHUNK)
                except OSError as exc:
                    raise self._unavailable("read", key, exc) from exc
                if not chunk:
                    return
                yield chunk

    async def exists(self, key: str) -> bool:
        return self.path_for(key).is_file()

    async def delete(self, key: str) -> None:
        try:
            self.path_for(key).unlink(missing_ok=True)
        except OSError as exc:
            raise self._unavailable("delete", key, exc) from exc

    async def remove_abandoned_uploads(self, *, older_than: datetime) -> int:
        """Delete partial files in the staging folder last written before ``older_than``.

        A writer that is killed (not merely failing: that cleans up) leaves its ``.part``
        file behind. One still being written is younger: every chunk refreshes its mtime.
        """
        staging = self._root / _STAGING
        cutoff = older_than.timestamp()
        try:
            return await asyncio.to_thread(_remove_parts_before, staging, cutoff)
        except OSError as exc:
            raise self._unavailable("clean up", _STAGING, exc) from exc

    async def signed_url(
        self, key: str, *, expires_in: timedelta, download_name: str | None = None
    ) -> str:
        validate_key(key)
        expires = int((self._clock.now() + expires_in).timestamp())
        signature = sign_download(self._signing_key, key, expires, download_name)
        query = {"expires": str(expires), "sig": signature}
        if download_name is not None:
            query["name"] = download_name
        return f"{self._public_url}/files/{quote(key)}?{urlencode(query, quote_via=quote)}"

    def verify_download(
        self,
        key: str,
        expires: int | str,
        sig: str,
        now: datetime,
        *,
        download_name: str | None = None,
    ) -> bool:
        """True when ``sig`` is this storage's signature for ``key`` and it has not expired.

        Pure (no file access) and constant-time in the signature comparison. ``expires`` may be
        the raw query-string value; anything malformed is simply refused.
        """
        try:
            validate_key(key)
            expires_at = int(expires)
        except (InvalidInput, ValueError):
            return False
        expected = sign_download(self._signing_key, key, expires_at, download_name)
        signature_ok = hmac.compare_digest(expected.encode(), sig.encode())
        return signature_ok and now.timestamp() <= expires_at

    @staticmethod
    def _unavailable(operation: str, key: str, exc: OSError) -> StorageUnavailable:
        # The OS error's text names the path, which is safe; keep it short for the message.
        return StorageUnavailable(
            f"Local storage could not {operation} {key!r}: {exc.strerror or type(exc).__name__}"
        )


def _publish(partial: Path, target: Path) -> None:
    """Make a fully written file visible under its key: flush to disk, then rename atomically."""
    with partial.open("rb+") as file:
        os.fsync(file.fileno())
    make_private_dir(target.parent)
    partial.replace(target)


def _remove_parts_before(staging: Path, cutoff: float) -> int:
    removed = 0
    if not staging.is_dir():
        return 0
    for part in staging.glob("*.part"):
        try:
            if part.stat().st_mtime < cutoff:
                part.unlink()
                removed += 1
        except FileNotFoundError:  # its writer finished (or another sweep won) meanwhile
            continue
    return removed

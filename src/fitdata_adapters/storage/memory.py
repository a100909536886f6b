"""Object storage in a dict: for unit tests and as the reference for the contract suite."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from datetime import datetime, timedelta
from urllib.parse import parse_qs, quote, urlsplit

import attrs

from fitdata_adapters.clock import SystemClock
from fitdata_adapters.storage.keys import validate_key
from fitdata_core.errors import NotFound, PermissionDenied
from fitdata_core.ports.clock import Clock
from fitdata_core.ports.infrastructure import StoredObject

__all__ = ["MemoryStorage"]


@attrs.frozen
class _Entry:
    data: bytes
    content_type: str


class MemoryStorage:
    """An :class:`~fitdata_core.ports.infrastructure.ObjectStorage` held in memory.

    Signed URLs look like ``memory://<key>?expires=<unix>``; :meth:`fetch_signed` resolves
    one, so tests can follow the link an email carried.
    """

    def __init__(self, *, clock: Clock | None = None, read_chunk_size: int = 64 * 1024) -> None:
        self._objects: dict[str, _Entry] = {}
        self._clock: Clock = clock or SystemClock()
        self._chunk = read_chunk_size

    async def put_stream(
        self, key: str, chunks: AsyncIterable[bytes], *, content_type: str
    ) -> StoredObject:
        validate_key(key)
        parts = [bytes(chunk) async for chunk in chunks]
        data = b"".join(parts)  # stored only once the whole stream has arrived
        self._objects[key] = _Entry(data, content_type)
        return StoredObject(key=key, size=len(data))

    async def read(self, key: str) -> AsyncIterator[bytes]:
        data = self._entry(key).data
        for start in range(0, len(data), self._chunk):
            yield data[start : start + self._chunk]

    async def exists(self, key: str) -> bool:
        return validate_key(key) in self._objects

    async def delete(self, key: str) -> None:
        self._objects.pop(validate_key(key), None)

    async def signed_url(
        self, key: str, *, expires_in: timedelta, download_name: str | None = None
    ) -> str:
        validate_key(key)
        expires = int((self._clock.now() + expires_in).timestamp())
        url = f"memory://{key}?expires={expires}"
        if download_name is not None:
            url += f"&name={quote(download_name, safe='')}"
        return url

    async def remove_abandoned_uploads(self, *, older_than: datetime) -> int:
        # An object appears whole or not at all: nothing partial is ever kept.
        return 0

    def fetch_signed(self, url: str) -> bytes:
        """The bytes a signed URL points at; ``PermissionDenied`` once it has expired."""
        parts = urlsplit(url)
        key = parts.netloc + parts.path
        expires = int(parse_qs(parts.query)["expires"][0])
        if self._clock.now().timestamp() > expires:
            raise PermissionDenied("This download link has expired")
        return self._entry(key).data

    def content_type(self, key: str) -> str:
        """The content type an object was stored with."""
        return self._entry(key).content_type

    @property
    def keys(self) -> list[str]:
        """Every stored key, sorted."""
        return sorted(self._objects)

    def _entry(self, key: str) -> _Entry:
        try:
            return self._objects[validate_key(key)]
        except KeyError:
            raise NotFound(f"No stored object {key!r}") from None

"""Ports to infrastructure: object storage, mail, queue, rate limiting, secrets, errors."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

import attrs

__all__ = [
    "Ciphertext",
    "CredentialCipher",
    "EmailMessage",
    "ErrorReporter",
    "JobMessage",
    "JobQueue",
    "Mailer",
    "ObjectStorage",
    "RateLimitResult",
    "RateLimiter",
    "StoredObject",
]


@attrs.frozen
class StoredObject:
    """What object storage holds under a key: its size and content type."""

    key: str
    size: int


class ObjectStorage(Protocol):
    """A bucket of objects addressed by key (S3, R2, a local folder)."""

    async def put_stream(
        self, key: str, chunks: AsyncIterable[bytes], *, content_type: str
    ) -> StoredObject:
        """Store the object from a stream. Nothing is visible under ``key`` unless it all arrives:
        a failure part-way leaves no object behind. Raises ``StorageUnavailable``."""
        ...

    def read(self, key: str) -> AsyncIterator[bytes]:
        """Stream an object's bytes. Raises ``NotFound`` or ``StorageUnavailable``."""
        ...

    async def exists(self, key: str) -> bool: ...

    async def delete(self, key: str) -> None: ...

    async def signed_url(
        self, key: str, *, expires_in: timedelta, download_name: str | None = None
    ) -> str:
        """A link anyone holding it may use to download the object until it expires."""
        ...

    async def remove_abandoned_uploads(self, *, older_than: datetime) -> int:
        """Remove what writers that died mid-object left behind (partial files, unfinished
        multipart uploads) begun or last written before ``older_than``; younger ones may
        belong to a writer still at work and stay. Returns how many were removed. Raises
        ``StorageUnavailable``."""
        ...


@attrs.frozen
class EmailMessage:
    """A plain-text email to one recipient."""

    to: str
    subject: str
    text: str
    html: str | None = None


class Mailer(Protocol):
    """Sends email (SMTP in production, ``.eml`` files embedded, memory in tests)."""

    async def send(self, message: EmailMessage) -> None:
        """Deliver one email. Raises ``MailUnavailable``."""
        ...


@attrs.frozen
class Ciphertext:
    """Sealed bytes plus the id of the key that sealed them (so keys can rotate)."""

    key_id: str
    blob: bytes


class CredentialCipher(Protocol):
    """Authenticated encryption for secrets at rest (card tokens, provider credentials).

    A keyring of named keys: the current one seals, every configured one opens what it
    sealed, so keys rotate without losing data.
    """

    @property
    def current_key_id(self) -> str:
        """The id of the key that seals new values."""
        ...

    @property
    def key_ids(self) -> tuple[str, ...]:
        """Every configured key id, the current one first."""
        ...

    def encrypt(self, plaintext: bytes, *, context: str) -> Ciphertext:
        """Seal ``plaintext``; ``context`` binds it to its use (e.g. ``"card-token:<org>"``)."""
        ...

    def decrypt(self, sealed: Ciphertext, *, context: str) -> bytes:
        """Open sealed bytes. Raises ``InvalidInput`` with code ``UNDECRYPTABLE`` if no known
        key opens them or the context differs."""
        ...


@attrs.frozen
class JobMessage:
    """A unit of background work: an actor name and primitive arguments."""

    id: str
    actor: str
    args: Mapping[str, str | int | None]
    created_at: datetime


class JobQueue(Protocol):
    """Hands job messages to workers (the outbox relay is its only caller)."""

    async def send(self, message: JobMessage) -> None:
        """Hand a job to the broker. Raises ``QueueUnavailable``."""
        ...


@attrs.frozen
class RateLimitResult:
    """The verdict of a rate-limit hit, and when to retry if refused."""

    allowed: bool
    remaining: int
    retry_after: int


class RateLimiter(Protocol):
    """A sliding-window counter per key, shared by every process that serves the key."""

    async def hit(self, key: str, *, limit: int, window_seconds: int) -> RateLimitResult:
        """Count one request under ``key``; refuse once ``limit`` is reached in the window."""
        ...


class ErrorReporter(Protocol):
    """Where unexpected errors and operational alerts go (Sentry or a log)."""

    def capture_exception(self, exc: BaseException, **context: Any) -> None: ...

    def capture_message(self, message: str, *, level: str = "warning", **context: Any) -> None: ...

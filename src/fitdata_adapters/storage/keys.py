"""Object keys every adapter accepts, and the download header they share."""

from __future__ import annotations

import re
from urllib.parse import quote

from fitdata_core.errors import InvalidInput

__all__ = ["MAX_KEY_BYTES", "attachment_disposition", "validate_key"]

MAX_KEY_BYTES = 1024
# S3's "safe" characters. Anything else (backslashes, control characters, spaces) is refused,
# so one key names the same object in memory, on disk and in a bucket.
_SEGMENT = re.compile(r"[A-Za-z0-9!_.*'()\-]+")


def validate_key(key: str) -> str:
    """``key`` if it is a safe relative object path like ``exports/<org>/<job>.csv``.

    Refuses (``InvalidInput``) empty or over-long keys, absolute paths, empty, ``.``/``..`` or
    hidden (dot-first) segments, and characters outside S3's safe set: together these make
    path traversal out of a local storage root impossible.
    """
    if not key or len(key.encode()) > MAX_KEY_BYTES:
        raise InvalidInput("Object key must be 1 to 1024 bytes", field="key")
    for segment in key.split("/"):
        if not _SEGMENT.fullmatch(segment) or segment.startswith("."):
            raise InvalidInput(f"Object key is not allowed: {key!r}", field="key")
    return key


def attachment_disposition(filename: str) -> str:
    """A ``Content-Disposition`` value that downloads as ``filename`` (RFC 6266, UTF-8 safe)."""
    fallback = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename
    )
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"

"""Keyset paging: the opaque ``cursor`` a client passes back to get the next page.

A cursor is the sort key of the last item of a page (for members ``(email, membership id)``,
for jobs, leads and billing transactions ``(created_at, id)``, for the billing timeline the
entry's position) as base64url JSON. The next page is "the items after that key", which the
database answers from an index however deep in the list it is, where ``OFFSET`` reads and
throws away every row before it.

A cursor is not signed: a client that edits one can only move its own position in a list it
may read anyway. Anything that does not decode to a key of the right shape is a 400 naming
``cursor`` (never a 500 from the database).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

import attrs

from fitdata_core.errors import InvalidInput
from fitdata_core.ports.repositories import Page

__all__ = [
    "CURSOR_FIELD",
    "MAX_CURSOR_LENGTH",
    "decode_cursor",
    "decode_position_cursor",
    "decode_time_cursor",
    "encode_cursor",
    "encode_position_cursor",
    "encode_time_cursor",
    "with_next_cursor",
]

T = TypeVar("T")

CURSOR_FIELD = "cursor"
# Far longer than any key we issue (an email is at most 320 characters), short enough that
# nobody makes the server decode a megabyte.
MAX_CURSOR_LENGTH = 1024


def encode_cursor(*key: str) -> str:
    """The opaque cursor for the sort key ``key`` (strings only)."""
    raw = json.dumps(list(key), separators=(",", ":"), ensure_ascii=True).encode("ascii")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _invalid() -> InvalidInput:
    return InvalidInput(
        "cursor is not one this API issued: pass meta.nextCursor of the previous page unchanged.",
        field=CURSOR_FIELD,
    )


def decode_cursor(cursor: str, arity: int) -> tuple[str, ...]:
    """The sort key in ``cursor``: ``arity`` strings; ``InvalidInput`` (400) otherwise."""
    if not cursor or len(cursor) > MAX_CURSOR_LENGTH:
        raise _invalid()
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = json.loads(raw.decode("ascii"))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise _invalid() from None
    if (
        not isinstance(key, list)
        or len(key) != arity
        # NUL cannot be stored in Postgres text: such a key came from no row of ours.
        or not all(isinstance(part, str) and "\x00" not in part for part in key)
    ):
        raise _invalid()
    return tuple(key)


def encode_time_cursor(at: datetime, item_id: str) -> str:
    """The cursor of an item sorted by ``(created_at, id)``."""
    return encode_cursor(at.isoformat(), item_id)


def decode_time_cursor(cursor: str) -> tuple[datetime, str]:
    """The ``(created_at, id)`` in a cursor from :func:`encode_time_cursor`; 400 otherwise."""
    at_text, item_id = decode_cursor(cursor, 2)
    try:
        at = datetime.fromisoformat(at_text)
    except ValueError:
        raise _invalid() from None
    if at.tzinfo is None:
        raise _invalid()
    return at, item_id


def encode_position_cursor(position: int) -> str:
    """The cursor of an item sorted by its position in an append-only list."""
    return encode_cursor(str(position))


# Positions are 64-bit row ids: a longer number came from no row of ours (and would overflow
# the database's integer before it could match one).
_MAX_POSITION_DIGITS = 18


def decode_position_cursor(cursor: str) -> int:
    """The position in a cursor from :func:`encode_position_cursor`; 400 otherwise."""
    (text,) = decode_cursor(cursor, 1)
    if not (text.isascii() and text.isdigit()) or len(text) > _MAX_POSITION_DIGITS:
        raise _invalid()
    return int(text)


def with_next_cursor(page: Page[T], limit: int, cursor_of: Callable[[T], str]) -> Page[T]:
    """``page`` (fetched with ``limit + 1`` items) cut to ``limit`` items, with the cursor of
    its last item as ``next_cursor`` when the extra item showed there is a next page.

    Asking for one item more is how a page knows it is not the last without a count.
    """
    items = list(page.items)
    more = len(items) > limit
    items = items[:limit]
    return attrs.evolve(
        page,
        items=items,
        limit=limit,
        next_cursor=cursor_of(items[-1]) if more and items else None,
    )

"""Success bodies: ``{"data": ...}``, and ``{"data": [...], "meta": {...}}`` for pages.

Handlers return ``ok(value)``, ``created(value)`` or ``paged(page, view)``; values go through
the one converter, so attrs objects come out with camelCase keys, ISO-8601 UTC datetimes,
decimals as strings and enums as values.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import msgspec
from litestar import Response

from fitdata_adapters.converter import unstructure
from fitdata_core.ports.repositories import Page, RenderedMember

__all__ = ["Envelope", "created", "ok", "paged", "paged_rendered"]

T = TypeVar("T")

Envelope = Response[dict[str, Any]]
"""The return annotation of every JSON handler."""


def ok(value: Any, *, status_code: int = 200) -> Envelope:
    """``{"data": value}``."""
    return Response(content={"data": unstructure(value)}, status_code=status_code)


def created(value: Any) -> Envelope:
    """``{"data": value}`` with 201 Created."""
    return ok(value, status_code=201)


def paged(page: Page[T], view: Callable[[T], Any] | None = None) -> Envelope:
    """``{"data": [...], "meta": {"total", "limit", "offset", "nextCursor"}}``; ``view``
    shapes each item. ``total`` and ``offset`` are ``null`` on a page asked for by cursor;
    ``nextCursor`` is ``null`` on the last page."""
    items = [view(item) for item in page.items] if view is not None else list(page.items)
    return Response(
        content={
            "data": unstructure(items),
            "meta": {
                "total": page.total,
                "limit": page.limit,
                "offset": page.offset,
                "nextCursor": page.next_cursor,
            },
        }
    )


def paged_rendered(page: Page[RenderedMember]) -> Envelope:
    """:func:`paged` for a list whose items the store already wrote as JSON objects
    (:class:`~fitdata_core.ports.MemberJsonPages`): they are joined into the ``data`` array
    as they are, never parsed or encoded again."""
    data = "[" + ",".join(item.json for item in page.items) + "]"
    return Response(
        content={
            "data": msgspec.Raw(data.encode()),
            "meta": {
                "total": page.total,
                "limit": page.limit,
                "offset": page.offset,
                "nextCursor": page.next_cursor,
            },
        }
    )

"""A member written as a JSON object of its attributes, in a shape the caller names.

The member list sends 50 members a page. Built in Python, each member was three domain
objects, a dict and a converter pass, the largest share of the request's CPU; a store that
can write JSON itself (Postgres) writes each member's object in the same statement that
reads it (:class:`~fitdata_core.ports.MemberJsonPages`), and the others render the rows with
:func:`render_member_json`. Both follow one :class:`JsonShape` and the same rules, so the
two give the same JSON value for the same member:

- a string attribute as a JSON string, a missing value as ``null``;
- an enum (role, status) as its value;
- a timestamp as ISO 8601 in UTC ending in ``Z``, with ``.ffffff`` only when there are
  microseconds (:func:`json_time`, what every JSON surface of the API writes);
- a nested shape whose attributes all belong to one part of the member (``profile``) as an
  object, or ``null`` for a member without that part.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import Enum

from fitdata_core.model.organizations import MemberRow
from fitdata_core.ports.repositories import JsonShape, Page, RenderedMember

__all__ = ["json_time", "render_member_json", "rendered_page"]


def json_time(value: datetime) -> str:
    """A timestamp as the API writes it: ``2026-03-01T08:00:00Z`` (``.ffffff`` before the
    ``Z`` when there are microseconds)."""
    if value.tzinfo is None:
        # The domain only holds aware datetimes; a naive one is a bug, not something to guess.
        raise ValueError("cannot serialise a naive datetime")
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _value(value: object) -> object:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return json_time(value)
    return value


def _object(row: MemberRow, shape: JsonShape) -> dict[str, object]:
    found: dict[str, object] = {}
    for key, path in shape.fields:
        if isinstance(path, JsonShape):
            found[key] = None if getattr(row, path.part) is None else _object(row, path)
        else:
            part, name = path.split(".", 1)
            found[key] = _value(getattr(getattr(row, part), name))
    return found


def render_member_json(row: MemberRow, shape: JsonShape) -> str:
    """``row`` as the JSON object ``shape`` names (compact, non-ASCII left as it is)."""
    return json.dumps(_object(row, shape), ensure_ascii=False, separators=(",", ":"))


def rendered_page(page: Page[MemberRow], shape: JsonShape) -> Page[RenderedMember]:
    """A page of members rendered one by one in Python (the stores that cannot write JSON)."""
    return Page(
        items=[
            RenderedMember(
                render_member_json(row, shape), row.user.email_normalized, row.membership.id
            )
            for row in page.items
        ],
        total=page.total,
        limit=page.limit,
        offset=page.offset,
        next_cursor=page.next_cursor,
    )

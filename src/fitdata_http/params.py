"""Request parameters every controller shares: the org in the path, paging, enum filters,
and JSON bodies structured through the one converter.

Everything a client sends is checked here or in the controller before it reaches a use case
or the database, so bad input is a 400 naming the field: ids that cannot exist, strings
longer than their column or holding NUL characters (Postgres refuses those outright),
numbers beyond their column's range.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from enum import Enum
from typing import Annotated, Any, TypeVar

from litestar.di import NamedDependency
from litestar.params import Parameter, QueryParameter

from fitdata_adapters.converter import FieldError, InvalidFields, structure
from fitdata_core.errors import InvalidInput
from fitdata_core.paging import MAX_CURSOR_LENGTH
from fitdata_core.services import Actor
from fitdata_core.usecases.members import MAX_PAGE_SIZE

__all__ = [
    "LOW_PROFILE_ID_PATTERN",
    "MAX_LOW_PROFILE_ID_LENGTH",
    "MAX_OFFSET",
    "ORG_ID_PARAM",
    "ORG_PATH",
    "Cursor",
    "JobIdPath",
    "Limit",
    "Offset",
    "is_low_profile_id",
    "parse_enum_values",
    "parse_low_profile_id",
    "parse_org_id",
    "parse_uuid",
    "provide_org_id",
    "read_body",
]

E = TypeVar("E", bound=Enum)
T = TypeVar("T")

# Org-scoped controllers use ``path = ORG_PATH + "/things"`` and take ``org_id: str`` (the
# validated id, from the app-wide ``org_id`` dependency) rather than the raw path value.
ORG_ID_PARAM = "orgId"
ORG_PATH = "/organizations/{orgId:str}"

Limit = Annotated[
    int,
    QueryParameter(ge=1, le=MAX_PAGE_SIZE, description=f"Page size, 1 to {MAX_PAGE_SIZE}."),
]
# Far beyond any real listing, and well inside the 64-bit OFFSET both databases take.
MAX_OFFSET = 1_000_000_000
Offset = Annotated[
    int,
    QueryParameter(ge=0, le=MAX_OFFSET, description=f"How many items to skip, 0 to {MAX_OFFSET}."),
]
Cursor = Annotated[
    str | None,
    QueryParameter(
        max_length=MAX_CURSOR_LENGTH,
        description="The previous page's meta.nextCursor: the page after it (keyset paging; "
        "no total is counted). Not together with offset.",
    ),
]

# Cardcom's LowProfile ids are GUIDs; letters, digits, "-" and "_" up to the column's 100
# characters also admit other test gateways' ids. Anything else cannot have been issued.
LOW_PROFILE_ID_FIELD = "lowProfileId"
MAX_LOW_PROFILE_ID_LENGTH = 100
LOW_PROFILE_ID_PATTERN = rf"^[A-Za-z0-9_-]{{1,{MAX_LOW_PROFILE_ID_LENGTH}}}$"
_LOW_PROFILE_ID = re.compile(LOW_PROFILE_ID_PATTERN)


def _shown(value: str, limit: int = 64) -> str:
    """A client's value quoted back safely: cut short, control characters escaped."""
    cut = value[:limit] + ("..." if len(value) > limit else "")
    return cut.encode("unicode_escape").decode("ascii")


def parse_uuid(value: str, field: str) -> str:
    """The canonical (lower-case) form of a UUID id; 400 naming ``field`` otherwise."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise InvalidInput(f'{field} must be a UUID, got "{_shown(value)}".', field=field) from None


def parse_org_id(value: str) -> str:
    """The canonical (lower-case) form of an organization id; 400 naming orgId if not a UUID."""
    return parse_uuid(value, ORG_ID_PARAM)


def is_low_profile_id(value: str) -> bool:
    """Whether ``value`` could be a LowProfile id we issued (see :func:`parse_low_profile_id`)."""
    return _LOW_PROFILE_ID.fullmatch(value) is not None


def parse_low_profile_id(value: str, field: str = LOW_PROFILE_ID_FIELD) -> str:
    """A LowProfile id from a client, trimmed; 400 naming ``field`` when it is blank or could
    not have been issued (so the client hears what to send, not "not found")."""
    trimmed = value.strip()
    if not trimmed:
        raise InvalidInput(
            f"{field} is required: send the LowProfile id from the checkout's return URL "
            "(its lowprofilecode parameter, a UUID such as 6f1c2a4e-...).",
            field=field,
        )
    if not is_low_profile_id(trimmed):
        raise InvalidInput(
            f"{field} must be the LowProfile id from the checkout's return URL (a UUID of "
            f'letters, digits and dashes, at most 100 characters), got "{_shown(trimmed)}".',
            field=field,
        )
    return trimmed


JobIdPath = Annotated[
    str, Parameter(schema_extra={"format": "uuid"}, description="The job's id (a UUID).")
]
"""A ``jobId`` path parameter as documented; :func:`parse_uuid` (field ``jobId``) enforces it:
anything but a UUID is a mistyped link, told as such (400), not a 404."""

OrgIdPath = Annotated[
    str, Parameter(schema_extra={"format": "uuid"}, description="The organization's id (a UUID).")
]
"""The ``orgId`` path parameter as documented; :func:`parse_org_id` enforces it (400 naming
``orgId``, as the API always answered)."""


async def provide_org_id(orgId: OrgIdPath, actor: NamedDependency[Actor]) -> str:
    """Litestar dependency: the validated ``orgId`` path parameter as ``org_id``.

    It depends on ``actor`` so an anonymous caller gets 401 before any 400 about the path:
    org-scoped routes are always authenticated. (A public org-scoped route would read
    ``orgId: FromPath[str]`` and call :func:`parse_org_id` itself.)
    """
    del actor  # only here to order authentication first
    return parse_org_id(orgId)


def parse_enum_values(values: Iterable[str] | None, enum_cls: type[E], name: str) -> frozenset[E]:
    """Filter values given as repeated parameters, comma-separated, or both.

    ``?role=owner&role=admin`` and ``?role=owner,admin`` mean the same. An unknown value is a
    400 that names it and lists the allowed ones.
    """
    chosen: set[E] = set()
    for raw in values or ():
        for part in raw.split(","):
            value = part.strip()
            if not value:
                continue
            try:
                chosen.add(enum_cls(value))
            except ValueError:
                allowed = ", ".join(str(member.value) for member in enum_cls)
                raise InvalidInput(
                    f'Unknown {name} "{value[:64]}". Allowed values: {allowed}.', field=name
                ) from None
    return frozenset(chosen)


def _nul_fields(value: Any, path: str) -> Iterable[str]:
    """The paths of every string in ``value`` that holds a NUL character."""
    if isinstance(value, str):
        if "\x00" in value:
            yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _nul_fields(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _nul_fields(item, f"{path}[{index}]")


def read_body(data: Any, cls: type[T]) -> T:
    """Structure a decoded JSON body into ``cls`` (camelCase keys); 400 naming bad fields.

    Strings holding NUL characters are refused first: no column can store them.
    """
    bad = list(_nul_fields(data, ""))
    if bad:
        raise InvalidFields(
            [FieldError(path, "must not contain NUL (\\u0000) characters") for path in bad]
        )
    return structure(data, cls)

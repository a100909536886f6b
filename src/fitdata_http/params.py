"""Request parameters every controller shares: the org in the path, paging, enum filters,
and JSON bodies structured through the one converter."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from enum import Enum
from typing import Annotated, Any, TypeVar

from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter

from fitdata_adapters.converter import structure
from fitdata_core.errors import InvalidInput
from fitdata_core.services import Actor
from fitdata_core.usecases.members import MAX_PAGE_SIZE

__all__ = [
    "ORG_ID_PARAM",
    "ORG_PATH",
    "Limit",
    "Offset",
    "parse_enum_values",
    "parse_org_id",
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
Offset = Annotated[int, QueryParameter(ge=0, description="How many items to skip.")]


def parse_org_id(value: str) -> str:
    """The canonical (lower-case) form of an organization id; 400 naming orgId if not a UUID."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise InvalidInput(
            f'orgId must be a UUID, got "{value[:64]}".', field=ORG_ID_PARAM
        ) from None


async def provide_org_id(orgId: FromPath[str], actor: NamedDependency[Actor]) -> str:
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


def read_body(data: Any, cls: type[T]) -> T:
    """Structure a decoded JSON body into ``cls`` (camelCase keys); 400 naming bad fields."""
    return structure(data, cls)

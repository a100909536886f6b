"""What a gym sells and where: plans, locations, courses, and its leads."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import attrs

from fitdata_core.money import Money

__all__ = [
    "Course",
    "Lead",
    "Location",
    "Plan",
    "PlanKind",
]


class PlanKind(StrEnum):
    """What a membership plan sells: a recurring membership or a pack of classes."""

    MEMBERSHIP = "membership"
    CLASS_PACK = "class_pack"


@attrs.frozen
class Plan:
    """A membership plan an organization sells, with its price."""

    id: str
    organization_id: str
    name: str
    kind: PlanKind
    price: Money
    created_at: datetime
    session_count: int | None = None
    validity_days: int | None = None
    is_active: bool = True
    external_id: str | None = None


@attrs.frozen
class Location:
    """A place where an organization runs its classes."""

    id: str
    organization_id: str
    name: str
    created_at: datetime
    address: str | None = None


@attrs.frozen
class Course:
    """A course an organization runs (a tier feature)."""

    id: str
    organization_id: str
    name: str
    created_at: datetime
    description: str | None = None


@attrs.frozen
class Lead:
    """A prospective member an organization is in touch with."""

    id: str
    organization_id: str
    first_name: str | None
    last_name: str | None
    email: str | None
    phone: str | None
    source: str | None
    status: str
    created_at: datetime
    external_id: str | None = None

"""What a gym sells and where: plans, locations, courses, and its leads."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import attrs

from fitdata_core.money import Money


class PlanKind(StrEnum):
    MEMBERSHIP = "membership"
    CLASS_PACK = "class_pack"


@attrs.frozen
class Plan:
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
    id: str
    organization_id: str
    name: str
    created_at: datetime
    address: str | None = None


@attrs.frozen
class Course:
    id: str
    organization_id: str
    name: str
    created_at: datetime
    description: str | None = None


@attrs.frozen
class Lead:
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

"""Plans, locations, courses and leads."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from fitdata_adapters.db import tables as t
from fitdata_adapters.db.repositories.base import SqlRepository, fetch_page, newer_than
from fitdata_core.model.catalog import Course, Lead, Location, Plan, PlanKind
from fitdata_core.model.organizations import normalize_email
from fitdata_core.money import Money
from fitdata_core.ports.repositories import Page

# --- plans ---------------------------------------------------------------------------------


def _plan_values(plan: Plan) -> dict[str, Any]:
    return {
        "id": plan.id,
        "organization_id": plan.organization_id,
        "name": plan.name,
        "kind": plan.kind.value,
        "price_amount": plan.price.amount,
        "price_currency": plan.price.currency,
        "session_count": plan.session_count,
        "validity_days": plan.validity_days,
        "is_active": plan.is_active,
        "external_id": plan.external_id,
        "created_at": plan.created_at,
    }


def _plan(row: Mapping[str, Any]) -> Plan:
    return Plan(
        id=row["id"],
        organization_id=row["organization_id"],
        name=row["name"],
        kind=PlanKind(row["kind"]),
        price=Money(row["price_amount"], row["price_currency"]),
        created_at=row["created_at"],
        session_count=row["session_count"],
        validity_days=row["validity_days"],
        is_active=bool(row["is_active"]),
        external_id=row["external_id"],
    )


class SqlPlanRepository(SqlRepository):
    async def add(self, plan: Plan) -> None:
        await self._db.execute(t.plans.insert().values(_plan_values(plan)))

    async def get(self, org_id: str, plan_id: str) -> Plan | None:
        p = t.plans
        row = await self._db.one_or_none(
            sa.select(p).where(p.c.organization_id == org_id, p.c.id == plan_id)
        )
        return None if row is None else _plan(row)

    async def get_by_name(self, org_id: str, name: str) -> Plan | None:
        p = t.plans
        row = await self._db.one_or_none(
            sa.select(p).where(p.c.organization_id == org_id, p.c.name == name)
        )
        return None if row is None else _plan(row)

    async def update(self, plan: Plan) -> None:
        await self._db.execute(
            t.plans.update().where(t.plans.c.id == plan.id).values(_plan_values(plan))
        )

    async def list_for_org(self, org_id: str) -> list[Plan]:
        p = t.plans
        rows = await self._db.all(
            sa.select(p).where(p.c.organization_id == org_id).order_by(p.c.name, p.c.id)
        )
        return [_plan(row) for row in rows]


# --- locations and courses -----------------------------------------------------------------


def _location(row: Mapping[str, Any]) -> Location:
    return Location(
        id=row["id"],
        organization_id=row["organization_id"],
        name=row["name"],
        created_at=row["created_at"],
        address=row["address"],
    )


def _course(row: Mapping[str, Any]) -> Course:
    return Course(
        id=row["id"],
        organization_id=row["organization_id"],
        name=row["name"],
        created_at=row["created_at"],
        description=row["description"],
    )


def _oldest_first(table: sa.Table, org_id: str) -> sa.Select[Any]:
    return (
        sa.select(table)
        .where(table.c.organization_id == org_id)
        .order_by(table.c.created_at, table.c.id)
    )


class SqlLocationRepository(SqlRepository):
    async def add(self, location: Location) -> None:
        await self._db.execute(
            t.locations.insert().values(
                id=location.id,
                organization_id=location.organization_id,
                name=location.name,
                address=location.address,
                created_at=location.created_at,
            )
        )

    async def list_for_org(self, org_id: str) -> list[Location]:
        return [_location(row) for row in await self._db.all(_oldest_first(t.locations, org_id))]


class SqlCourseRepository(SqlRepository):
    async def add(self, course: Course) -> None:
        await self._db.execute(
            t.courses.insert().values(
                id=course.id,
                organization_id=course.organization_id,
                name=course.name,
                description=course.description,
                created_at=course.created_at,
            )
        )

    async def list_for_org(self, org_id: str) -> list[Course]:
        return [_course(row) for row in await self._db.all(_oldest_first(t.courses, org_id))]


# --- leads ---------------------------------------------------------------------------------


def _lead_values(lead: Lead) -> dict[str, Any]:
    return {
        "id": lead.id,
        "organization_id": lead.organization_id,
        "first_name": lead.first_name,
        "last_name": lead.last_name,
        "email": lead.email,
        "email_normalized": None if lead.email is None else normalize_email(lead.email),
        "phone": lead.phone,
        "source": lead.source,
        "status": lead.status,
        "external_id": lead.external_id,
        "created_at": lead.created_at,
    }


def _lead(row: Mapping[str, Any]) -> Lead:
    return Lead(
        id=row["id"],
        organization_id=row["organization_id"],
        first_name=row["first_name"],
        last_name=row["last_name"],
        email=row["email"],
        phone=row["phone"],
        source=row["source"],
        status=row["status"],
        created_at=row["created_at"],
        external_id=row["external_id"],
    )


class SqlLeadRepository(SqlRepository):
    """Leads keep the email as entered; lookups by email ignore case."""

    async def add(self, lead: Lead) -> None:
        await self._db.execute(t.leads.insert().values(_lead_values(lead)))

    async def update(self, lead: Lead) -> None:
        await self._db.execute(
            t.leads.update().where(t.leads.c.id == lead.id).values(_lead_values(lead))
        )

    async def get_by_email(self, org_id: str, email: str) -> Lead | None:
        le = t.leads
        row = await self._db.one_or_none(
            sa.select(le)
            .where(le.c.organization_id == org_id, le.c.email_normalized == normalize_email(email))
            .order_by(le.c.created_at, le.c.id)
            .limit(1)
        )
        return None if row is None else _lead(row)

    async def list_for_org(self, org_id: str) -> list[Lead]:
        return [_lead(row) for row in await self._db.all(_oldest_first(t.leads, org_id))]

    async def list_page(
        self,
        org_id: str,
        *,
        limit: int,
        offset: int = 0,
        after: tuple[datetime, str] | None = None,
    ) -> Page[Lead]:
        leads = t.leads
        return await fetch_page(
            self._db,
            sa.select(leads).where(leads.c.organization_id == org_id),
            (leads.c.created_at, leads.c.id),
            _lead,
            limit=limit,
            offset=offset,
            after=newer_than(leads, *after) if after is not None else None,
        )

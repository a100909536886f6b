"""Contract: plans, locations, courses and leads."""

from __future__ import annotations

from decimal import Decimal

import attrs
import pytest
from seeding import commit_one, seed_org

from fitdata_core.errors import Conflict
from fitdata_core.model.catalog import PlanKind
from fitdata_core.money import Money
from fitdata_core.ports.repositories import UnitOfWorkFactory
from support import builders
from support.builders import at

pytestmark = pytest.mark.integration


async def test_plan_round_trip_keeps_money_exact(uow_factory: UnitOfWorkFactory) -> None:
    org = await seed_org(uow_factory)
    pack = builders.plan(
        org.id,
        name="10 classes",
        kind=PlanKind.CLASS_PACK,
        price=Money(Decimal("12345678.99"), "USD"),
        session_count=10,
        validity_days=None,
        is_active=False,
        external_id="arbox-7",
    )
    async with uow_factory() as uow:
        await uow.plans.add(pack)
        await uow.commit()
    async with uow_factory() as uow:
        found = await uow.plans.get(org.id, pack.id)
        by_name = await uow.plans.get_by_name(org.id, "10 classes")
        assert await uow.plans.get_by_name(org.id, "10 Classes ") is None
        assert await uow.plans.get("another-org", pack.id) is None
    assert found == pack
    assert by_name == pack
    assert found is not None
    assert found.price.amount == Decimal("12345678.99")


async def test_plan_names_are_unique_per_org(uow_factory: UnitOfWorkFactory) -> None:
    org = await seed_org(uow_factory)
    other = await seed_org(uow_factory)
    async with uow_factory() as uow:
        await uow.plans.add(builders.plan(org.id, name="Monthly"))
        await uow.plans.add(builders.plan(other.id, name="Monthly"))
        await uow.commit()
    clash = builders.plan(org.id, name="Monthly")
    with pytest.raises(Conflict) as caught:
        await commit_one(uow_factory, lambda uow: uow.plans.add(clash))
    assert "plan" in caught.value.message


async def test_plans_update_and_list_by_name(uow_factory: UnitOfWorkFactory) -> None:
    org = await seed_org(uow_factory)
    other = await seed_org(uow_factory)
    yearly = builders.plan(org.id, name="Yearly", created_at=at(1))
    basic = builders.plan(org.id, name="Basic", created_at=at(2))
    async with uow_factory() as uow:
        for plan in (yearly, basic, builders.plan(other.id, name="Alpha")):
            await uow.plans.add(plan)
        await uow.commit()
    cheaper = attrs.evolve(basic, price=Money(Decimal("99.50")), is_active=False)
    async with uow_factory() as uow:
        await uow.plans.update(cheaper)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.plans.list_for_org(org.id) == [cheaper, yearly]


async def test_locations_and_courses_list_oldest_first(uow_factory: UnitOfWorkFactory) -> None:
    org = await seed_org(uow_factory)
    other = await seed_org(uow_factory)
    late = builders.location(org.id, name="Annex", created_at=at(5), address=None)
    early = builders.location(org.id, name="Main", created_at=at(1))
    yoga = builders.course(org.id, name="Yoga", created_at=at(3))
    box = builders.course(org.id, name="Box", created_at=at(4), description=None)
    async with uow_factory() as uow:
        for location in (late, early, builders.location(other.id)):
            await uow.locations.add(location)
        for course in (box, yoga, builders.course(other.id)):
            await uow.courses.add(course)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.locations.list_for_org(org.id) == [early, late]
        assert await uow.courses.list_for_org(org.id) == [yoga, box]
        assert await uow.courses.list_for_org("nobody") == []


async def test_leads_by_email_ignore_case_and_update(uow_factory: UnitOfWorkFactory) -> None:
    org = await seed_org(uow_factory)
    other = await seed_org(uow_factory)
    noa = builders.lead(org.id, email="Noa@Example.com", created_at=at(2))
    anonymous = builders.lead(org.id, email=None, phone="+972501112233", created_at=at(1))
    async with uow_factory() as uow:
        for lead in (noa, anonymous, builders.lead(other.id, email="noa@example.com")):
            await uow.leads.add(lead)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.leads.get_by_email(org.id, "noa@example.com") == noa
        assert await uow.leads.get_by_email(org.id, "missing@example.com") is None
        converted = attrs.evolve(noa, status="converted", external_id="x-1")
        await uow.leads.update(converted)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.leads.list_for_org(org.id) == [anonymous, converted]

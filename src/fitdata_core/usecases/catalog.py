"""Plans, locations and courses: list and create, behind the tier guard."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from fitdata_core.access import Action, require_feature
from fitdata_core.errors import Conflict, InvalidInput
from fitdata_core.model.catalog import Course, Location, Plan, PlanKind
from fitdata_core.model.tiers import Feature
from fitdata_core.money import Money
from fitdata_core.services import Actor, Services
from fitdata_core.usecases.common import authorize, load_org

PLAN_KIND_FEATURE = {
    PlanKind.MEMBERSHIP: Feature.MEMBERSHIP_PLANS,
    PlanKind.CLASS_PACK: Feature.CLASS_PACKS,
}


async def list_plans(svc: Services, actor: Actor, org_id: str) -> list[Plan]:
    async with svc.uow(read_only=True) as uow:
        await authorize(uow, actor, org_id, Action.READ_PLANS)
        return await uow.plans.list_for_org(org_id)


def _require_name(name: str) -> str:
    if not name or not name.strip():
        raise InvalidInput("name must not be empty.", field="name")
    if len(name) > 200:
        raise InvalidInput("name must be at most 200 characters.", field="name")
    return name.strip()


def parse_price(value: str | int | Decimal) -> Money:
    try:
        amount = Decimal(str(value))
        money = Money(amount)
    except (InvalidOperation, ValueError) as exc:
        raise InvalidInput(f"price must be a number, got {value!r}.", field="price") from exc
    if money.amount != amount:
        # Money keeps whole agorot; rounding a price the owner typed would change it silently.
        raise InvalidInput(
            f"price has at most 2 decimal places, got {str(value)!r}.", field="price"
        )
    if money.amount < 0:
        raise InvalidInput("price must not be negative.", field="price")
    return money


async def create_plan(
    svc: Services,
    actor: Actor,
    org_id: str,
    *,
    name: str,
    kind: PlanKind,
    price: Money,
    session_count: int | None = None,
    validity_days: int | None = None,
) -> Plan:
    name = _require_name(name)
    if kind is PlanKind.CLASS_PACK and (session_count is None or session_count < 1):
        raise InvalidInput("A class pack needs a positive sessionCount.", field="sessionCount")
    async with svc.uow() as uow:
        await authorize(uow, actor, org_id, Action.MANAGE_CATALOG)
        org = await load_org(uow, org_id)
        require_feature(org.platform_tier, PLAN_KIND_FEATURE[kind])
        if await uow.plans.get_by_name(org_id, name) is not None:
            raise Conflict(f'A plan named "{name}" already exists.')
        plan = Plan(
            id=svc.ids.new_id(),
            organization_id=org_id,
            name=name,
            kind=kind,
            price=price,
            created_at=svc.clock.now(),
            session_count=session_count,
            validity_days=validity_days,
        )
        await uow.plans.add(plan)
        await uow.commit()
    return plan


async def list_locations(svc: Services, actor: Actor, org_id: str) -> list[Location]:
    async with svc.uow(read_only=True) as uow:
        await authorize(uow, actor, org_id, Action.READ_PLANS)
        return await uow.locations.list_for_org(org_id)


async def create_location(
    svc: Services, actor: Actor, org_id: str, *, name: str, address: str | None = None
) -> Location:
    """Every org may have its first location; a second one needs multiple_locations."""
    name = _require_name(name)
    async with svc.uow() as uow:
        await authorize(uow, actor, org_id, Action.MANAGE_CATALOG)
        org = await load_org(uow, org_id)
        if await uow.locations.list_for_org(org_id):
            require_feature(org.platform_tier, Feature.MULTIPLE_LOCATIONS)
        location = Location(
            id=svc.ids.new_id(),
            organization_id=org_id,
            name=name,
            created_at=svc.clock.now(),
            address=address,
        )
        await uow.locations.add(location)
        await uow.commit()
    return location


async def list_courses(svc: Services, actor: Actor, org_id: str) -> list[Course]:
    async with svc.uow(read_only=True) as uow:
        await authorize(uow, actor, org_id, Action.READ_PLANS)
        return await uow.courses.list_for_org(org_id)


async def create_course(
    svc: Services, actor: Actor, org_id: str, *, name: str, description: str | None = None
) -> Course:
    name = _require_name(name)
    async with svc.uow() as uow:
        await authorize(uow, actor, org_id, Action.MANAGE_CATALOG)
        org = await load_org(uow, org_id)
        require_feature(org.platform_tier, Feature.COURSES)
        course = Course(
            id=svc.ids.new_id(),
            organization_id=org_id,
            name=name,
            created_at=svc.clock.now(),
            description=description,
        )
        await uow.courses.add(course)
        await uow.commit()
    return course

"""Plans, locations and courses: list and create, behind the tier guard."""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from fitdata_core.access import Action, require_feature
from fitdata_core.errors import Conflict, InvalidInput
from fitdata_core.model.catalog import Course, Location, Plan, PlanKind
from fitdata_core.model.tiers import Feature
from fitdata_core.money import AmountError, Money, exact_amount
from fitdata_core.services import Actor, Services
from fitdata_core.usecases.common import authorize, load_org

__all__ = [
    "MAX_ADDRESS_LENGTH",
    "MAX_DESCRIPTION_LENGTH",
    "MAX_NAME_LENGTH",
    "MAX_PRICE",
    "MAX_SESSION_COUNT",
    "MAX_VALIDITY_DAYS",
    "PLAN_KIND_FEATURE",
    "create_course",
    "create_location",
    "create_plan",
    "list_courses",
    "list_locations",
    "list_plans",
    "parse_price",
]

# What the catalog can hold (the columns behind it: price NUMERIC(12, 2), counts INTEGER, an
# address VARCHAR(500)); beyond these a value is refused, naming the field, before any write.
MAX_NAME_LENGTH: Final = 200
MAX_PRICE: Final = Decimal("9999999999.99")
MAX_SESSION_COUNT: Final = 100_000
MAX_VALIDITY_DAYS: Final = 36_600  # a hundred years
MAX_ADDRESS_LENGTH: Final = 500
MAX_DESCRIPTION_LENGTH: Final = 5_000

PLAN_KIND_FEATURE = {
    PlanKind.MEMBERSHIP: Feature.MEMBERSHIP_PLANS,
    PlanKind.CLASS_PACK: Feature.CLASS_PACKS,
}


async def list_plans(svc: Services, actor: Actor, org_id: str) -> list[Plan]:
    """The organization's membership plans (any active member)."""
    async with svc.uow(read_only=True) as uow:
        await authorize(uow, actor, org_id, Action.READ_PLANS)
        return await uow.plans.list_for_org(org_id)


def _require_name(name: str) -> str:
    if not name or not name.strip():
        raise InvalidInput("name must not be empty.", field="name")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidInput(f"name must be at most {MAX_NAME_LENGTH} characters.", field="name")
    return name.strip()


def _bounded_text(value: str | None, field: str, max_length: int) -> str | None:
    if value is not None and len(value) > max_length:
        raise InvalidInput(
            f"{field} must be at most {max_length} characters, got {len(value)}.", field=field
        )
    return value


def _bounded_int(value: int | None, field: str, high: int) -> int | None:
    if value is not None and not 1 <= value <= high:
        raise InvalidInput(f"{field} must be between 1 and {high}, got {value}.", field=field)
    return value


def parse_price(value: str | int | Decimal) -> Money:
    """A plan price, exactly as given (see :func:`~fitdata_core.money.exact_amount`: never
    rounded, never guessed at), 0 to :data:`MAX_PRICE`; :class:`InvalidInput` naming
    ``price`` otherwise."""
    try:
        amount = exact_amount(value)
    except AmountError as exc:
        raise InvalidInput(f"price {exc}", field="price") from None
    if amount > MAX_PRICE:
        raise InvalidInput(f"price must be at most {MAX_PRICE}.", field="price")
    return Money(amount)


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
    """Add a membership plan (owner, admin; a class pack needs the class-packs feature)."""
    name = _require_name(name)
    if kind is PlanKind.CLASS_PACK and session_count is None:
        raise InvalidInput("A class pack needs a positive sessionCount.", field="sessionCount")
    session_count = _bounded_int(session_count, "sessionCount", MAX_SESSION_COUNT)
    validity_days = _bounded_int(validity_days, "validityDays", MAX_VALIDITY_DAYS)
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
    """The organization's locations (any active member)."""
    async with svc.uow(read_only=True) as uow:
        await authorize(uow, actor, org_id, Action.READ_PLANS)
        return await uow.locations.list_for_org(org_id)


async def create_location(
    svc: Services, actor: Actor, org_id: str, *, name: str, address: str | None = None
) -> Location:
    """Every org may have its first location; a second one needs multiple_locations."""
    name = _require_name(name)
    address = _bounded_text(address, "address", MAX_ADDRESS_LENGTH)
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
    """The organization's courses (any active member; the tier must include courses)."""
    async with svc.uow(read_only=True) as uow:
        await authorize(uow, actor, org_id, Action.READ_PLANS)
        org = await load_org(uow, org_id)
        require_feature(org.platform_tier, Feature.COURSES)
        return await uow.courses.list_for_org(org_id)


async def create_course(
    svc: Services, actor: Actor, org_id: str, *, name: str, description: str | None = None
) -> Course:
    """Add a course (owner, admin; the tier must include courses)."""
    name = _require_name(name)
    description = _bounded_text(description, "description", MAX_DESCRIPTION_LENGTH)
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

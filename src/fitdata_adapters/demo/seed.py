"""Seed the demo gym through the core use cases, then a year of activity for analytics.

Deterministic: one seeded random source decides every name, date and amount (dates are
relative to today so the analytics window always has data). Idempotent: the demo org is
found by its owner's email and name; every step only adds what is missing, so running the
demo twice adds nothing the second time (and finishes a run that was interrupted).
On Postgres, a run that wrote anything ends with ``VACUUM (ANALYZE)`` of the tables it filled,
so the planner's statistics describe the new rows rather than empty tables.
"""

from __future__ import annotations

import random
from datetime import datetime, time, timedelta
from decimal import Decimal

import attrs
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from fitdata_adapters.bootstrap import Runtime
from fitdata_adapters.clock import ManualClock
from fitdata_adapters.db import tables
from fitdata_adapters.db.maintenance import analyze_tables
from fitdata_adapters.demo.activity import (
    Activity,
    ClassSpec,
    MemberTimeline,
    PlanSpec,
    booking_rows,
    insert_activity,
    payment_rows,
    session_rows,
    workout_rows,
)
from fitdata_adapters.demo.people import EMAIL_DOMAIN, PeopleFactory, Person
from fitdata_core.model.catalog import PlanKind
from fitdata_core.model.organizations import MemberProfile, MembershipStatus, Role
from fitdata_core.money import Money
from fitdata_core.services import Actor, Services
from fitdata_core.usecases.catalog import create_location, create_plan, list_locations, list_plans
from fitdata_core.usecases.imports.credentials import ARBOX
from fitdata_core.usecases.imports.provider_config import save_provider_config
from fitdata_core.usecases.organizations import NewMember, add_member, create_organization

DEMO_ORG_NAME = "Demo Gym · fitdata"
DEMO_SEED = 20_240_601
DEFAULT_MEMBER_COUNT = 300
LOCATION_NAME = "Florentin Studio"
LOCATION_ADDRESS = "Florentin 12, Tel Aviv-Yafo"
# How long before the anchor ("now") the demo gym opened: members joined over these years.
_ORG_AGE = timedelta(days=3 * 365 + 30)

# The four logins the demo prints tokens for, one per role.
LOGINS: dict[Role, tuple[str, str, str]] = {
    Role.OWNER: (f"owner@{EMAIL_DOMAIN}", "יעל", "כץ"),
    Role.ADMIN: (f"admin@{EMAIL_DOMAIN}", "איתי", "מזרחי"),
    Role.COACH: (f"coach@{EMAIL_DOMAIN}", "Rotem", "Azoulay"),
    Role.MEMBER: (f"member@{EMAIL_DOMAIN}", "נועה", "כהן"),
}

PLANS: tuple[PlanSpec, ...] = (
    PlanSpec("Unlimited Monthly", Decimal("390"), months=1, weight=45),
    PlanSpec("Twice a Week", Decimal("290"), months=1, weight=30),
    PlanSpec("Student Monthly", Decimal("220"), months=1, weight=15),
    PlanSpec("Annual Unlimited", Decimal("3900"), months=12, weight=10),
)

# Sunday to Thursday all day, Friday mornings, closed on Saturday (Monday=0 … Sunday=6).
_WEEKDAY_CLASSES = (
    (time(6, 30), "CrossFit", 60, 16, 0.85),
    (time(8, 0), "Pilates", 50, 12, 0.7),
    (time(18, 0), "HIIT", 45, 20, 0.9),
    (time(19, 0), "Yoga", 60, 18, 0.65),
    (time(20, 15), "Boxing", 60, 14, 0.55),
)
SCHEDULE: tuple[ClassSpec, ...] = (
    *(
        ClassSpec(day, start, name, minutes, capacity, popularity)
        for day in (6, 0, 1, 2, 3)
        for start, name, minutes, capacity, popularity in _WEEKDAY_CLASSES
    ),
    ClassSpec(4, time(8, 0), "CrossFit", 60, 16, 0.95),
    ClassSpec(4, time(9, 30), "Yoga", 75, 18, 0.8),
)
# Every table the seeding writes to, analysed once at the end (see ``analyze_tables``).
SEEDED_TABLES: tuple[sa.Table, ...] = (
    tables.organizations,
    tables.users,
    tables.memberships,
    tables.member_profiles,
    tables.plans,
    tables.locations,
    tables.member_payments,
    tables.class_sessions,
    tables.class_bookings,
    tables.workouts,
    # Postgres only (so are the statistics): the triggers filled them with the workouts.
    tables.workout_day_totals,
    tables.workout_member_years,
    tables.import_provider_configs,  # the demo gym's Arbox sandbox credentials
)
_CLASS_COACH_SLOTS = {"CrossFit": 0, "HIIT": 0, "Pilates": 1, "Yoga": 2, "Boxing": 3}


@attrs.frozen
class DemoLogin:
    role: Role
    email: str
    user_id: str


@attrs.frozen
class DemoGym:
    """What :func:`seed_demo` made (or found): the org and one login per role."""

    org_id: str
    org_name: str
    created: bool
    member_count: int
    logins: tuple[DemoLogin, ...]

    def login(self, role: Role) -> DemoLogin:
        return next(login for login in self.logins if login.role is role)


@attrs.frozen
class _Joiner:
    """Someone the demo adds to the gym, and their story there."""

    person: Person
    role: Role
    status: MembershipStatus
    joined_at: datetime
    left_at: datetime | None
    plan: PlanSpec | None
    keenness: float


def _roster(rng: random.Random, now: datetime, count: int) -> list[_Joiner]:
    """Staff, the member login and ``count`` made-up members, earliest joiner first."""
    people = PeopleFactory(rng)
    for email, _, _ in LOGINS.values():
        people.reserve(email)
    today = now.date()
    opened = now - timedelta(days=3 * 365)
    joiners: list[_Joiner] = []

    def fixed(role: Role, joined_at: datetime, plan: PlanSpec | None) -> _Joiner:
        email, first, last = LOGINS[role]
        template = people.make(today)
        person = attrs.evolve(template, email=email, first_name=first, last_name=last)
        return _Joiner(person, role, MembershipStatus.ACTIVE, joined_at, None, plan, 0.8)

    joiners.append(fixed(Role.ADMIN, opened, None))
    joiners.append(fixed(Role.COACH, opened, None))
    for _ in range(3):
        joiners.append(
            _Joiner(people.make(today), Role.COACH, MembershipStatus.ACTIVE, opened, None, None, 0)
        )
    joiners.append(fixed(Role.MEMBER, now - timedelta(days=300), PLANS[0]))

    weights = [plan.weight for plan in PLANS]
    for _ in range(count):
        person = people.make(today)
        # About a third joined before the last year; recent months see more joiners (growth).
        if rng.random() < 0.3:
            joined_at = now - timedelta(days=rng.randrange(366, 3 * 365))
        else:
            joined_at = now - timedelta(days=365 * (1 - rng.random() ** 0.7))
        joined_at = joined_at.replace(microsecond=0)
        status = rng.choices(
            (
                MembershipStatus.ACTIVE,
                MembershipStatus.CANCELLED,
                MembershipStatus.SUSPENDED,
                MembershipStatus.INVITED,
            ),
            (78, 14, 5, 3),
        )[0]
        left_at = None
        if status in (MembershipStatus.CANCELLED, MembershipStatus.SUSPENDED):
            stayed = (now - joined_at).total_seconds()
            left_at = joined_at + timedelta(seconds=stayed * rng.uniform(0.2, 0.95))
        if status is MembershipStatus.INVITED:
            joined_at = now - timedelta(days=rng.randrange(1, 20))
        plan = None if status is MembershipStatus.INVITED else rng.choices(PLANS, weights)[0]
        joiners.append(
            _Joiner(person, Role.MEMBER, status, joined_at, left_at, plan, rng.uniform(0.1, 1.0))
        )
    joiners.sort(key=lambda joiner: joiner.joined_at)
    return joiners


async def _find_demo_org(engine: AsyncEngine) -> tuple[str, datetime] | None:
    """The demo org's id and creation time, if a previous run created it."""
    owner_email = LOGINS[Role.OWNER][0]
    query = (
        sa.select(tables.organizations.c.id, tables.organizations.c.created_at)
        .join(tables.memberships, tables.memberships.c.organization_id == tables.organizations.c.id)
        .join(tables.users, tables.users.c.id == tables.memberships.c.user_id)
        .where(
            tables.users.c.email == owner_email,
            tables.memberships.c.role == Role.OWNER.value,
            tables.organizations.c.name == DEMO_ORG_NAME,
        )
        .order_by(tables.organizations.c.created_at)
        .limit(1)
    )
    async with engine.connect() as conn:
        row = (await conn.execute(query)).one_or_none()
    return None if row is None else (row.id, row.created_at)


async def _user_ids_by_email(engine: AsyncEngine, org_id: str) -> dict[str, str]:
    query = (
        sa.select(tables.users.c.email, tables.users.c.id)
        .join(tables.memberships, tables.memberships.c.user_id == tables.users.c.id)
        .where(tables.memberships.c.organization_id == org_id)
    )
    async with engine.connect() as conn:
        return {row.email: row.id for row in await conn.execute(query)}


async def _has_activity(engine: AsyncEngine, org_id: str) -> bool:
    query = sa.select(sa.exists().where(tables.member_payments.c.organization_id == org_id))
    async with engine.connect() as conn:
        return bool((await conn.execute(query)).scalar())


async def _ensure_catalog(svc: Services, owner: Actor, org_id: str) -> dict[str, str]:
    """The plans (by name to id) and the gym's one location."""
    existing = {plan.name: plan.id for plan in await list_plans(svc, owner, org_id)}
    for spec in PLANS:
        if spec.name not in existing:
            plan = await create_plan(
                svc,
                owner,
                org_id,
                name=spec.name,
                kind=PlanKind.MEMBERSHIP,
                price=Money(spec.price),
                validity_days=365 if spec.months == 12 else 30,
            )
            existing[plan.name] = plan.id
    if not await list_locations(svc, owner, org_id):
        await create_location(svc, owner, org_id, name=LOCATION_NAME, address=LOCATION_ADDRESS)
    return existing


async def _assign_plans_and_profiles(
    svc: Services,
    org_id: str,
    roster: list[_Joiner],
    user_ids: dict[str, str],
    plan_ids: dict[str, str],
) -> None:
    """One transaction: each member's plan, profile details, and the owner's name."""
    async with svc.uow() as uow:
        owner_email, first, last = LOGINS[Role.OWNER]
        owner = await uow.users.get(user_ids[owner_email])
        if owner is not None and owner.first_name is None:
            await uow.users.update(attrs.evolve(owner, first_name=first, last_name=last))
        for joiner in roster:
            user_id = user_ids[joiner.person.email]
            membership = await uow.memberships.get(org_id, user_id)
            plan_id = plan_ids[joiner.plan.name] if joiner.plan else None
            if membership is not None and membership.plan_id != plan_id:
                await uow.memberships.update(attrs.evolve(membership, plan_id=plan_id))
            if joiner.role is Role.MEMBER:
                await uow.profiles.upsert(
                    MemberProfile(
                        organization_id=org_id,
                        user_id=user_id,
                        birth_date=joiner.person.birth_date.isoformat(),
                        gender=joiner.person.gender,
                        city=joiner.person.city,
                        updated_at=joiner.joined_at,
                    )
                )
        await uow.commit()


def _activity(
    rng: random.Random,
    org_id: str,
    roster: list[_Joiner],
    user_ids: dict[str, str],
    plan_ids: dict[str, str],
    location_id: str | None,
    now: datetime,
) -> Activity:
    since = now - timedelta(days=365)
    members = [
        MemberTimeline(
            user_id=user_ids[joiner.person.email],
            plan_id=plan_ids[joiner.plan.name] if joiner.plan else None,
            plan=joiner.plan,
            joined_at=joiner.joined_at,
            left_at=joiner.left_at,
            keenness=joiner.keenness,
        )
        for joiner in roster
        if joiner.role is Role.MEMBER and joiner.status is not MembershipStatus.INVITED
    ]
    coaches = [user_ids[j.person.email] for j in roster if j.role is Role.COACH]
    coach_of = {name: coaches[slot % len(coaches)] for name, slot in _CLASS_COACH_SLOTS.items()}
    sessions = session_rows(
        rng, org_id, SCHEDULE, coach_of, location_id, since=since, until=now + timedelta(days=14)
    )
    bookings = booking_rows(rng, org_id, sessions, SCHEDULE, members, now=now)
    return Activity(
        payments=payment_rows(rng, org_id, members, since=since, now=now),
        sessions=sessions,
        bookings=bookings,
        workouts=workout_rows(rng, org_id, sessions, bookings, members, since=since, now=now),
    )


async def _store_sandbox_credentials(svc: Services, owner: Actor, org_id: str) -> None:
    """Store the embedded Arbox sandbox's API key and login as the demo gym's provider
    credentials, so an Arbox import works right after ``make run`` (docs/imports.md). Left
    alone when the gym already has credentials: the owner may have entered others."""
    from fitdata_adapters.arbox_sandbox.embedded import embedded_credentials

    async with svc.uow(read_only=True) as uow:
        stored = await uow.provider_configs.get_active(org_id, ARBOX)
    if stored is not None:
        return
    credentials = embedded_credentials()
    await save_provider_config(
        svc,
        owner,
        org_id,
        api_key=credentials.api_key,
        email=credentials.email,
        password=credentials.password,
    )


async def seed_demo(
    runtime: Runtime, *, member_count: int = DEFAULT_MEMBER_COUNT, seed: int = DEMO_SEED
) -> DemoGym:
    """Create the demo gym, or find it and fill in anything missing. Returns its logins."""
    engine = runtime.engine
    found = await _find_demo_org(engine)
    # Everything is generated relative to one anchor. A re-run takes the anchor the first
    # run stored (the org's creation time), so filling in what a cut-short run missed
    # produces exactly the rows that run would have, whenever it happens.
    now = (
        found[1] + _ORG_AGE
        if found is not None
        else runtime.services.clock.now().replace(microsecond=0)
    )
    rng = random.Random(seed)  # noqa: S311 - made-up demo data, not secrets
    roster = _roster(rng, now, member_count)
    # Use cases stamp rows with the clock; a manual one lets members join over the years.
    clock = ManualClock(now - _ORG_AGE)
    svc = attrs.evolve(runtime.services, clock=clock)

    org_id = found[0] if found is not None else None
    created = org_id is None
    if org_id is None:
        org = await create_organization(svc, name=DEMO_ORG_NAME, owner_email=LOGINS[Role.OWNER][0])
        org_id = org.id
    user_ids = await _user_ids_by_email(engine, org_id)
    owner = Actor(user_ids[LOGINS[Role.OWNER][0]])
    plan_ids = await _ensure_catalog(svc, owner, org_id)

    wrote = created
    for joiner in roster:
        if joiner.person.email in user_ids:
            continue
        wrote = True
        clock.set(joiner.joined_at)
        person = joiner.person
        user = await add_member(
            svc,
            org_id=org_id,
            member=NewMember(
                email=person.email,
                role=joiner.role,
                status=joiner.status,
                first_name=person.first_name,
                last_name=person.last_name,
                phone=person.phone,
            ),
        )
        user_ids[person.email] = user.id

    if created or not await _has_activity(engine, org_id):
        await _assign_plans_and_profiles(svc, org_id, roster, user_ids, plan_ids)
        locations = await list_locations(svc, owner, org_id)
        activity = _activity(
            random.Random(seed + 1),  # noqa: S311 - made-up demo data, not secrets
            org_id,
            roster,
            user_ids,
            plan_ids,
            locations[0].id if locations else None,
            now,
        )
        async with engine.begin() as conn:
            await insert_activity(conn, activity)
        wrote = True
    if wrote:
        # Thousands of rows just landed; without fresh statistics Postgres plans the member
        # list and the analytics for empty tables (seconds instead of milliseconds). VACUUM
        # too, so the analytics' index-only scans are index-only from the first request.
        await analyze_tables(engine, SEEDED_TABLES, vacuum=True)

    if runtime.settings.uses_arbox_sandbox:
        await _store_sandbox_credentials(runtime.services, owner, org_id)

    logins = tuple(
        DemoLogin(role=role, email=email, user_id=user_ids[email])
        for role, (email, _, _) in LOGINS.items()
    )
    members = sum(1 for joiner in roster if joiner.role is Role.MEMBER)
    return DemoGym(
        org_id=org_id,
        org_name=DEMO_ORG_NAME,
        created=created,
        member_count=members,
        logins=logins,
    )

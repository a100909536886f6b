"""Tier guard rows T1–T5 at the use-case level (T6 is the HTTP guard's own behaviour)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from fitdata_core.errors import FeatureNotInTier
from fitdata_core.model.catalog import PlanKind
from fitdata_core.money import Money
from fitdata_core.usecases.billing import handle_webhook, run_renewals, start_checkout
from fitdata_core.usecases.catalog import create_course, create_location, create_plan
from support.billing import Gym, World, put_subscription


async def test_T1_lite_org_creates_a_membership_plan(world: World, gym: Gym) -> None:
    plan = await create_plan(
        world.svc,
        gym.owner,
        gym.org_id,
        name="Monthly",
        kind=PlanKind.MEMBERSHIP,
        price=Money(Decimal("199")),
    )
    assert plan.kind is PlanKind.MEMBERSHIP


async def test_T2_lite_org_cannot_create_a_class_pack(world: World, gym: Gym) -> None:
    with pytest.raises(FeatureNotInTier, match='Feature "class_packs" requires a higher'):
        await create_plan(
            world.svc,
            gym.owner,
            gym.org_id,
            name="10 classes",
            kind=PlanKind.CLASS_PACK,
            price=Money(Decimal("450")),
            session_count=10,
        )


async def test_T3_lite_org_cannot_create_a_course(world: World, gym: Gym) -> None:
    with pytest.raises(FeatureNotInTier, match='Feature "courses" requires a higher'):
        await create_course(world.svc, gym.owner, gym.org_id, name="Olympic lifting")


async def test_T4_pro_org_cannot_add_a_second_location(world: World, gym: Gym) -> None:
    session = await start_checkout(world.svc, gym.owner, gym.org_id, "pro")
    world.gateway.pay(session.low_profile_id)
    await handle_webhook(world.svc, session.low_profile_id)
    await create_location(world.svc, gym.owner, gym.org_id, name="Main hall")
    # Pro unlocks courses, but not multiple locations.
    await create_course(world.svc, gym.owner, gym.org_id, name="Olympic lifting")

    with pytest.raises(FeatureNotInTier, match="multiple_locations"):
        await create_location(world.svc, gym.owner, gym.org_id, name="Second hall")


async def test_T5_the_sweeps_downgrade_revokes_features_on_the_next_request(
    world: World, gym: Gym
) -> None:
    await put_subscription(
        world, gym.org_id, period_end=world.clock.now() + timedelta(hours=1), with_card=False
    )
    await create_course(world.svc, gym.owner, gym.org_id, name="Before")  # allowed on pro
    world.clock.advance(timedelta(hours=2))

    assert (await run_renewals(world.svc)).expired_no_token == 1

    with pytest.raises(FeatureNotInTier):
        await create_course(world.svc, gym.owner, gym.org_id, name="After")

"""Contract: the unit of work, organizations, users, profiles."""

from __future__ import annotations

from datetime import UTC, timedelta, timezone

import attrs
import pytest
from seeding import commit_one, seed_org, seed_user

from fitdata_core.errors import Conflict
from fitdata_core.model.tiers import PlatformTier
from fitdata_core.ports.repositories import UnitOfWorkFactory
from support import builders

pytestmark = pytest.mark.integration


async def test_leaving_without_commit_leaves_nothing(uow_factory: UnitOfWorkFactory) -> None:
    org = builders.organization()
    async with uow_factory() as uow:
        await uow.organizations.add(org)
        assert await uow.organizations.get(org.id) == org  # visible inside its own transaction
    async with uow_factory() as uow:
        assert await uow.organizations.get(org.id) is None


async def test_an_error_in_the_block_rolls_back(uow_factory: UnitOfWorkFactory) -> None:
    org = builders.organization()

    async def add_then_fail() -> None:
        async with uow_factory() as uow:
            await uow.organizations.add(org)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await add_then_fail()
    async with uow_factory() as uow:
        assert await uow.organizations.get(org.id) is None


async def test_explicit_rollback_discards_and_work_can_continue(
    uow_factory: UnitOfWorkFactory,
) -> None:
    first, second = builders.organization(), builders.organization()
    async with uow_factory() as uow:
        await uow.organizations.add(first)
        await uow.rollback()
        await uow.organizations.add(second)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.organizations.get(first.id) is None
        assert await uow.organizations.get(second.id) == second


async def test_commit_keeps_what_came_before_it_only(uow_factory: UnitOfWorkFactory) -> None:
    kept, dropped = builders.organization(), builders.organization()
    async with uow_factory() as uow:
        await uow.organizations.add(kept)
        await uow.commit()
        await uow.organizations.add(dropped)
    async with uow_factory() as uow:
        assert await uow.organizations.get(kept.id) == kept
        assert await uow.organizations.get(dropped.id) is None


async def test_organization_round_trip_and_update(uow_factory: UnitOfWorkFactory) -> None:
    org = await seed_org(uow_factory, name="Iron Temple")
    async with uow_factory() as uow:
        locked = await uow.organizations.get_for_update(org.id)
        assert locked == org
        await uow.organizations.update(org.with_tier(PlatformTier.ELITE))
        await uow.commit()
    async with uow_factory() as uow:
        found = await uow.organizations.get(org.id)
        assert await uow.organizations.get_for_update("missing") is None
    assert found is not None
    assert found.platform_tier is PlatformTier.ELITE
    assert found.name == "Iron Temple"


async def test_datetimes_keep_the_instant_to_the_microsecond(
    uow_factory: UnitOfWorkFactory,
) -> None:
    israel = timezone(timedelta(hours=3))
    org = await seed_org(uow_factory, created_at=builders.T0.astimezone(israel))
    async with uow_factory() as uow:
        found = await uow.organizations.get(org.id)
    assert found is not None
    assert found.created_at.utcoffset() is not None
    assert found.created_at == builders.T0
    assert found.created_at.astimezone(UTC).microsecond == builders.T0.microsecond


async def test_duplicate_organization_id_conflicts(uow_factory: UnitOfWorkFactory) -> None:
    org = await seed_org(uow_factory)
    clash = builders.organization(id=org.id)
    with pytest.raises(Conflict):
        await commit_one(uow_factory, lambda uow: uow.organizations.add(clash))


async def test_user_lookup_by_email_ignores_case(uow_factory: UnitOfWorkFactory) -> None:
    user = await seed_user(uow_factory, email="dana@example.com", is_platform_admin=True)
    async with uow_factory() as uow:
        by_id = await uow.users.get(user.id)
        by_email = await uow.users.get_by_email("  Dana@EXAMPLE.com ")
        assert await uow.users.get_by_email("other@example.com") is None
        assert await uow.users.get("missing") is None
    assert by_id == user
    assert by_email == user


async def test_emails_are_unique_case_insensitively(uow_factory: UnitOfWorkFactory) -> None:
    await seed_user(uow_factory, email="dana@example.com")
    clash = builders.user(email="DANA@Example.com")
    with pytest.raises(Conflict) as caught:
        await commit_one(uow_factory, lambda uow: uow.users.add(clash))
    assert "email" in caught.value.message
    assert "INSERT" not in caught.value.message.upper()


async def test_user_update_keeps_email_unique(uow_factory: UnitOfWorkFactory) -> None:
    dana = await seed_user(uow_factory, email="dana@example.com")
    noa = await seed_user(uow_factory, email="noa@example.com")
    async with uow_factory() as uow:
        await uow.users.update(attrs.evolve(noa, first_name="Noa", phone=None))
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.users.get(noa.id) == attrs.evolve(noa, first_name="Noa", phone=None)
    taken = attrs.evolve(noa, email="Dana@example.com")
    with pytest.raises(Conflict):
        await commit_one(uow_factory, lambda uow: uow.users.update(taken))
    async with uow_factory() as uow:
        assert await uow.users.get_by_email("dana@example.com") == dana


async def test_profile_upsert_inserts_then_replaces(uow_factory: UnitOfWorkFactory) -> None:
    org = await seed_org(uow_factory)
    user = await seed_user(uow_factory)
    first = builders.profile(org.id, user.id, notes="knee injury")
    second = builders.profile(
        org.id, user.id, city="Haifa", notes=None, external_source="arbox", external_id="42"
    )
    async with uow_factory() as uow:
        assert await uow.profiles.get(org.id, user.id) is None
        await uow.profiles.upsert(first)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.profiles.get(org.id, user.id) == first
        await uow.profiles.upsert(second)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.profiles.get(org.id, user.id) == second


async def test_a_users_token_revocation_and_admin_flag_round_trip(
    uow_factory: UnitOfWorkFactory,
) -> None:
    user = await seed_user(uow_factory, email="ops@example.com", is_platform_admin=True)
    assert user.tokens_valid_after is None
    revoked = user.revoke_tokens(builders.T0).with_platform_admin(False)
    async with uow_factory() as uow:
        await uow.users.update(revoked)
        await uow.commit()
    async with uow_factory() as uow:
        found = await uow.users.get(user.id)
    assert found == revoked
    assert found is not None
    assert found.tokens_valid_after is not None
    assert found.tokens_valid_after.utcoffset() is not None
    assert found.is_platform_admin is False

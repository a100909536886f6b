"""The rules of idempotent retries (fitdata_core.usecases.idempotency) on the memory adapters:
claim, replay, a different request under the same key, a request still at work, expiry,
abandoned claims and released ones, and the caller's right checked on every claim."""

from __future__ import annotations

from datetime import timedelta

import attrs
import pytest

from fitdata_adapters.clock import ManualClock
from fitdata_adapters.memory import memory_services
from fitdata_adapters.memory.services import MEMORY_EPOCH
from fitdata_core.access import Action
from fitdata_core.errors import (
    IdempotencyKeyInUse,
    IdempotencyKeyReused,
    InvalidInput,
    NotFound,
    PermissionDenied,
)
from fitdata_core.model.organizations import MembershipStatus, Role
from fitdata_core.services import Actor, Services
from fitdata_core.usecases.idempotency import (
    CLAIM_LEASE,
    RETENTION,
    Claim,
    StoredAnswer,
    claim,
    parse_key,
    release,
    remember,
)
from support import builders

ANSWER = StoredAnswer(202, b'{"data": {"jobId": "j1"}}')
OWNER = builders.new_id()


async def _claim(services: Services, org_id: str, key: str, fingerprint: str) -> Claim:
    """A claim by the org's owner for an export (a right the owner has)."""
    return await claim(services, Actor(OWNER), org_id, key, fingerprint, Action.EXPORT)


async def _add_org(services: Services) -> str:
    """A gym whose owner is :data:`OWNER`."""
    org = builders.organization()
    async with services.uow() as uow:
        await uow.organizations.add(org)
        if await uow.users.get(OWNER) is None:
            await uow.users.add(builders.user(id=OWNER))
        await uow.memberships.add(builders.membership(org.id, OWNER, role=Role.OWNER))
        await uow.commit()
    return org.id


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(MEMORY_EPOCH)


@pytest.fixture
def services(clock: ManualClock) -> Services:
    return memory_services(clock=clock)


@pytest.fixture
async def org_id(services: Services) -> str:
    return await _add_org(services)


async def test_a_retry_of_a_finished_request_gets_its_answer(
    services: Services, org_id: str
) -> None:
    first = await _claim(services, org_id, "k1", "fp")
    assert first.answer is None
    assert first.record is not None
    await remember(services, first.record, ANSWER)

    again = await _claim(services, org_id, "k1", "fp")

    assert again.answer == ANSWER
    assert again.record is None


async def test_the_same_key_for_another_request_is_refused(services: Services, org_id: str) -> None:
    first = await _claim(services, org_id, "k1", "fp")
    assert first.record is not None
    await remember(services, first.record, ANSWER)

    with pytest.raises(IdempotencyKeyReused):
        await _claim(services, org_id, "k1", "another body")


async def test_a_retry_while_the_first_still_works_is_told_to_wait(
    services: Services, org_id: str
) -> None:
    await _claim(services, org_id, "k1", "fp")

    with pytest.raises(IdempotencyKeyInUse):
        await _claim(services, org_id, "k1", "fp")


async def test_keys_are_per_organization(services: Services, org_id: str) -> None:
    other = await _add_org(services)
    first = await _claim(services, org_id, "k1", "fp")
    assert first.record is not None
    await remember(services, first.record, ANSWER)

    elsewhere = await _claim(services, other, "k1", "fp")

    assert elsewhere.answer is None
    assert elsewhere.record is not None


async def test_after_24_hours_the_key_is_forgotten(
    services: Services, org_id: str, clock: ManualClock
) -> None:
    first = await _claim(services, org_id, "k1", "fp")
    assert first.record is not None
    await remember(services, first.record, ANSWER)

    clock.advance(RETENTION - timedelta(seconds=1))
    assert (await _claim(services, org_id, "k1", "fp")).answer == ANSWER
    clock.advance(timedelta(seconds=1))
    later = await _claim(services, org_id, "k1", "another body")

    assert later.answer is None
    assert later.record is not None


async def test_an_abandoned_claim_is_taken_over_after_its_lease(
    services: Services, org_id: str, clock: ManualClock
) -> None:
    await _claim(services, org_id, "k1", "fp")  # its process died: never remembered

    clock.advance(CLAIM_LEASE - timedelta(seconds=1))
    with pytest.raises(IdempotencyKeyInUse):
        await _claim(services, org_id, "k1", "fp")
    clock.advance(timedelta(seconds=1))
    taken = await _claim(services, org_id, "k1", "fp")

    assert taken.record is not None
    assert taken.record.created_at == clock.now()


async def test_a_released_claim_runs_again(services: Services, org_id: str) -> None:
    first = await _claim(services, org_id, "k1", "fp")
    assert first.record is not None
    await release(services, first.record)

    again = await _claim(services, org_id, "k1", "another body")

    assert again.record is not None


async def test_an_old_release_does_not_remove_a_newer_claim(
    services: Services, org_id: str, clock: ManualClock
) -> None:
    stale = await _claim(services, org_id, "k1", "fp")
    assert stale.record is not None
    clock.advance(CLAIM_LEASE)
    newer = await _claim(services, org_id, "k1", "fp")
    assert newer.record is not None

    await release(services, stale.record)

    with pytest.raises(IdempotencyKeyInUse):
        await _claim(services, org_id, "k1", "fp")


@pytest.mark.parametrize(
    ("role", "status"),
    [
        (Role.COACH, MembershipStatus.ACTIVE),
        (Role.MEMBER, MembershipStatus.ACTIVE),
        (Role.OWNER, MembershipStatus.SUSPENDED),
        (Role.OWNER, MembershipStatus.CANCELLED),
    ],
)
async def test_a_caller_who_lost_the_right_is_refused_not_answered(
    services: Services, org_id: str, role: Role, status: MembershipStatus
) -> None:
    first = await _claim(services, org_id, "k1", "fp")
    assert first.record is not None
    await remember(services, first.record, ANSWER)
    async with services.uow() as uow:
        membership = await uow.memberships.get(org_id, OWNER)
        assert membership is not None
        await uow.memberships.update(attrs.evolve(membership, role=role, status=status))
        await uow.commit()

    with pytest.raises(PermissionDenied, match="Only owners and admins can export data"):
        await _claim(services, org_id, "k1", "fp")
    # The answer is kept for nobody else's benefit, but also not lost: the right restored,
    # the retry is answered again.
    async with services.uow() as uow:
        membership = await uow.memberships.get(org_id, OWNER)
        assert membership is not None
        await uow.memberships.update(
            attrs.evolve(membership, role=Role.OWNER, status=MembershipStatus.ACTIVE)
        )
        await uow.commit()
    assert (await _claim(services, org_id, "k1", "fp")).answer == ANSWER


async def test_a_caller_with_no_right_holds_no_key(services: Services, org_id: str) -> None:
    stranger = Actor(builders.new_id())

    with pytest.raises(PermissionDenied):
        await claim(services, stranger, org_id, "k1", "fp", Action.EXPORT)
    with pytest.raises(NotFound):
        await claim(services, stranger, builders.new_id(), "k1", "fp", Action.EXPORT)
    # Nothing was claimed: the owner's first request with that key runs.
    assert (await _claim(services, org_id, "k1", "fp")).record is not None


@pytest.mark.parametrize("key", ["", "a b", "ключ", "x" * 256, "tab\there"])
def test_a_key_is_1_to_255_visible_ascii_characters(key: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_key(key)
    assert raised.value.field == "Idempotency-Key"


def test_a_uuid_is_a_good_key() -> None:
    assert (
        parse_key("0b7c1c0e-3f7e-4f0e-9d9e-6c2a1b0c9d8e") == "0b7c1c0e-3f7e-4f0e-9d9e-6c2a1b0c9d8e"
    )

"""Builders for the billing use-case tests: a world of memory adapters and a gym in it.

The gateway is :class:`~fitdata_adapters.memory.payments.MemoryPaymentGateway` (a working
Cardcom stand-in, not a mock), also exported here as ``FakeGateway``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import attrs

from fitdata_adapters.clock import ManualClock
from fitdata_adapters.crypto.keyring import KeyringCipher
from fitdata_adapters.mail.memory import MemoryMailer
from fitdata_adapters.memory import MemoryErrorReporter, memory_services
from fitdata_adapters.memory.payments import TEST_CARD_TOKEN, MemoryPaymentGateway
from fitdata_core.model.billing import (
    BillingTransaction,
    PlatformSubscription,
    StoredCard,
    SubscriptionStatus,
)
from fitdata_core.model.organizations import Organization, Role
from fitdata_core.model.tiers import PlatformTier
from fitdata_core.policies import BillingPolicy
from fitdata_core.services import Actor, Services
from fitdata_core.usecases.billing.common import card_context
from support import builders

START = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
CARD_TOKEN = TEST_CARD_TOKEN
FakeGateway = MemoryPaymentGateway


@attrs.frozen
class Gym:
    org_id: str
    owner: Actor
    admin: Actor
    coach: Actor
    member: Actor
    owner_email: str


@attrs.frozen
class World:
    svc: Services
    clock: ManualClock
    gateway: FakeGateway
    mailer: MemoryMailer
    errors: MemoryErrorReporter
    cipher: KeyringCipher

    def messages(self, text: str) -> list[str]:
        return [r.message for r in self.errors.reports if text in r.message]


def make_world(**policy: Any) -> World:
    """A billing world on the in-memory services; ``policy`` overrides BillingPolicy fields."""
    clock = ManualClock(START)
    gateway = FakeGateway()
    mailer = MemoryMailer()
    errors = MemoryErrorReporter()
    cipher = KeyringCipher.from_spec(KeyringCipher.generate_spec("test1"))
    svc = memory_services(
        clock=clock,
        mailer=mailer,
        cipher=cipher,
        errors=errors,
        payment_gateway=gateway,
        billing=BillingPolicy(**{"public_url": "https://app.fitdata.test", **policy}),
    )
    return World(svc, clock, gateway, mailer, errors, cipher)


async def add_gym(svc: Services, name: str = "Tel Aviv Strength") -> Gym:
    org = builders.organization(name=name)
    actors: dict[Role, Actor] = {}
    emails: dict[Role, str] = {}
    async with svc.uow() as uow:
        await uow.organizations.add(org)
        for role in Role:
            user = builders.user(email=f"{role.value}-{org.id[:8]}@gym.test")
            await uow.users.add(user)
            await uow.memberships.add(builders.membership(org.id, user.id, role=role))
            actors[role] = Actor(user.id)
            emails[role] = user.email
        await uow.commit()
    return Gym(
        org_id=org.id,
        owner=actors[Role.OWNER],
        admin=actors[Role.ADMIN],
        coach=actors[Role.COACH],
        member=actors[Role.MEMBER],
        owner_email=emails[Role.OWNER],
    )


async def subscription_of(svc: Services, org_id: str) -> PlatformSubscription | None:
    async with svc.uow() as uow:
        return await uow.subscriptions.get_by_org(org_id)


async def org_of(svc: Services, org_id: str) -> Organization:
    async with svc.uow() as uow:
        org = await uow.organizations.get(org_id)
    assert org is not None
    return org


async def transactions_of(svc: Services, org_id: str) -> list[BillingTransaction]:
    """Oldest first."""
    async with svc.uow() as uow:
        page = await uow.billing_transactions.list_for_org(org_id, limit=1000, offset=0)
    return sorted(page.items, key=lambda t: t.created_at)


async def event_names(svc: Services, org_id: str) -> list[str]:
    async with svc.uow() as uow:
        page = await uow.billing_events.list_for_org(org_id, limit=1000, offset=0)
    return [e.name for e in page.items]


def sealed_card(world: World, org_id: str, token: str = CARD_TOKEN) -> StoredCard:
    sealed = world.cipher.encrypt(token.encode(), context=card_context(org_id))
    return StoredCard(sealed.blob, sealed.key_id, expiry_mmyy="1228", last4="0008")


async def put_subscription(
    world: World,
    org_id: str,
    *,
    period_end: datetime,
    tier: PlatformTier = PlatformTier.PRO,
    status: SubscriptionStatus = SubscriptionStatus.ACTIVE,
    with_card: bool = True,
    **kw: object,
) -> PlatformSubscription:
    """A subscription as a past checkout would have left it, and the org on its tier."""
    sub = builders.subscription(
        org_id,
        tier=tier,
        status=status,
        created_at=period_end - timedelta(days=62),
        current_period_start=period_end - timedelta(days=31),
        current_period_end=period_end,
        card=sealed_card(world, org_id) if with_card else None,
        **kw,
    )
    async with world.svc.uow() as uow:
        await uow.subscriptions.save(sub)
        org = await uow.organizations.get(org_id)
        assert org is not None
        await uow.organizations.update(org.with_tier(sub.effective_tier))
        await uow.commit()
    return sub

"""Platform subscriptions, billing transactions and the billing event timeline."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from fitdata_adapters.db import tables as t
from fitdata_adapters.db.repositories.base import SqlRepository, fetch_page, older_than
from fitdata_core.events import DomainEvent
from fitdata_core.model.billing import (
    BillingTransaction,
    CancelReason,
    PlatformSubscription,
    StoredCard,
    SubscriptionStatus,
    TransactionKind,
    TransactionStatus,
)
from fitdata_core.model.tiers import PlatformTier
from fitdata_core.money import Money
from fitdata_core.ports.repositories import Page, PlacedEvent

# --- subscriptions -------------------------------------------------------------------------


def _subscription_values(s: PlatformSubscription) -> dict[str, Any]:
    card = s.card
    return {
        "id": s.id,
        "organization_id": s.organization_id,
        "tier": s.tier.value,
        "status": s.status.value,
        "created_at": s.created_at,
        "current_period_start": s.current_period_start,
        "current_period_end": s.current_period_end,
        "cancel_at_period_end": s.cancel_at_period_end,
        "failed_payment_count": s.failed_payment_count,
        "cancel_reason": None if s.cancel_reason is None else s.cancel_reason.value,
        "cancelled_at": s.cancelled_at,
        "last_charged_at": s.last_charged_at,
        "card_token_ciphertext": None if card is None else card.token_ciphertext,
        "card_key_id": None if card is None else card.key_id,
        "card_expiry_mmyy": None if card is None else card.expiry_mmyy,
        "card_last4": None if card is None else card.last4,
        "next_payment_attempt_at": s.next_payment_attempt_at,
    }


def _subscription(row: Mapping[str, Any]) -> PlatformSubscription:
    card = None
    if row["card_token_ciphertext"] is not None:
        card = StoredCard(
            token_ciphertext=bytes(row["card_token_ciphertext"]),
            key_id=row["card_key_id"],
            expiry_mmyy=row["card_expiry_mmyy"],
            last4=row["card_last4"],
        )
    reason = row["cancel_reason"]
    return PlatformSubscription(
        id=row["id"],
        organization_id=row["organization_id"],
        tier=PlatformTier(row["tier"]),
        status=SubscriptionStatus(row["status"]),
        created_at=row["created_at"],
        current_period_start=row["current_period_start"],
        current_period_end=row["current_period_end"],
        cancel_at_period_end=bool(row["cancel_at_period_end"]),
        failed_payment_count=row["failed_payment_count"],
        cancel_reason=None if reason is None else CancelReason(reason),
        cancelled_at=row["cancelled_at"],
        last_charged_at=row["last_charged_at"],
        card=card,
        next_payment_attempt_at=row["next_payment_attempt_at"],
    )


def _due(as_of: datetime | sa.BindParameter[datetime]) -> tuple[sa.ColumnElement[bool], ...]:
    """A subscription whose period has ended by ``as_of`` and that is not cancelled."""
    s = t.platform_subscriptions
    return (
        s.c.status != SubscriptionStatus.CANCELLED.value,
        s.c.current_period_end.is_not(None),
        s.c.current_period_end <= as_of,
    )


def _claim_due_statement() -> sa.Update:
    """Claim and read in one statement: the inner SELECT locks the oldest unclaimed due rows
    (skipping rows another claimer holds), the UPDATE sets the lease and returns them. Built
    once with bind parameters, since every batch of every sweep runs it."""
    s = t.platform_subscriptions
    now = sa.bindparam("now", type_=s.c.renewal_claimed_until.type)
    pick = (
        sa.select(s.c.id)
        .where(
            *_due(sa.bindparam("as_of", type_=s.c.current_period_end.type)),
            sa.or_(s.c.renewal_claimed_until.is_(None), s.c.renewal_claimed_until <= now),
        )
        .order_by(s.c.current_period_end, s.c.id)
        .limit(sa.bindparam("limit"))
        .with_for_update(skip_locked=True)
    )
    return (
        s.update()
        .where(s.c.id.in_(pick.scalar_subquery()))
        .values(renewal_claimed_until=sa.bindparam("until", type_=s.c.renewal_claimed_until.type))
        .returning(*s.c)
    )


_CLAIM_DUE = _claim_due_statement()


# The statements every renewal and activation runs, built once at import with bind
# parameters: building them per call (an upsert's EXCLUDED alias above all) cost more CPU than
# the rest of the SQL path. Values go in as execution parameters.
_SUB = t.platform_subscriptions
_SUB_BY_ORG = sa.select(_SUB).where(_SUB.c.organization_id == sa.bindparam("org_id"))
_SUB_BY_ORG_FOR_UPDATE = _SUB_BY_ORG.with_for_update()
# In one order, so that two units of work locking several never wait on each other in a cycle.
_SUBS_BY_ORG_FOR_UPDATE = (
    sa.select(_SUB)
    .where(_SUB.c.organization_id.in_(sa.bindparam("org_ids", expanding=True)))
    .order_by(_SUB.c.organization_id)
    .with_for_update()
)


@functools.cache
def _upsert_subscription(dialect: str, columns: tuple[str, ...]) -> sa.Insert:
    """``INSERT ... ON CONFLICT (organization_id) DO UPDATE`` of ``columns`` (what ``save``
    writes; the renewal claim is not among them, so saving a renewal's outcome keeps it).
    Cached per dialect and column list: in practice built once per process."""
    statement = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(_SUB)
    return statement.on_conflict_do_update(
        index_elements=["organization_id"],
        set_={name: statement.excluded[name] for name in columns if name != "organization_id"},
    )


class SqlSubscriptionRepository(SqlRepository):
    """One subscription per organization; ``save`` replaces the organization's row."""

    async def get_by_org(self, org_id: str) -> PlatformSubscription | None:
        row = await self._db.one_or_none(_SUB_BY_ORG, {"org_id": org_id})
        return None if row is None else _subscription(row)

    async def get_by_org_for_update(self, org_id: str) -> PlatformSubscription | None:
        row = await self._db.one_or_none(_SUB_BY_ORG_FOR_UPDATE, {"org_id": org_id})
        return None if row is None else _subscription(row)

    async def get_many_by_org_for_update(
        self, org_ids: Sequence[str]
    ) -> dict[str, PlatformSubscription]:
        if not org_ids:
            return {}
        rows = await self._db.all(_SUBS_BY_ORG_FOR_UPDATE, {"org_ids": sorted(set(org_ids))})
        return {row["organization_id"]: _subscription(row) for row in rows}

    async def save(self, subscription: PlatformSubscription) -> None:
        values = _subscription_values(subscription)
        statement = _upsert_subscription(self._db.conn.dialect.name, tuple(values))
        await self._db.execute(statement, values)

    async def save_many(self, subscriptions: Sequence[PlatformSubscription]) -> None:
        """The upsert of :meth:`save` as one ``executemany``."""
        if not subscriptions:
            return
        values = [_subscription_values(s) for s in subscriptions]
        statement = _upsert_subscription(self._db.conn.dialect.name, tuple(values[0]))
        await self._db.execute(statement, values)

    async def list_due(self, as_of: datetime, *, limit: int) -> list[PlatformSubscription]:
        s = t.platform_subscriptions
        rows = await self._db.all(
            sa.select(s)
            .where(*_due(as_of))
            .order_by(s.c.current_period_end, s.c.id)
            .limit(limit)
            # Several sweepers may run at once: each takes the rows nobody else holds.
            .with_for_update(skip_locked=True)
        )
        return [_subscription(row) for row in rows]

    async def claim_due(
        self, as_of: datetime, *, limit: int, now: datetime, until: datetime
    ) -> list[PlatformSubscription]:
        """The row locks (Postgres; SQLite's ``BEGIN IMMEDIATE`` admits one writer anyway)
        keep two claimers apart while they claim; the lease keeps them apart afterwards."""
        rows = await self._db.all(
            _CLAIM_DUE, {"as_of": as_of, "now": now, "until": until, "limit": limit}
        )
        # RETURNING promises no order: put the claimed rows back in the sweep's.
        subs = [_subscription(row) for row in rows]
        subs.sort(key=lambda sub: (sub.current_period_end, sub.id))
        return subs

    async def release_claims(self, org_ids: Sequence[str], *, until: datetime) -> None:
        if not org_ids:
            return
        s = t.platform_subscriptions
        await self._db.execute(
            s.update()
            .where(s.c.organization_id.in_(list(org_ids)), s.c.renewal_claimed_until == until)
            .values(renewal_claimed_until=None)
        )


# --- billing transactions ------------------------------------------------------------------


def _transaction_values(txn: BillingTransaction) -> dict[str, Any]:
    return {
        "id": txn.id,
        "organization_id": txn.organization_id,
        "kind": txn.kind.value,
        "tier": txn.tier.value,
        "amount": txn.amount.amount,
        "currency": txn.amount.currency,
        "status": txn.status.value,
        "created_at": txn.created_at,
        "metadata": txn.metadata,
        "low_profile_id": txn.low_profile_id,
        "external_uniq_id": txn.external_uniq_id,
        "provider_transaction_id": txn.provider_transaction_id,
        "completed_at": txn.completed_at,
        "failure_reason": txn.failure_reason,
        "alerted_at": txn.alerted_at,
    }


def _transaction(row: Mapping[str, Any]) -> BillingTransaction:
    return BillingTransaction(
        id=row["id"],
        organization_id=row["organization_id"],
        kind=TransactionKind(row["kind"]),
        tier=PlatformTier(row["tier"]),
        amount=Money(row["amount"], row["currency"]),
        status=TransactionStatus(row["status"]),
        created_at=row["created_at"],
        metadata=dict(row["metadata"]),
        low_profile_id=row["low_profile_id"],
        external_uniq_id=row["external_uniq_id"],
        provider_transaction_id=row["provider_transaction_id"],
        completed_at=row["completed_at"],
        failure_reason=row["failure_reason"],
        alerted_at=row["alerted_at"],
    )


_TXN = t.platform_billing_transactions
_INSERT_TXN = _TXN.insert()
_TXN_FOR_UPDATE = sa.select(_TXN).where(_TXN.c.id == sa.bindparam("txn_id")).with_for_update()
_TXNS_FOR_UPDATE = (
    sa.select(_TXN)
    .where(_TXN.c.id.in_(sa.bindparam("txn_ids", expanding=True)))
    .order_by(_TXN.c.id)
    .with_for_update()
)
# Its SET clause comes from the execution parameters (every column of ``_transaction_values``).
_UPDATE_TXN = _TXN.update().where(_TXN.c.id == sa.bindparam("txn_id"))


@functools.cache
def _insert_txn_if_new(dialect: str) -> sa.Insert:
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(_TXN)
    return insert.on_conflict_do_nothing(index_elements=["external_uniq_id"]).returning(_TXN.c.id)


class SqlBillingTransactionRepository(SqlRepository):
    async def add(self, txn: BillingTransaction) -> None:
        await self._db.execute(_INSERT_TXN, _transaction_values(txn))

    async def add_if_new(self, txn: BillingTransaction) -> bool:
        """``INSERT ... ON CONFLICT (external_uniq_id) DO NOTHING RETURNING id``: a renewal
        records its attempt and learns whether another sweeper already did, in one statement
        (a failed plain INSERT would abort the whole Postgres transaction)."""
        statement = _insert_txn_if_new(self._db.conn.dialect.name)
        return (await self._db.execute(statement, _transaction_values(txn))).first() is not None

    async def add_many_if_new(self, txns: Sequence[BillingTransaction]) -> set[str]:
        """The same statement with many rows: SQLAlchemy sends them as one multi-row
        ``INSERT ... VALUES`` ("insertmanyvalues"), whose ``RETURNING`` names the rows
        inserted; a taken external id returns nothing and aborts nothing."""
        if not txns:
            return set()
        statement = _insert_txn_if_new(self._db.conn.dialect.name)
        rows = await self._db.execute(statement, [_transaction_values(txn) for txn in txns])
        return set(rows.scalars())

    async def _one(
        self, where: sa.ColumnElement[bool], *, lock: bool = False
    ) -> BillingTransaction | None:
        query = sa.select(t.platform_billing_transactions).where(where)
        if lock:
            query = query.with_for_update()
        row = await self._db.one_or_none(query)
        return None if row is None else _transaction(row)

    async def get(self, txn_id: str) -> BillingTransaction | None:
        return await self._one(t.platform_billing_transactions.c.id == txn_id)

    async def get_for_update(self, txn_id: str) -> BillingTransaction | None:
        row = await self._db.one_or_none(_TXN_FOR_UPDATE, {"txn_id": txn_id})
        return None if row is None else _transaction(row)

    async def get_by_low_profile_id(self, low_profile_id: str) -> BillingTransaction | None:
        return await self._one(t.platform_billing_transactions.c.low_profile_id == low_profile_id)

    async def get_many_for_update(self, txn_ids: Sequence[str]) -> dict[str, BillingTransaction]:
        if not txn_ids:
            return {}
        rows = await self._db.all(_TXNS_FOR_UPDATE, {"txn_ids": sorted(set(txn_ids))})
        return {row["id"]: _transaction(row) for row in rows}

    async def update(self, txn: BillingTransaction) -> None:
        await self._db.execute(_UPDATE_TXN, {**_transaction_values(txn), "txn_id": txn.id})

    async def update_many(self, txns: Sequence[BillingTransaction]) -> None:
        """The ``UPDATE`` of :meth:`update` as one ``executemany``."""
        if not txns:
            return
        params = [{**_transaction_values(txn), "txn_id": txn.id} for txn in txns]
        await self._db.execute(_UPDATE_TXN, params)

    async def list_for_org(
        self,
        org_id: str,
        *,
        limit: int,
        offset: int = 0,
        after: tuple[datetime, str] | None = None,
    ) -> Page[BillingTransaction]:
        b = t.platform_billing_transactions
        return await fetch_page(
            self._db,
            sa.select(b).where(b.c.organization_id == org_id),
            (b.c.created_at.desc(), b.c.id.desc()),
            _transaction,
            limit=limit,
            offset=offset,
            # Newest first, so "after" is "older than": one range on the
            # (organization_id, created_at, id) index however deep the page.
            after=older_than(b, *after) if after is not None else None,
        )

    async def list_by_status(
        self,
        status: TransactionStatus,
        *,
        org_id: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        limit: int = 100,
    ) -> list[BillingTransaction]:
        """Oldest first; both time bounds are exclusive."""
        b = t.platform_billing_transactions
        query = sa.select(b).where(b.c.status == status.value)
        if org_id is not None:
            query = query.where(b.c.organization_id == org_id)
        if created_after is not None:
            query = query.where(b.c.created_at > created_after)
        if created_before is not None:
            query = query.where(b.c.created_at < created_before)
        rows = await self._db.all(query.order_by(b.c.created_at, b.c.id).limit(limit))
        return [_transaction(row) for row in rows]


# --- billing events ------------------------------------------------------------------------


def _event(row: Mapping[str, Any]) -> DomainEvent:
    return DomainEvent(
        name=row["name"],
        aggregate=row["aggregate"],
        aggregate_id=row["aggregate_id"],
        occurred_at=row["occurred_at"],
        data=dict(row["data"]),
    )


def _placed_event(row: Mapping[str, Any]) -> PlacedEvent:
    return PlacedEvent(position=int(row["id"]), event=_event(row))


def _event_values(org_id: str, event: DomainEvent) -> dict[str, Any]:
    return {
        "organization_id": org_id,
        "name": event.name,
        "aggregate": event.aggregate,
        "aggregate_id": event.aggregate_id,
        "occurred_at": event.occurred_at,
        "data": event.data,
    }


_INSERT_EVENT = t.billing_events.insert()


class SqlBillingEventRepository(SqlRepository):
    """The timeline is ordered by insertion (an auto-increment id), oldest first."""

    async def add(self, org_id: str, event: DomainEvent) -> None:
        await self._db.execute(_INSERT_EVENT, _event_values(org_id, event))

    async def add_many(self, org_id: str, events: Sequence[DomainEvent]) -> None:
        """One ``executemany`` (psycopg pipelines the rows: one round trip). The rows are
        inserted in list order and take their ids in that order, so the timeline keeps the
        order the events happened in."""
        if not events:
            return
        await self._db.execute(_INSERT_EVENT, [_event_values(org_id, e) for e in events])

    async def add_for_orgs(self, entries: Sequence[tuple[str, DomainEvent]]) -> None:
        """One ``executemany`` as :meth:`add_many`, the rows of several organizations."""
        if not entries:
            return
        await self._db.execute(_INSERT_EVENT, [_event_values(o, e) for o, e in entries])

    async def list_for_org(self, org_id: str, *, limit: int, offset: int) -> Page[DomainEvent]:
        e = t.billing_events
        return await fetch_page(
            self._db,
            sa.select(e).where(e.c.organization_id == org_id),
            (e.c.id,),
            _event,
            limit=limit,
            offset=offset,
        )

    async def list_placed(
        self, org_id: str, *, limit: int, offset: int = 0, after: int | None = None
    ) -> Page[PlacedEvent]:
        """The row id is the position: ids grow with every insert, and the
        (organization_id, id) index serves "this org's events after id N" as one range.

        On Postgres ids are taken at insert and become visible at commit: an event whose
        transaction commits after a later-numbered one of the same org was read could be
        passed by a reader in between. Writers that hold the org's subscription row lock
        (activation, cancellation, renewal) commit in id order; two writers of one org
        without it, racing a reader, are the case this does not cover."""
        e = t.billing_events
        return await fetch_page(
            self._db,
            sa.select(e).where(e.c.organization_id == org_id),
            (e.c.id,),
            _placed_event,
            limit=limit,
            offset=offset,
            after=e.c.id > after if after is not None else None,
        )

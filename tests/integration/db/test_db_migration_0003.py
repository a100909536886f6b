"""Migration 0003 back-fills the dunning schedule of subscriptions already past due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from fitdata_adapters.db import migrate
from fitdata_adapters.db import tables as t
from fitdata_adapters.db.engine import create_sync_engine

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)
SPACING = timedelta(hours=20)  # the old rule: a retry 20 hours after the last failed renewal


def _subscription(org_id: str, status: str) -> dict[str, object]:
    # Only columns revision 0002 has (the insert names only the keys given here).
    return {
        "id": f"sub-{org_id}",
        "organization_id": org_id,
        "tier": "pro",
        "status": status,
        "created_at": T0 - timedelta(days=40),
        "current_period_start": T0 - timedelta(days=31),
        "current_period_end": T0,
        "cancel_at_period_end": False,
        "failed_payment_count": 1 if status == "past_due" else 0,
    }


def _renewal(org_id: str, number: int, status: str, at: datetime) -> dict[str, object]:
    return {
        "id": f"txn-{org_id}-{number}",
        "organization_id": org_id,
        "kind": "renewal",
        "tier": "pro",
        "amount": Decimal("249.00"),
        "currency": "ILS",
        "status": status,
        "created_at": at,
        "metadata": {},
    }


def test_past_due_rows_get_their_next_attempt_from_the_last_failed_renewal(
    empty_db_url: str,
) -> None:
    migrate.upgrade(empty_db_url, "0002")
    engine = create_sync_engine(empty_db_url)
    try:
        with engine.begin() as conn:
            for org_id in ("dunning", "fresh", "active"):
                conn.execute(
                    t.organizations.insert().values(
                        id=org_id, name=org_id, platform_tier="pro", created_at=T0
                    )
                )
            conn.execute(
                sa.insert(t.platform_subscriptions).values(
                    [
                        _subscription("dunning", "past_due"),
                        _subscription("fresh", "past_due"),
                        _subscription("active", "active"),
                    ]
                ),
            )
            conn.execute(
                t.platform_billing_transactions.insert(),
                [
                    _renewal("dunning", 1, "failed", T0 + timedelta(hours=1)),
                    _renewal("dunning", 2, "failed", T0 + timedelta(days=1, hours=1)),
                    _renewal("dunning", 3, "pending", T0 + timedelta(days=2, hours=1)),
                    _renewal("active", 1, "failed", T0 + timedelta(hours=1)),
                ],
            )
        migrate.upgrade(empty_db_url)
        with engine.connect() as conn:
            rows = conn.execute(
                sa.select(
                    t.platform_subscriptions.c.organization_id,
                    t.platform_subscriptions.c.next_payment_attempt_at,
                )
            ).all()
    finally:
        engine.dispose()

    assert dict(rows) == {
        "dunning": T0 + timedelta(days=1, hours=1) + SPACING,  # the latest *failed* one
        "fresh": None,  # no failure on record: the next sweep tries it, as before
        "active": None,  # only past-due subscriptions have a next attempt
    }

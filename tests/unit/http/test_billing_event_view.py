"""Billing audit events as the API shows them: ``data`` is typed, with every key present (null
when the event does not carry it), read from the events the billing model really records."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fitdata_adapters.converter import unstructure
from fitdata_core.events import DomainEvent
from fitdata_core.usecases.billing.common import new_transaction_event
from fitdata_http.controllers.billing import BillingEventView
from support import builders

NOTHING = {
    "kind": None,
    "tier": None,
    "amount": None,
    "reason": None,
    "count": None,
    "periodEnd": None,
    "nextAttemptAt": None,
    "fromTier": None,
    "toTier": None,
}


def _data(event: DomainEvent) -> dict[str, Any]:
    shown: dict[str, Any] = unstructure(BillingEventView.of(event))["data"]
    return shown


def test_a_transaction_created_event_shows_kind_tier_and_amount() -> None:
    txn = builders.transaction(builders.new_id())

    data = _data(new_transaction_event(txn, builders.at(0)))

    assert data == NOTHING | {
        "kind": txn.kind.value,
        "tier": txn.tier.value,
        "amount": str(txn.amount.amount),
    }


def test_a_renewal_shows_its_period_end_and_a_failure_its_count_and_next_attempt() -> None:
    sub = builders.subscription(builders.new_id())
    end = builders.at(60 * 24 * 30)

    _, renewed = sub.renewal_succeeded(builders.at(1), period_end=end)
    _, failed = sub.renewal_failed(builders.at(2), "card declined", retry_spacing=timedelta(days=3))

    assert _data(renewed[0]) == NOTHING | {"periodEnd": end.isoformat().replace("+00:00", "Z")}
    assert _data(failed[0]) == NOTHING | {
        "count": 1,
        "reason": "card declined",
        "nextAttemptAt": (builders.at(2) + timedelta(days=3)).isoformat().replace("+00:00", "Z"),
    }


def test_a_tier_change_shows_from_and_to_and_an_empty_event_shows_nothing() -> None:
    org = builders.new_id()
    changed = DomainEvent(
        "organization.tier_changed",
        "organization",
        org,
        builders.at(0),
        {"from": "pro", "to": "lite"},
    )
    scheduled = DomainEvent(
        "subscription.cancel_scheduled", "platform_subscription", org, builders.at(0)
    )

    assert _data(changed) == NOTHING | {"fromTier": "pro", "toTier": "lite"}
    assert _data(scheduled) == NOTHING

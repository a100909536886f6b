"""The proofs: one payment settles exactly once under a storm of concurrent deliveries on
Postgres, and the card token is stored only sealed."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
import sqlalchemy as sa
from billing_http_harness import Stack, bearer

from fitdata_core.usecases.billing import reconcile

pytestmark = pytest.mark.integration

EACH = 20


async def test_webhook_verify_and_reconciler_storm_settles_exactly_once(stack: Stack) -> None:
    gym = await stack.gym()
    await stack.suppress_webhooks()
    session = await stack.checkout(gym)
    low_profile_id = session["lowProfileId"]
    await stack.pay(low_profile_id)
    await stack.suppress_webhooks(False)

    # 20 webhooks and 20 return-page verifies over HTTP, 20 reconciler sweeps in this process,
    # plus Cardcom's own delivery: all at once, all for the same payment.
    webhooks = [stack.post_webhook(low_profile_id) for _ in range(EACH)]
    verifies = [stack.verify(gym, low_profile_id) for _ in range(EACH)]
    sweeps = [reconcile(stack.svc) for _ in range(EACH)]
    redeliver = stack.cardcom.post(f"/_sandbox/webhooks/{low_profile_id}/redeliver")
    results = await asyncio.gather(*webhooks, *verifies, *sweeps, redeliver)
    await stack.wait_delivered(low_profile_id)

    webhook_answers = results[:EACH]
    verify_answers = results[EACH : 2 * EACH]
    sweep_reports = results[2 * EACH : 3 * EACH]
    assert all(r.status_code == 200 for r in webhook_answers)
    assert all(r.status_code == 200 for r in verify_answers)
    outcomes = Counter(
        [r.json()["status"] for r in webhook_answers]
        + [r.json()["data"]["outcome"] for r in verify_answers]
    )
    # Every HTTP caller saw the payment settled; a sweep that started after the settlement
    # did not even see it pending.
    assert outcomes["completed"] + outcomes["already_processed"] == 2 * EACH, outcomes
    for report in sweep_reports:
        assert report.completed + report.already_processed <= 1
        assert report.unknown == report.failed == report.hang_alerted == 0
    outcomes["completed"] += sum(report.completed for report in sweep_reports)
    # At most one caller completed it (the winner may be Cardcom's own delivery, whose answer
    # only the sandbox saw).
    assert outcomes["completed"] <= 1, outcomes

    events = Counter(e.name for e in await stack.events(gym.org_id))
    assert events["subscription.activated"] == 1
    assert sum(n for name, n in events.items() if name.startswith("subscription.")) == 1
    assert events["transaction.completed"] == 1
    assert events["organization.tier_changed"] == 1
    receipts = [m for m in stack.mailer.sent if m.subject.startswith("Receipt:")]
    assert [m.to for m in receipts] == [gym.owner_email]
    transactions = await stack.transactions(gym)
    assert [t["status"] for t in transactions] == ["completed"]
    status = await stack.status(gym)
    assert (status["tier"], status["status"]) == ("pro", "active")
    async with stack.runtime.engine.connect() as conn:
        subscriptions = await conn.scalar(
            sa.text("SELECT count(*) FROM platform_subscriptions WHERE organization_id = :org"),
            {"org": gym.org_id},
        )
    assert subscriptions == 1


async def test_card_token_is_stored_encrypted_and_never_served(stack: Stack) -> None:
    gym = await stack.gym()
    low_profile_id = await stack.activate(gym)
    page = (await stack.cardcom.get(f"/_sandbox/low-profiles/{low_profile_id}")).json()
    token: str = page["result"]["TokenInfo"]["Token"]
    assert token

    tables = {
        "platform_subscriptions": sa.text("SELECT * FROM platform_subscriptions"),
        "platform_billing_transactions": sa.text("SELECT * FROM platform_billing_transactions"),
        "billing_events": sa.text("SELECT * FROM billing_events"),
    }
    async with stack.runtime.engine.connect() as conn:
        rows = {
            table: [dict(r) for r in (await conn.execute(query)).mappings()]
            for table, query in tables.items()
        }
    sub_row = rows["platform_subscriptions"][0]
    ciphertext = bytes(sub_row["card_token_ciphertext"])
    assert ciphertext
    assert sub_row["card_key_id"] == "billing-it"
    for table, table_rows in rows.items():
        for row in table_rows:
            for value in row.values():
                raw = bytes(value) if isinstance(value, bytes | memoryview) else str(value).encode()
                assert token.encode() not in raw, f"plaintext token in {table}"
                assert token.replace("-", "").encode() not in raw

    served = [
        await stack.app.get(f"/organizations/{gym.org_id}/billing{path}", headers=bearer(gym.owner))
        for path in ("", "/transactions", "/events")
    ]
    for response in served:
        assert response.status_code == 200
        assert token not in response.text
        assert "ciphertext" not in response.text.lower()

"""QA plan, webhook idempotency: W1–W6, plus the legacy form body and the 503 re-send."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from billing_http_harness import Stack, bearer, webhook_body
from structlog.testing import capture_logs

from fitdata_core.model.billing import TransactionStatus
from fitdata_core.usecases.billing import reconcile
from fitdata_core.usecases.users import set_platform_admin
from support.concurrency import Rendezvous, concurrent_client, pausing_app

pytestmark = pytest.mark.integration


async def _activation_counts(stack: Stack, org_id: str) -> dict[str, int]:
    names = [e.name for e in await stack.events(org_id)]
    return {
        "activated": names.count("subscription.activated"),
        "completed": names.count("transaction.completed"),
        "tier_changed": names.count("organization.tier_changed"),
    }


def _receipts(stack: Stack) -> int:
    return sum("receipt" in m.subject.lower() for m in stack.mailer.sent)


async def test_W1_same_ipn_posted_twice(stack: Stack) -> None:
    gym = await stack.gym()
    low_profile_id = await stack.activate(gym)  # the first delivery activated
    status_after_first = await stack.status(gym)

    redelivery = await stack.cardcom.post(f"/_sandbox/webhooks/{low_profile_id}/redeliver")
    deliveries = await stack.wait_delivered(low_profile_id, count=2)
    by_hand = await stack.post_webhook(low_profile_id)

    assert redelivery.status_code == 201
    assert [d["state"] for d in deliveries] == ["delivered", "delivered"]
    assert by_hand.json() == {"status": "already_processed"}
    assert await _activation_counts(stack, gym.org_id) == {
        "activated": 1,
        "completed": 1,
        "tier_changed": 1,
    }
    assert await stack.status(gym) == status_after_first
    assert _receipts(stack) == 1


async def test_W2_webhook_and_verify_return_race(stack: Stack) -> None:
    """The webhook and the return page's verify at once, each held right after it read the
    pending transaction in its settling transaction until the other read it too: one of them
    completes it, the other finds it settled (without the row lock both read it pending and
    both activate)."""
    gym = await stack.gym()
    await stack.suppress_webhooks()
    session = await stack.checkout(gym)
    await stack.pay(session["lowProfileId"])
    rendezvous = Rendezvous(parties=2)
    app = pausing_app(
        stack.runtime, rendezvous, repository="billing_transactions", methods=["get_for_update"]
    )

    async with concurrent_client(app) as client:
        webhook, verify = await asyncio.gather(
            client.post("/webhooks/cardcom", json=webhook_body(session["lowProfileId"])),
            client.post(
                f"/organizations/{gym.org_id}/billing/verify-checkout",
                json={"lowProfileId": session["lowProfileId"]},
                headers=bearer(gym.owner),
            ),
        )

    assert rendezvous.arrived == 2  # both read the transaction to settle it
    assert (webhook.status_code, verify.status_code) == (200, 200), (webhook.text, verify.text)
    outcomes = sorted([webhook.json()["status"], verify.json()["data"]["outcome"]])
    assert outcomes == ["already_processed", "completed"]
    assert verify.json()["data"]["tier"] == "pro"
    assert await _activation_counts(stack, gym.org_id) == {
        "activated": 1,
        "completed": 1,
        "tier_changed": 1,
    }
    assert _receipts(stack) == 1


async def test_W3_webhook_and_reconciler_race(stack: Stack) -> None:
    gym = await stack.gym()
    await stack.suppress_webhooks()
    session = await stack.checkout(gym)
    await stack.pay(session["lowProfileId"])
    stack.clock.advance(timedelta(minutes=2))

    webhook, report = await asyncio.gather(
        stack.post_webhook(session["lowProfileId"]), reconcile(stack.svc)
    )

    won_by_webhook = webhook.json()["status"] == "completed"
    assert webhook.json()["status"] in {"completed", "already_processed"}
    assert report.completed == (0 if won_by_webhook else 1)
    # A sweep that lists pending rows after the webhook settled does not see this one at all.
    assert report.already_processed <= (1 if won_by_webhook else 0)
    assert await _activation_counts(stack, gym.org_id) == {
        "activated": 1,
        "completed": 1,
        "tier_changed": 1,
    }
    assert (await stack.status(gym))["tier"] == "pro"


async def test_W4_cardcom_not_finalised_defers_then_reconciler_settles(stack: Stack) -> None:
    gym = await stack.gym()
    session = await stack.checkout(gym)

    with capture_logs() as logs:
        early = await stack.post_webhook(session["lowProfileId"])

    assert early.status_code == 200
    assert early.json() == {"status": "deferred"}
    assert any(
        log.get("outcome") == "deferred" and log.get("low_profile_id") == session["lowProfileId"]
        for log in logs
    )
    async with stack.svc.uow() as uow:
        txn = await uow.billing_transactions.get(session["transactionId"])
    assert txn is not None
    assert txn.status is TransactionStatus.PENDING
    assert (await stack.status(gym))["tier"] == "lite"

    # The payer finishes later; that webhook is lost, and the reconciler's next tick settles it.
    await stack.suppress_webhooks()
    await stack.pay(session["lowProfileId"])
    stack.clock.advance(timedelta(minutes=5))
    report = await reconcile(stack.svc)

    assert report.completed == 1
    assert (await stack.status(gym))["tier"] == "pro"


async def test_W5_webhook_after_manual_cancel_changes_nothing(stack: Stack) -> None:
    gym = await stack.gym()
    session = await stack.checkout(gym)
    admin = await stack.gym("Platform Staff")
    # Admin routes want the stored platform-admin flag as well as the token's claim.
    await set_platform_admin(stack.svc, "owner@platform-staff.example.com", True)
    cancelled = await stack.app.post(
        f"/admin/organizations/{gym.org_id}/billing/force-cancel",
        headers=bearer(admin.owner, platform_admin=True),
    )
    assert cancelled.status_code == 200, cancelled.text

    await stack.pay(session["lowProfileId"])  # the payer had the page open and pays anyway
    await stack.wait_delivered(session["lowProfileId"])
    by_hand = await stack.post_webhook(session["lowProfileId"])

    assert by_hand.json() == {"status": "already_processed"}
    rows = await stack.transactions(gym)
    assert [r["status"] for r in rows] == ["cancelled"]
    status = await stack.status(gym)
    assert status["tier"] == "lite"
    assert "subscription.activated" not in await stack.event_names(gym)
    # Money was taken for a cancelled checkout: a person is told, to refund it.
    assert stack.alerts("payment completed on a cancelled checkout")


async def test_W6_webhook_body_missing_low_profile_id_is_ignored(stack: Stack) -> None:
    gym = await stack.gym()
    session = await stack.checkout(gym)

    empty_json = await stack.app.post("/webhooks/cardcom", json={"ResponseCode": 0})
    empty = await stack.app.post("/webhooks/cardcom", content=b"")
    garbage = await stack.app.post(
        "/webhooks/cardcom", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    form_without_id = await stack.app.post("/webhooks/cardcom", data={"terminalnumber": "1000"})

    for response in (empty_json, empty, form_without_id):
        assert response.status_code == 200
        assert response.json() == {"status": "ignored"}
    # A body that is not JSON at all did not come from Cardcom: a 400 problem (issue 7 item 8),
    # and nothing is looked up either.
    assert garbage.status_code == 400
    assert garbage.json()["code"] == "MALFORMED_JSON"
    calls = (await stack.cardcom.get("/_sandbox/calls")).json()["calls"]
    assert [c["endpoint"] for c in calls] == ["lowprofile/create"]  # nothing was looked up
    async with stack.svc.uow() as uow:
        txn = await uow.billing_transactions.get(session["transactionId"])
    assert txn is not None
    assert txn.status is TransactionStatus.PENDING


@pytest.mark.parametrize("key", ["lowprofilecode", "LowProfileCode"])
async def test_legacy_form_webhook_is_verified_and_activates(stack: Stack, key: str) -> None:
    gym = await stack.gym()
    await stack.suppress_webhooks()
    session = await stack.checkout(gym)
    await stack.pay(session["lowProfileId"])

    # A legacy terminal posts form fields; the forged "declined" code is not believed.
    response = await stack.app.post(
        "/webhooks/cardcom",
        data={"terminalnumber": "1000", key: session["lowProfileId"], "ResponseCode": "999"},
    )

    assert response.json() == {"status": "completed"}
    assert (await stack.status(gym))["tier"] == "pro"


async def test_forged_success_for_an_unpaid_page_activates_nothing(stack: Stack) -> None:
    gym = await stack.gym()
    session = await stack.checkout(gym)

    forged = await stack.post_webhook(
        session["lowProfileId"],
        TranzactionInfo={"ResponseCode": 0, "TranzactionId": 123},
        ReturnValue=session["transactionId"],
    )
    unknown = await stack.post_webhook("00000000-0000-0000-0000-000000000000")

    assert forged.json() == {"status": "deferred"}
    assert unknown.json() == {"status": "unknown"}
    assert (await stack.status(gym))["tier"] == "lite"


async def test_cardcom_unreachable_answers_503_and_cardcom_resends(stack: Stack) -> None:
    gym = await stack.gym()
    session = await stack.checkout(gym)
    # Every attempt of the gateway's retry policy fails for the first delivery only.
    fault = await stack.cardcom.post(
        "/_sandbox/faults", json={"mode": "error", "count": 4, "endpoint": "lowprofile/getlpresult"}
    )
    assert fault.status_code == 201

    await stack.pay(session["lowProfileId"])
    deliveries = await stack.wait_delivered(session["lowProfileId"])

    attempts = deliveries[0]["attempts"]
    assert [a["status"] for a in attempts] == [503, 200]
    assert (await stack.status(gym))["tier"] == "pro"

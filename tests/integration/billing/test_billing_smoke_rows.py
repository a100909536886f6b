"""QA plan, Smoke: S1–S7 over real HTTP, Postgres and the Cardcom sandbox."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from html.parser import HTMLParser

import httpx
import pytest
from billing_http_harness import Stack, bearer

from fitdata_adapters.cardcom_sandbox import TEST_CARD
from fitdata_core.model.billing import SubscriptionStatus, TransactionStatus
from fitdata_core.model.tiers import PlatformTier
from fitdata_core.rules.billing_periods import next_period_end
from fitdata_core.usecases.billing.common import open_card

pytestmark = pytest.mark.integration


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text)


class _Form(HTMLParser):
    """The hosted page's form fields, as a browser would collect them."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "input" and values.get("name"):
            self.fields[str(values["name"])] = values.get("value") or ""


async def pay_in_browser(url: str) -> httpx.Response:
    """Open the payment page and press "Pay" with the prefilled test card; the 303 answer."""
    async with httpx.AsyncClient(timeout=15) as browser:
        page = await browser.get(url)
        assert page.status_code == 200
        form = _Form()
        form.feed(page.text)
        assert form.fields["card_number"] == TEST_CARD
        return await browser.post(url, data=form.fields)


async def test_S1_owner_starts_pro_checkout(stack: Stack) -> None:
    gym = await stack.gym()

    session = await stack.checkout(gym, "pro")

    async with stack.svc.uow() as uow:
        txn = await uow.billing_transactions.get(session["transactionId"])
    assert txn is not None
    assert txn.status is TransactionStatus.PENDING
    assert txn.amount.amount == Decimal("249.00")
    assert txn.metadata["tier"] == "pro"
    assert txn.metadata["paymentPageUrl"] == session["url"]
    assert txn.low_profile_id == session["lowProfileId"]
    assert session["url"].startswith(stack.settings.cardcom_base_url or "-")
    assert session["reused"] is False
    page = await stack.cardcom.get(f"/_sandbox/low-profiles/{session['lowProfileId']}")
    assert page.json()["Amount"] == 249
    assert page.json()["WebHookUrl"] == f"{stack.settings.public_url}/webhooks/cardcom"


async def test_S2_pay_pro_with_test_card_activates(stack: Stack) -> None:
    gym = await stack.gym()
    session = await stack.checkout(gym, "pro")
    paid_at = stack.clock.now()

    redirect = await pay_in_browser(session["url"])
    await stack.wait_delivered(session["lowProfileId"])

    assert redirect.status_code == 303
    status = await stack.status(gym)
    assert status["tier"] == "pro"
    assert status["status"] == "active"
    assert _when(status["currentPeriodEnd"]) == next_period_end(paid_at)
    async with stack.svc.uow() as uow:
        org = await uow.organizations.get(gym.org_id)
        sub = await uow.subscriptions.get_by_org(gym.org_id)
    assert org is not None
    assert org.platform_tier is PlatformTier.PRO
    assert sub is not None
    assert sub.status is SubscriptionStatus.ACTIVE
    assert sub.card is not None
    assert sub.card.last4 == TEST_CARD[-4:]
    sandbox_page = await stack.cardcom.get(f"/_sandbox/low-profiles/{session['lowProfileId']}")
    token = sandbox_page.json()["result"]["TokenInfo"]["Token"]
    assert open_card(stack.svc, gym.org_id, sub.card) == token
    # The browser then follows the redirect back to the app, which agrees.
    back = await stack.app.get(redirect.headers["location"].removeprefix(stack.settings.public_url))
    assert back.status_code == 200
    assert 'data-state="active"' in back.text
    assert "now on the Pro plan" in back.text


async def test_S3_webhook_lost_verify_checkout_activates(stack: Stack) -> None:
    gym = await stack.gym()
    await stack.suppress_webhooks()
    session = await stack.checkout(gym, "pro")

    redirect = await pay_in_browser(session["url"])
    before = await stack.status(gym)
    verified = await stack.verify(gym, session["lowProfileId"])

    assert redirect.status_code == 303
    assert before["tier"] == "lite"
    assert [d["state"] for d in await stack.deliveries(session["lowProfileId"])] == ["suppressed"]
    assert verified.status_code == 200, verified.text
    assert verified.json()["data"] == {
        "outcome": "completed",
        "transactionId": session["transactionId"],
        "transactionStatus": "completed",
        "tier": "pro",
    }
    after = await stack.status(gym)
    assert after["tier"] == "pro"
    assert after["status"] == "active"


async def test_S4_second_click_within_ten_minutes_reuses_the_page(stack: Stack) -> None:
    gym = await stack.gym()

    first = await stack.checkout(gym, "pro")
    stack.clock.advance(timedelta(minutes=9))
    second = await stack.checkout(gym, "pro")

    assert second["url"] == first["url"]
    assert second["transactionId"] == first["transactionId"]
    assert second["reused"] is True
    assert len(await stack.transactions(gym)) == 1


async def test_S5_switch_tier_mid_checkout_cancels_the_first(stack: Stack) -> None:
    gym = await stack.gym()

    pro = await stack.checkout(gym, "pro")
    elite = await stack.checkout(gym, "elite")

    rows = {t["id"]: t for t in await stack.transactions(gym)}
    assert rows[pro["transactionId"]]["status"] == "cancelled"
    assert rows[elite["transactionId"]]["status"] == "pending"
    assert rows[elite["transactionId"]]["amount"] == {"amount": "449.00", "currency": "ILS"}
    assert elite["url"] != pro["url"]


async def test_S6_get_billing_status(stack: Stack) -> None:
    gym = await stack.gym()
    paid_at = stack.clock.now()
    await stack.activate(gym, "pro")

    status = await stack.status(gym)

    assert status["tier"] == "pro"
    assert status["status"] == "active"
    assert _when(status["currentPeriodStart"]) == paid_at
    assert _when(status["currentPeriodEnd"]) == next_period_end(paid_at)
    assert status["failedPaymentCount"] == 0
    assert status["cancelAtPeriodEnd"] is False
    assert status["cancellationEffectiveAt"] is None
    assert status["access"]["level"] == "full"
    assert _when(status["access"]["until"]) == next_period_end(paid_at)
    assert status["cardLast4"] == TEST_CARD[-4:]
    assert not {"card", "cardToken", "tokenCiphertext"} & set(status)


async def test_S7_free_tier_checkout_refused(stack: Stack) -> None:
    gym = await stack.gym()

    lite = await stack.app.post(
        f"/organizations/{gym.org_id}/billing/checkout",
        json={"tier": "lite"},
        headers=bearer(gym.owner),
    )
    unknown = await stack.app.post(
        f"/organizations/{gym.org_id}/billing/checkout",
        json={"tier": "gold"},
        headers=bearer(gym.owner),
    )
    missing = await stack.app.post(
        f"/organizations/{gym.org_id}/billing/checkout", json={}, headers=bearer(gym.owner)
    )

    assert lite.status_code == 400
    assert lite.json()["detail"] == "Cannot create checkout for a free tier"
    assert unknown.status_code == 400
    assert unknown.json()["field"] == "tier"
    assert "lite, pro, elite" in unknown.json()["detail"]
    assert missing.status_code == 400
    assert missing.json()["field"] == "tier"
    assert await stack.transactions(gym) == []

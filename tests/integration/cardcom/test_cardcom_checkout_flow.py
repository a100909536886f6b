"""Hosted checkout end to end: gateway → sandbox → payer → webhook → verification."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from fitdata_adapters.cardcom import CardcomGateway, CardcomProtocol
from fitdata_adapters.cardcom_sandbox import (
    ALWAYS_DECLINED_CARD,
    RETRY_INTERVALS_SECONDS,
    TEST_CARD,
)
from fitdata_core.money import Money
from fitdata_core.ports.providers import CheckoutRequest, PaymentResultStatus

from .helpers import API_NAME, FAILED_URL, SUCCESS_URL, TERMINAL, WebhookReceiver, eventually

pytestmark = pytest.mark.integration


def pro_checkout(amount: str = "249", return_value: str = "txn-1") -> CheckoutRequest:
    return CheckoutRequest(
        return_value=return_value,
        amount=Money(amount),
        product_name="fitdata Pro - monthly",
        payer_email="owner@gym.test",
    )


async def pay(control: httpx.AsyncClient, low_profile_id: str, **card: str) -> dict[str, object]:
    response = await control.post(f"/_sandbox/low-profiles/{low_profile_id}/pay", json=card)
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


async def test_full_checkout_creates_pays_notifies_and_verifies(
    gateway: CardcomGateway, control: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    page = await gateway.create_checkout(pro_checkout())
    assert re.search(rf"/EA/LPC6/{TERMINAL}/{page.low_profile_id}$", page.url)
    before = await gateway.get_checkout_result(page.low_profile_id)
    assert before.status is PaymentResultStatus.NOT_FINALISED

    paid = await pay(control, page.low_profile_id, card_number=TEST_CARD, card_expiry="11/29")

    assert paid["approved"] is True
    redirect = urlsplit(str(paid["redirect_url"]))
    assert str(paid["redirect_url"]).startswith(SUCCESS_URL.split("?")[0])
    query = parse_qs(redirect.query)
    assert query["lowprofilecode"] == [page.low_profile_id]
    assert query["ResponeCode"] == ["0"]
    assert query["src"] == ["cardcom"]  # the merchant's own query survives

    [webhook] = await receiver.wait_for(1)
    assert webhook["LowProfileId"] == page.low_profile_id
    assert webhook["ReturnValue"] == "txn-1"
    assert webhook["TranzactionInfo"]["ResponseCode"] == 0
    assert API_NAME not in str(webhook)

    result = await gateway.get_checkout_result(page.low_profile_id)
    assert result.status is PaymentResultStatus.COMPLETED
    assert result.return_value == "txn-1"
    assert result.card_token
    assert result.card_expiry_mmyy == "1129"
    assert result.card_last4 == "0008"
    assert result.provider_transaction_id == str(webhook["TranzactionId"])

    # The webhook body is a LowProfileResult: the same classification applies to it.
    protocol = CardcomProtocol(
        terminal_number=TERMINAL,
        api_name=API_NAME,
        webhook_url="-",
        success_url="-",
        failed_url="-",
    )
    assert protocol.read_payment_result(webhook, page.low_profile_id) == result

    charges = (await control.get("/_sandbox/charges")).json()
    assert charges["charged_count"] == 1
    assert Decimal(str(charges["charges"][0]["Amount"])) == Decimal("249")


async def test_amount_of_5000_declines_redirects_to_failure_and_reports(
    gateway: CardcomGateway, control: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    page = await gateway.create_checkout(pro_checkout(amount="5000"))

    paid = await pay(control, page.low_profile_id)

    assert paid["approved"] is False
    assert str(paid["redirect_url"]).startswith(FAILED_URL)
    assert parse_qs(urlsplit(str(paid["redirect_url"])).query)["ResponeCode"] != ["0"]
    [webhook] = await receiver.wait_for(1)  # "always report" is on by default
    assert webhook["TranzactionInfo"]["ResponseCode"] != 0
    result = await gateway.get_checkout_result(page.low_profile_id)
    assert result.status is PaymentResultStatus.DECLINED
    assert result.description
    assert result.card_token is None
    assert (await control.get("/_sandbox/charges")).json()["charged_count"] == 0


async def test_declining_card_without_always_report_sends_no_webhook(
    gateway: CardcomGateway, control: httpx.AsyncClient
) -> None:
    await control.patch("/_sandbox/settings", json={"always_report": False})
    page = await gateway.create_checkout(pro_checkout(amount="10"))

    paid = await pay(control, page.low_profile_id, card_number=ALWAYS_DECLINED_CARD)

    assert paid["approved"] is False
    deliveries = (await control.get("/_sandbox/webhooks")).json()["deliveries"]
    assert deliveries == []
    result = await gateway.get_checkout_result(page.low_profile_id)
    assert result.status is PaymentResultStatus.DECLINED


async def test_a_page_can_be_submitted_only_once(
    gateway: CardcomGateway, control: httpx.AsyncClient
) -> None:
    page = await gateway.create_checkout(pro_checkout())
    await pay(control, page.low_profile_id)

    again = await control.post(f"/_sandbox/low-profiles/{page.low_profile_id}/pay", json={})

    assert again.status_code == 409
    assert (await control.get("/_sandbox/charges")).json()["charged_count"] == 1


async def test_webhook_is_retried_on_cardcoms_schedule_until_the_receiver_says_200(
    gateway: CardcomGateway, control: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    receiver.script = [500, 500]
    page = await gateway.create_checkout(pro_checkout())

    await pay(control, page.low_profile_id)

    received = await receiver.wait_for(3)
    assert [body["LowProfileId"] for body in received] == [page.low_profile_id] * 3

    state: dict[str, Any] = {}

    async def delivered() -> bool:
        [delivery] = (await control.get("/_sandbox/webhooks")).json()["deliveries"]
        state.update(delivery)
        return bool(delivery["state"] == "delivered")

    await eventually(delivered)
    attempts = state["attempts"]
    assert isinstance(attempts, list)
    assert [a["status"] for a in attempts] == [500, 500, 200]
    assert [a["nominal_delay_seconds"] for a in attempts] == [0, *RETRY_INTERVALS_SECONDS[:2]]
    # Scaled time: 1 min then 2 min became 0.6 ms then 1.2 ms; order and spacing still hold.
    elapsed = [a["elapsed_seconds"] for a in attempts]
    assert elapsed == sorted(elapsed)


async def test_webhook_gives_up_after_seven_resends(
    gateway: CardcomGateway, control: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    receiver.script = [500] * 20
    page = await gateway.create_checkout(pro_checkout())

    await pay(control, page.low_profile_id)

    # 1 + 7 attempts; 1, 2, 2, 16, 60 min, 12 h, 12 h scaled by 1e-5 take about 0.9 s.
    await receiver.wait_for(8, within=15)
    deliveries: list[dict[str, Any]] = []

    async def failed() -> bool:
        deliveries[:] = (await control.get("/_sandbox/webhooks")).json()["deliveries"]
        return bool(deliveries[0]["state"] == "failed")

    await eventually(failed)
    attempts = deliveries[0]["attempts"]
    assert isinstance(attempts, list)
    assert [a["nominal_delay_seconds"] for a in attempts] == [
        0,
        60,
        120,
        120,
        960,
        3600,
        43_200,
        43_200,
    ]
    assert len(receiver.received) == 8


async def test_suppressed_webhooks_can_be_redelivered(
    gateway: CardcomGateway, control: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    await control.put("/_sandbox/webhooks/suppression", json={"suppressed": True})
    page = await gateway.create_checkout(pro_checkout())
    await pay(control, page.low_profile_id)
    deliveries = (await control.get("/_sandbox/webhooks")).json()["deliveries"]
    assert [d["state"] for d in deliveries] == ["suppressed"]
    assert receiver.received == []

    await control.put("/_sandbox/webhooks/suppression", json={"suppressed": False})
    response = await control.post(f"/_sandbox/webhooks/{page.low_profile_id}/redeliver")

    assert response.status_code == 201
    [webhook] = await receiver.wait_for(1)
    assert webhook["LowProfileId"] == page.low_profile_id


async def test_the_html_page_pays_with_a_real_form_post(
    gateway: CardcomGateway, control: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    page = await gateway.create_checkout(pro_checkout(amount="249.90"))

    async with httpx.AsyncClient(timeout=10) as browser:
        shown = await browser.get(page.url)
        assert shown.status_code == 200
        assert shown.headers["content-type"].startswith("text/html")
        assert "fitdata Pro - monthly" in shown.text
        assert "249.90" in shown.text
        assert TEST_CARD in shown.text
        assert '<form method="post"' in shown.text
        for name in ("card_number", "card_expiry", "cvv"):
            assert f'name="{name}"' in shown.text

        rejected = await browser.post(
            page.url,
            data={"card_number": "4580280000000009", "card_expiry": "12/30", "cvv": "123"},
        )
        assert rejected.status_code == 422
        assert "Card number is not valid" in rejected.text

        submitted = await browser.post(
            page.url,
            data={
                "card_number": "4580 2800 0000 0008",
                "card_expiry": "12/30",
                "cvv": "123",
                "card_owner_name": "Dana Levi",
                "card_owner_email": "owner@gym.test",
            },
        )

    assert submitted.status_code == 303
    location = submitted.headers["location"]
    assert location.startswith(SUCCESS_URL.split("?")[0])
    assert parse_qs(urlsplit(location).query)["lowprofilecode"] == [page.low_profile_id]
    [webhook] = await receiver.wait_for(1)
    assert webhook["TranzactionInfo"]["CardOwnerName"] == "Dana Levi"
    result = await gateway.get_checkout_result(page.low_profile_id)
    assert result.status is PaymentResultStatus.COMPLETED
    assert result.card_expiry_mmyy == "1230"


async def test_create_is_not_retried_when_cardcom_fails_after_receiving_it(
    make_gateway: Callable[..., CardcomGateway], control: httpx.AsyncClient
) -> None:
    await control.post("/_sandbox/faults", json={"mode": "error", "endpoint": "LowProfile/Create"})
    gateway = make_gateway()

    with pytest.raises(Exception, match="HTTP 500"):
        await gateway.create_checkout(pro_checkout())

    calls = (await control.get("/_sandbox/calls")).json()["calls"]
    assert [c["endpoint"] for c in calls] == ["lowprofile/create"]

"""``GET /billing/checkout-return``: the page the payer's browser lands on after Cardcom.

Driven like a browser: open the hosted page, post its form, follow the redirect to the app.
"""

from __future__ import annotations

import httpx
import pytest
from billing_http_harness import Stack

from fitdata_adapters.cardcom_sandbox import ALWAYS_DECLINED_CARD, TEST_CARD

pytestmark = pytest.mark.integration


async def _pay_and_follow(stack: Stack, url: str, card: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=15, follow_redirects=True) as browser:
        form = {"card_number": card, "card_expiry": "12/30", "cvv": "123"}
        landed = await browser.post(url, data=form)
    assert str(landed.url).startswith(f"{stack.settings.public_url}/billing/checkout-return?")
    return landed


async def test_return_page_activates_when_the_webhook_is_lost(stack: Stack) -> None:
    gym = await stack.gym()
    await stack.suppress_webhooks()
    session = await stack.checkout(gym)

    landed = await _pay_and_follow(stack, session["url"], TEST_CARD)

    assert landed.status_code == 200
    assert landed.headers["content-type"].startswith("text/html")
    assert 'data-state="active"' in landed.text
    assert "Your gym is now on the Pro plan" in landed.text
    assert (await stack.status(gym))["tier"] == "pro"
    again = await stack.app.get(landed.url.raw_path.decode())
    assert 'data-state="active"' in again.text  # reloading changes nothing
    names = await stack.event_names(gym)
    assert names.count("subscription.activated") == 1


async def test_return_page_says_a_declined_payment_failed(stack: Stack) -> None:
    gym = await stack.gym()
    session = await stack.checkout(gym)

    landed = await _pay_and_follow(stack, session["url"], ALWAYS_DECLINED_CARD)

    assert landed.status_code == 200
    assert 'data-state="failed"' in landed.text
    assert "did not go through" in landed.text
    assert (await stack.status(gym))["tier"] == "lite"


async def test_return_page_trusts_nothing_from_the_query_string(stack: Stack) -> None:
    gym = await stack.gym()
    session = await stack.checkout(gym)  # never paid

    forged = await stack.app.get(
        "/billing/checkout-return",
        params={"lowprofilecode": session["lowProfileId"], "ResponeCode": "0", "Operation": "2"},
    )

    assert forged.status_code == 200
    assert 'data-state="pending"' in forged.text
    assert '<meta http-equiv="refresh"' in forged.text
    assert (await stack.status(gym))["tier"] == "lite"


async def test_return_page_without_or_with_an_unknown_reference(stack: Stack) -> None:
    missing = await stack.app.get("/billing/checkout-return")
    unknown = await stack.app.get(
        "/billing/checkout-return",
        params={"lowprofilecode": "0b7c5a52-0000-4000-8000-000000000000"},
    )

    assert missing.status_code == 400
    assert "lowprofilecode" in missing.text
    assert unknown.status_code == 404
    assert 'data-state="unknown"' in unknown.text

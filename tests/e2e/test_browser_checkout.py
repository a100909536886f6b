"""A person pays for Pro in a real browser: ``fitdata serve``, the sandbox page, the return page.

The server runs as its own process in embedded mode (its Cardcom sandbox inside). Headless
Chromium opens the payment URL the checkout returns, fills the test card the page documents,
clicks **Pay** and follows Cardcom's redirect back to ``/billing/checkout-return``; the billing
API then reports the new tier. Screenshots of every step (``conftest.py``) are kept.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from e2e_server import Server
from playwright.sync_api import Page, expect

from fitdata_adapters.cardcom_sandbox.cards import ALWAYS_DECLINED_CARD, TEST_CARD

pytestmark = pytest.mark.e2e


def _owner(server: Server) -> tuple[str, httpx.Client]:
    """The demo gym's id and an HTTP client that carries its owner's token."""
    demo = server.demo()
    client = httpx.Client(
        base_url=server.base_url,
        headers={"Authorization": f"Bearer {demo['tokens']['owner']}"},
        timeout=30,
    )
    return demo["org_id"], client


def _start_checkout(http: httpx.Client, org: str) -> str:
    response = http.post(f"/organizations/{org}/billing/checkout", json={"tier": "pro"})
    assert response.status_code in (200, 201), response.text
    url: str = response.json()["data"]["url"]
    return url


def _pay(page: Page, card: str) -> None:
    """Fill the form the way a person would, from what the page says, and click Pay."""
    banner = page.locator(".banner")
    expect(banner).to_contain_text("no real money moves")
    expect(banner).to_contain_text(TEST_CARD)
    expect(banner).to_contain_text("CVV 123")
    page.get_by_label("Card number").fill(card)
    page.get_by_label("Expiry (MM/YY)").fill(f"12/{(date.today().year + 2) % 100:02d}")
    page.get_by_label("CVV").fill("123")
    page.get_by_label("Card owner name").fill("Dana Levi")
    page.get_by_label("Email").fill("dana@example.com")
    page.get_by_role("button", name=re.compile(r"^Pay ₪")).click()


def _billing(http: httpx.Client, org: str) -> dict[str, Any]:
    response = http.get(f"/organizations/{org}/billing")
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def test_pay_for_pro_in_a_browser_and_see_the_tier_change(
    page: Page, screenshot: Callable[[str], Path], server: Server
) -> None:
    org, http = _owner(server)
    with http:
        assert _billing(http, org)["tier"] == "lite"
        url = _start_checkout(http, org)

        page.goto(url)
        expect(page.get_by_role("heading", level=1)).to_contain_text("Pro")
        expect(page.locator(".amount")).to_contain_text("₪")
        screenshot("1-payment-page")
        page.set_viewport_size({"width": 390, "height": 844})  # a phone
        screenshot("1-payment-page-phone")
        page.set_viewport_size({"width": 1024, "height": 900})

        _pay(page, TEST_CARD)
        page.wait_for_url(f"{server.base_url}/billing/checkout-return?*")
        expect(page.locator("main")).to_have_attribute("data-state", "active")
        expect(page.get_by_role("heading", level=1)).to_have_text("You are on Pro")
        expect(page.locator("main")).to_contain_text("Your gym is now on the Pro plan")
        screenshot("2-return-page")

        billing = _billing(http, org)
        assert billing["tier"] == "pro"
        assert billing["status"] == "active"
        assert billing["access"]["level"] == "full"

        # The page cannot be paid twice: the browser's back button shows a notice, no form.
        page.goto(url)
        expect(page.get_by_role("heading", level=1)).to_have_text("Already processed")
        expect(page.get_by_role("button")).to_have_count(0)
        screenshot("3-already-processed")


def test_a_declined_card_in_the_browser_leaves_the_tier_alone(
    page: Page, screenshot: Callable[[str], Path], server: Server
) -> None:
    org, http = _owner(server)
    with http:
        page.goto(_start_checkout(http, org))
        _pay(page, ALWAYS_DECLINED_CARD)
        page.wait_for_url(f"{server.base_url}/billing/checkout-return?*")
        expect(page.locator("main")).to_have_attribute("data-state", "failed")
        expect(page.get_by_role("heading", level=1)).to_have_text("Payment failed")
        expect(page.locator("main")).to_contain_text("your plan has not changed")
        screenshot("1-declined-return-page")

        billing = _billing(http, org)
        assert billing["tier"] == "lite"


def test_a_mistyped_card_is_shown_on_the_form_and_can_be_corrected(
    page: Page, screenshot: Callable[[str], Path], server: Server
) -> None:
    org, http = _owner(server)
    with http:
        page.goto(_start_checkout(http, org))
        _pay(page, "1234")
        expect(page.locator("#card_number-error")).to_have_text("Card number is not valid")
        expect(page.get_by_label("Card number")).to_have_attribute("aria-invalid", "true")
        expect(page.get_by_label("Card number")).to_have_value("1234")
        screenshot("1-card-error")

        _pay(page, TEST_CARD)
        page.wait_for_url(f"{server.base_url}/billing/checkout-return?*")
        expect(page.get_by_role("heading", level=1)).to_have_text("You are on Pro")
        assert _billing(http, org)["tier"] == "pro"

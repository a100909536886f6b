"""Token charges against the sandbox: approval, declines, idempotency and lost responses."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest

from fitdata_adapters.cardcom import CardcomGateway, RetryPolicy
from fitdata_adapters.cardcom_sandbox import TEST_CARD, TOKEN_DECLINES_LATER_CARD
from fitdata_core.errors import ProviderError
from fitdata_core.money import Money
from fitdata_core.ports.providers import (
    ChargeRequest,
    CheckoutRequest,
    PaymentResult,
    PaymentResultStatus,
)

pytestmark = pytest.mark.integration

TRANSACTION = "Transactions/Transaction"


async def saved_card(
    gateway: CardcomGateway, control: httpx.AsyncClient, card_number: str = TEST_CARD
) -> PaymentResult:
    """Pay a hosted page and return the verified result carrying the token."""
    page = await gateway.create_checkout(
        CheckoutRequest(return_value="txn-0", amount=Money("249"), product_name="Pro")
    )
    response = await control.post(
        f"/_sandbox/low-profiles/{page.low_profile_id}/pay", json={"card_number": card_number}
    )
    assert response.json()["approved"] is True
    result = await gateway.get_checkout_result(page.low_profile_id)
    assert result.status is PaymentResultStatus.COMPLETED
    return result


def renewal(card: PaymentResult, external_id: str, amount: str = "249") -> ChargeRequest:
    assert card.card_token is not None
    return ChargeRequest(
        card_token=card.card_token,
        card_expiry_mmyy=card.card_expiry_mmyy,
        amount=Money(amount),
        external_uniq_id=external_id,
        description="Pro renewal",
    )


async def token_charges(control: httpx.AsyncClient) -> list[dict[str, object]]:
    charges = (await control.get("/_sandbox/charges")).json()["charges"]
    return [charge for charge in charges if charge["Source"] == "token"]


async def test_token_charge_succeeds(gateway: CardcomGateway, control: httpx.AsyncClient) -> None:
    card = await saved_card(gateway, control)

    outcome = await gateway.charge_token(renewal(card, "renewal-1"))

    assert outcome.completed
    [charge] = await token_charges(control)
    assert charge["Charged"] is True
    assert str(charge["TranzactionId"]) == outcome.provider_transaction_id
    assert charge["ExternalUniqTranId"] == "renewal-1"


async def test_token_charge_of_5000_is_declined(
    gateway: CardcomGateway, control: httpx.AsyncClient
) -> None:
    card = await saved_card(gateway, control)

    outcome = await gateway.charge_token(renewal(card, "renewal-2", amount="5000"))

    assert not outcome.completed
    assert outcome.provider_transaction_id is None
    assert outcome.description
    assert [c["Charged"] for c in await token_charges(control)] == [False]


async def test_token_from_the_declines_later_card_is_declined(
    gateway: CardcomGateway, control: httpx.AsyncClient
) -> None:
    card = await saved_card(gateway, control, card_number=TOKEN_DECLINES_LATER_CARD)

    outcome = await gateway.charge_token(renewal(card, "renewal-3"))

    assert not outcome.completed
    assert "4000000000000341" in (outcome.description or "")


async def test_a_wrong_expiry_is_declined(
    gateway: CardcomGateway, control: httpx.AsyncClient
) -> None:
    card = await saved_card(gateway, control)
    request = renewal(card, "renewal-4")

    outcome = await gateway.charge_token(
        ChargeRequest(
            card_token=request.card_token,
            card_expiry_mmyy="0199",
            amount=request.amount,
            external_uniq_id="renewal-4",
            description="x",
        )
    )

    assert not outcome.completed


async def test_repeating_a_charge_charges_once(
    gateway: CardcomGateway, control: httpx.AsyncClient
) -> None:
    card = await saved_card(gateway, control)

    first = await gateway.charge_token(renewal(card, "renewal-5"))
    second = await gateway.charge_token(renewal(card, "renewal-5"))

    assert first == second
    assert len(await token_charges(control)) == 1
    calls = (await control.get("/_sandbox/calls")).json()["calls"]
    assert [c["endpoint"] for c in calls].count("transactions/transaction") == 2


async def test_a_lost_charge_response_is_retried_without_charging_twice(
    make_gateway: Callable[..., CardcomGateway], control: httpx.AsyncClient
) -> None:
    gateway = make_gateway(timeout=0.3)
    card = await saved_card(gateway, control)
    await control.post(
        "/_sandbox/faults", json={"mode": "hang_after", "endpoint": TRANSACTION, "hang_seconds": 2}
    )

    outcome = await gateway.charge_token(renewal(card, "renewal-6"))

    assert outcome.completed
    [charge] = await token_charges(control)
    assert str(charge["TranzactionId"]) == outcome.provider_transaction_id


async def test_server_errors_on_a_charge_are_retried_and_charge_once(
    gateway: CardcomGateway, control: httpx.AsyncClient
) -> None:
    card = await saved_card(gateway, control)
    await control.post("/_sandbox/faults", json={"mode": "error", "endpoint": TRANSACTION})

    outcome = await gateway.charge_token(renewal(card, "renewal-7"))

    assert outcome.completed
    assert len(await token_charges(control)) == 1


async def test_find_charge_after_a_timeout_reports_the_charge_that_happened(
    make_gateway: Callable[..., CardcomGateway], control: httpx.AsyncClient
) -> None:
    gateway = make_gateway(timeout=0.3, retry_policy=RetryPolicy(max_attempts=1))
    card = await saved_card(gateway, control)
    await control.post(
        "/_sandbox/faults", json={"mode": "hang_after", "endpoint": TRANSACTION, "hang_seconds": 2}
    )

    with pytest.raises(ProviderError, match="timed out"):
        await gateway.charge_token(renewal(card, "renewal-8"))
    found = await gateway.find_charge("renewal-8")

    assert found is not None
    assert found.completed
    [charge] = await token_charges(control)
    assert str(charge["TranzactionId"]) == found.provider_transaction_id
    assert await gateway.find_charge("renewal-never-sent") is None


async def test_hanging_calls_time_out_into_a_provider_error(
    make_gateway: Callable[..., CardcomGateway], control: httpx.AsyncClient
) -> None:
    gateway = make_gateway(timeout=0.2)
    card = await saved_card(gateway, control)
    await control.post(
        "/_sandbox/faults",
        json={"mode": "hang", "endpoint": TRANSACTION, "count": 3, "hang_seconds": 1},
    )

    with pytest.raises(ProviderError, match="timed out"):
        await gateway.charge_token(renewal(card, "renewal-9"))

    assert await token_charges(control) == []


async def test_added_latency_slows_token_charges(
    gateway: CardcomGateway, control: httpx.AsyncClient
) -> None:
    card = await saved_card(gateway, control)
    response = await control.put("/_sandbox/latency", json={"endpoint": TRANSACTION, "ms": 100})
    assert response.json() == {"latency_ms": {"transactions/transaction": 100.0}}

    started = time.perf_counter()
    await gateway.charge_token(renewal(card, "renewal-10"))
    elapsed = time.perf_counter() - started

    assert elapsed >= 0.1

"""The sandbox speaks Cardcom's v11 protocol: credentials, strict schemas, shapes, paths."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from fitdata_adapters.cardcom import CardcomGateway
from fitdata_core.errors import ProviderAuthError, ProviderError
from fitdata_core.money import Money
from fitdata_core.ports.providers import CheckoutRequest, PaymentResultStatus

from .helpers import API_NAME, TERMINAL

pytestmark = pytest.mark.integration

CHECKOUT = CheckoutRequest(return_value="txn-9", amount=Money("99"), product_name="Pro")


def create_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "TerminalNumber": TERMINAL,
        "ApiName": API_NAME,
        "Operation": "ChargeAndCreateToken",
        "Amount": 10,
        "WebHookUrl": "https://hooks.test/cardcom",
        "SuccessRedirectUrl": "https://app.test/ok",
        "FailedRedirectUrl": "https://app.test/failed",
    }
    body.update(overrides)
    return body


async def test_wrong_api_name_is_a_603_auth_error(
    make_gateway: Callable[..., CardcomGateway],
) -> None:
    gateway = make_gateway(api_name="not-our-terminal")

    with pytest.raises(ProviderAuthError, match="603") as caught:
        await gateway.create_checkout(CHECKOUT)

    assert "not-our-terminal" not in str(caught.value)


async def test_wrong_terminal_is_a_603_on_every_endpoint(control: httpx.AsyncClient) -> None:
    for path, body in [
        ("/api/v11/LowProfile/Create", create_body(TerminalNumber=1)),
        (
            "/api/v11/LowProfile/GetLpResult",
            {"TerminalNumber": 1, "ApiName": API_NAME, "LowProfileId": "x"},
        ),
        (
            "/api/v11/Transactions/Transaction",
            {"TerminalNumber": 1, "ApiName": API_NAME, "Amount": 1},
        ),
        (
            "/api/v11/Transactions/GetTransactionByExternalUniqTran",
            {"TerminalNumber": 1, "ApiName": API_NAME, "ExternalUniqTranId": "x"},
        ),
    ]:
        response = await control.post(path, json=body)
        assert response.status_code == 200
        assert response.json()["ResponseCode"] == 603


async def test_paths_are_case_insensitive(control: httpx.AsyncClient) -> None:
    response = await control.post("/API/V11/lowprofile/create", json=create_body())

    assert response.status_code == 200
    body = response.json()
    assert body["ResponseCode"] == 0
    assert set(body) == {
        "ResponseCode",
        "Description",
        "LowProfileId",
        "Url",
        "UrlToPayPal",
        "UrlToBit",
    }


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        (create_body(WebHookUrl=None), "WebHookUrl"),
        (create_body(Amount=None), "Amount"),
        (create_body(Amount="10"), "Amount"),
        (create_body(WebhookUrl="https://typo.test"), "WebhookUrl"),
        (create_body(UIDefinition={"CardOwnerEmail": "a@b.c"}), "UIDefinition.CardOwnerEmail"),
        (create_body(ReturnValue="x" * 251), "ReturnValue"),
        (create_body(Operation="Refund"), "Operation"),
    ],
)
async def test_schema_violations_are_http_400_error_info(
    control: httpx.AsyncClient, body: dict[str, Any], complaint: str
) -> None:
    response = await control.post("/api/v11/LowProfile/Create", json=body)

    assert response.status_code == 400
    error = response.json()
    assert set(error) == {"ResponseCode", "Description"}
    assert complaint in error["Description"]


async def test_a_body_that_is_not_json_is_http_400(control: httpx.AsyncClient) -> None:
    response = await control.post("/api/v11/LowProfile/GetLpResult", content=b"terminal=1000")

    assert response.status_code == 400
    assert response.json()["ResponseCode"] != 0


async def test_unknown_low_profile_is_an_api_error_for_the_gateway(
    gateway: CardcomGateway,
) -> None:
    with pytest.raises(ProviderError) as caught:
        await gateway.get_checkout_result("00000000-0000-0000-0000-000000000000")

    assert not isinstance(caught.value, ProviderAuthError)


async def test_get_lp_result_before_payment_has_no_tranzaction_info(
    gateway: CardcomGateway, control: httpx.AsyncClient
) -> None:
    page = await gateway.create_checkout(CHECKOUT)

    raw = await control.post(
        "/api/v11/LowProfile/GetLpResult",
        json={"TerminalNumber": TERMINAL, "ApiName": API_NAME, "LowProfileId": page.low_profile_id},
    )

    body = raw.json()
    assert body["ResponseCode"] == 0
    assert body["TranzactionId"] == 0
    assert body["TranzactionInfo"] is None
    assert body["ReturnValue"] == "txn-9"


async def test_server_errors_on_get_result_are_retried(
    gateway: CardcomGateway, control: httpx.AsyncClient
) -> None:
    page = await gateway.create_checkout(CHECKOUT)
    await control.post(
        "/_sandbox/faults", json={"mode": "error", "endpoint": "LowProfile/GetLpResult", "count": 2}
    )

    result = await gateway.get_checkout_result(page.low_profile_id)

    assert result.status is PaymentResultStatus.NOT_FINALISED
    calls = (await control.get("/_sandbox/calls")).json()["calls"]
    assert [c["http_status"] for c in calls if c["endpoint"] == "lowprofile/getlpresult"] == [
        500,
        500,
        200,
    ]


async def test_token_charge_requires_the_expiry(control: httpx.AsyncClient) -> None:
    response = await control.post(
        "/api/v11/Transactions/Transaction",
        json={"TerminalNumber": TERMINAL, "ApiName": API_NAME, "Amount": 5, "Token": "t"},
    )

    assert response.status_code == 400
    assert "CardExpirationMMYY" in response.json()["Description"]


async def test_repeat_without_the_response_flag_is_608(
    gateway: CardcomGateway, control: httpx.AsyncClient
) -> None:
    page = await gateway.create_checkout(CHECKOUT)
    await control.post(f"/_sandbox/low-profiles/{page.low_profile_id}/pay", json={})
    result = await gateway.get_checkout_result(page.low_profile_id)
    body = {
        "TerminalNumber": TERMINAL,
        "ApiName": API_NAME,
        "Amount": 5,
        "Token": result.card_token,
        "CardExpirationMMYY": result.card_expiry_mmyy,
        "ExternalUniqTranId": "dup-1",
        "NumOfPayments": 1,
    }

    first = await control.post("/api/v11/Transactions/Transaction", json=body)
    second = await control.post("/api/v11/Transactions/Transaction", json=body)

    assert first.json()["ResponseCode"] == 0
    assert second.json()["ResponseCode"] == 608
    assert second.json()["TranzactionId"] == 0
    charged = (await control.get("/_sandbox/charges")).json()["charged_count"]
    assert charged == 2  # the page payment and one token charge


async def test_control_index_lists_the_controls(control: httpx.AsyncClient) -> None:
    response = await control.get("/_sandbox")

    assert response.status_code == 200
    assert any("/_sandbox/faults" in line for line in response.json()["controls"])

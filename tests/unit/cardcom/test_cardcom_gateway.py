"""CardcomGateway against httpx.MockTransport: request building, classification, retries."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest
import structlog
from hypothesis import given
from hypothesis import strategies as st

from fitdata_adapters.cardcom import (
    CardcomGateway,
    CardcomProtocol,
    RetryPolicy,
    webhook_low_profile_id,
)
from fitdata_core.errors import InvalidInput, ProviderAuthError, ProviderError
from fitdata_core.money import Money
from fitdata_core.ports.providers import (
    ChargeOutcome,
    ChargeRequest,
    CheckoutRequest,
    PaymentResultStatus,
)

BASE = "https://cardcom.test"
API_NAME = "secret-api-name"
TOKEN = "0f38c87f-60a0-4e46-b577-1956abafa570"
LP_ID = "037e49e4-7096-4ec2-b71b-6a353bd77979"
NO_WAIT = RetryPolicy(max_attempts=3, max_total_seconds=5, initial_wait=0, max_wait=0, jitter=0)

Reply = httpx.Response | Exception


class ScriptedCardcom:
    """A MockTransport handler that answers from a script and records what it received."""

    def __init__(self, *replies: Reply | Callable[[httpx.Request], Reply]) -> None:
        self._replies = list(replies)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if not self._replies:
            raise AssertionError(f"unexpected extra call to {request.url.path}")
        reply = self._replies.pop(0)
        if callable(reply) and not isinstance(reply, httpx.Response):
            reply = reply(request)
        if isinstance(reply, Exception):
            raise reply
        return reply

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(request.content) for request in self.requests]

    @property
    def paths(self) -> list[str]:
        return [request.url.path for request in self.requests]


def ok(body: dict[str, Any]) -> httpx.Response:
    return httpx.Response(200, json=body)


def read_timeout(request: httpx.Request) -> Exception:
    return httpx.ReadTimeout("timed out", request=request)


def connect_error(request: httpx.Request) -> Exception:
    return httpx.ConnectError("refused", request=request)


@pytest.fixture
async def make_gateway() -> AsyncIterator[Callable[[ScriptedCardcom], CardcomGateway]]:
    clients: list[httpx.AsyncClient] = []

    def make(script: ScriptedCardcom) -> CardcomGateway:
        client = httpx.AsyncClient(transport=httpx.MockTransport(script))
        clients.append(client)
        return CardcomGateway(
            base_url=BASE + "/",
            terminal_number=1000,
            api_name=API_NAME,
            webhook_url="https://api.fitdata.test/webhooks/cardcom",
            success_url="https://app.fitdata.test/checkout-return",
            failed_url="https://app.fitdata.test/checkout-failed",
            http=client,
            retry_policy=NO_WAIT,
        )

    yield make
    for client in clients:
        await client.aclose()


def transaction_info(
    code: int = 0, transaction_id: int = 209413394, **extra: Any
) -> dict[str, Any]:
    return {
        "ResponseCode": code,
        "Description": "The transaction was successful" if code == 0 else "Not approved",
        "TranzactionId": transaction_id,
        "TerminalNumber": 1000,
        "Amount": 249.0,
        "CardMonth": 11,
        "CardYear": 27,
        "Last4CardDigits": 8,
        "Last4CardDigitsString": "0008",
        "ApprovalNumber": "0012345",
        **extra,
    }


def lp_result(
    *,
    top_code: int = 0,
    transaction: dict[str, Any] | None = None,
    transaction_id: int | None = None,
    token_info: dict[str, Any] | None = None,
    operation: str = "ChargeAndCreateToken",
) -> dict[str, Any]:
    return {
        "ResponseCode": top_code,
        "Description": "",
        "TerminalNumber": 1000,
        "LowProfileId": LP_ID,
        "TranzactionId": (
            transaction_id
            if transaction_id is not None
            else (transaction or {}).get("TranzactionId", 0)
        ),
        "ReturnValue": "txn-42",
        "Operation": operation,
        "TokenInfo": token_info,
        "TranzactionInfo": transaction,
    }


TOKEN_INFO = {
    "Token": TOKEN,
    "TokenExDate": "20271101",
    "CardYear": 2027,
    "CardMonth": 11,
    "TokenApprovalNumber": "0012345",
}


def checkout_request(**overrides: Any) -> CheckoutRequest:
    values: dict[str, Any] = {
        "return_value": "txn-42",
        "amount": Money("249"),
        "product_name": "fitdata Pro - monthly",
        "payer_email": "owner@gym.test",
    }
    values.update(overrides)
    return CheckoutRequest(**values)


def charge_request(**overrides: Any) -> ChargeRequest:
    values: dict[str, Any] = {
        "card_token": TOKEN,
        "card_expiry_mmyy": "1127",
        "amount": Money("249.50"),
        "external_uniq_id": "renewal-7",
        "description": "Pro renewal",
    }
    values.update(overrides)
    return ChargeRequest(**values)


# --------------------------------------------------------------------- create_checkout


async def test_create_checkout_sends_the_v11_body_and_returns_the_page(
    make_gateway: Callable[[ScriptedCardcom], CardcomGateway],
) -> None:
    url = f"https://secure.cardcom.solutions/EA/LPC6/1000/{LP_ID}"
    script = ScriptedCardcom(
        ok({"ResponseCode": 0, "Description": "OK", "LowProfileId": LP_ID, "Url": url})
    )

    page = await make_gateway(script).create_checkout(checkout_request())

    assert page.low_profile_id == LP_ID
    assert page.url == url
    assert script.paths == ["/api/v11/LowProfile/Create"]
    assert script.requests[0].headers["content-type"] == "application/json"
    assert script.bodies[0] == {
        "TerminalNumber": 1000,
        "ApiName": API_NAME,
        "Operation": "ChargeAndCreateToken",
        "ReturnValue": "txn-42",
        "Amount": 249.0,
        "ProductName": "fitdata Pro - monthly",
        "ISOCoinId": 1,
        "WebHookUrl": "https://api.fitdata.test/webhooks/cardcom",
        "SuccessRedirectUrl": "https://app.fitdata.test/checkout-return",
        "FailedRedirectUrl": "https://app.fitdata.test/checkout-failed",
        "Language": "he",
        "UIDefinition": {"CardOwnerEmailValue": "owner@gym.test"},
    }


async def test_create_checkout_without_email_has_no_ui_definition_and_maps_usd(
    make_gateway: Callable[[ScriptedCardcom], CardcomGateway],
) -> None:
    script = ScriptedCardcom(ok({"ResponseCode": 0, "LowProfileId": LP_ID, "Url": "https://x"}))

    await make_gateway(script).create_checkout(
        checkout_request(payer_email=None, amount=Money("12.34", "USD"))
    )

    body = script.bodies[0]
    assert "UIDefinition" not in body
    assert body["ISOCoinId"] == 2
    assert Decimal(str(body["Amount"])) == Decimal("12.34")


async def test_create_checkout_refuses_an_unknown_currency_without_calling(
    make_gateway: Callable[[ScriptedCardcom], CardcomGateway],
) -> None:
    script = ScriptedCardcom()

    with pytest.raises(InvalidInput) as caught:
        await make_gateway(script).create_checkout(checkout_request(amount=Money("5", "XYZ")))

    assert caught.value.field == "currency"
    assert script.requests == []


async def test_create_checkout_bad_credentials_raise_auth_error_without_the_api_name(
    make_gateway: Callable[[ScriptedCardcom], CardcomGateway],
) -> None:
    script = ScriptedCardcom(
        ok({"ResponseCode": 603, "Description": f"wrong user name {API_NAME}"})
    )

    with pytest.raises(ProviderAuthError) as caught:
        await make_gateway(script).create_checkout(checkout_request())

    assert caught.value.provider == "cardcom"
    assert "603" in str(caught.value)
    assert API_NAME not in str(caught.value)


async def test_create_checkout_is_not_retried_after_the_request_was_sent(
    make_gateway: Callable[[ScriptedCardcom], CardcomGateway],
) -> None:
    script = ScriptedCardcom(read_timeout, ok({"ResponseCode": 0}))

    with pytest.raises(ProviderError, match="timed out"):
        await make_gateway(script).create_checkout(checkout_request())

    assert len(script.requests) == 1


async def test_create_checkout_is_not_retried_on_a_server_error(
    make_gateway: Callable[[ScriptedCardcom], CardcomGateway],
) -> None:
    script = ScriptedCardcom(httpx.Response(502), ok({"ResponseCode": 0}))

    with pytest.raises(ProviderError) as caught:
        await make_gateway(script).create_checkout(checkout_request())

    assert caught.value.status == 502
    assert len(script.requests) == 1


async def test_create_checkout_is_retried_when_the_connection_was_never_made(
    make_gateway: Callable[[ScriptedCardcom], CardcomGateway],
) -> None:
    script = ScriptedCardcom(
        connect_error, ok({"ResponseCode": 0, "LowProfileId": LP_ID, "Url": "https://pay"})
    )

    page = await make_gateway(script).create_checkout(checkout_request())

    assert page.low_profile_id == LP_ID
    assert len(script.requests) == 2


async def test_create_checkout_without_a_page_in_the_answer_is_a_provider_error(
    make_gateway: Callable[[ScriptedCardcom], CardcomGateway],
) -> None:
    script = ScriptedCardcom(ok({"ResponseCode": 0, "Description": "OK"}))

    with pytest.raises(ProviderError, match="no page"):
        await make_gateway(script).create_checkout(checkout_request())


# --------------------------------------------------------------------- get_checkout_result


async def test_completed_payment_yields_token_expiry_and_last4(
    make_gateway: Callable[[ScriptedCardcom], CardcomGateway],
) -> None:
    script = ScriptedCardcom(ok(lp_result(transaction=transaction_info(), token_info=TOKEN_INFO)))

    result = await make_gateway(script).get_checkout_result(LP_ID)

    assert result.status is PaymentResultStatus.COMPLETED
    assert result.low_profile_id == LP_ID
    assert result.return_value == "txn-42"
    assert result.provider_transaction_id == "209413394"
    assert result.card_token == TOKEN
    assert result.card_expiry_mmyy == "1127"
    assert result.card_last4 == "0008"
    assert script.paths == ["/api/v11/LowProfile/GetLpResult"]
    assert script.bodies[0] == {"TerminalNumber": 1000, "ApiName": API_NAME, "LowProfileId": LP_ID}
    assert TOKEN not in repr(result)


@pytest.mark.parametrize("code", [700, 701])
async def test_j2_and_j5_success_codes_count_as_completed(
    make_gateway: Callable[[ScriptedCardcom], CardcomGateway], code: int
) -> None:
    script = ScriptedCardcom(
        ok(lp_result(transaction=transaction_info(code=code), token_info=TOKEN_INFO))
    )

    result = await make_gateway(script).get_checkout_result(LP_ID)

    assert result.status is PaymentResultStatus.COMPLETED


async def test_declined_payment_keeps_the_description(
    make_gateway: Callable[[ScriptedCardcom], CardcomGateway],
) -> None:
    declined = transaction_info(code=3, transaction_id=0, Description="Call the card issuer")
    script = ScriptedCardcom(ok(lp_result(transaction=declined)))

    result = await make_gateway(script).get_checkout_result(LP_ID)

    assert result.status is PaymentResultStatus.DECLINED
    assert result.description == "Call the card issuer"
    assert result.card_token is None


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(lp_result(transaction=None), id="no-tranzaction-info"),
        pytest.param(lp_result(transaction={}), id="empty-tranzaction-info"),
        pytest.param(
            lp_result(transaction=transaction_info(transaction_id=0), transaction_id=0),
            id="success-code-but-tranzaction-id-0",
        ),
    ],
)
async def test_unpaid_page_is_not_finalised(
    make_gateway: Callable[[ScriptedCardcom], CardcomGateway], body: dict[str, Any]
) -> None:
    script = ScriptedCardcom(ok(body))

    result = await make_gateway(script).get_checkout_result(LP_ID)

    assert result.status is PaymentResultStatus.NOT_FINALISED
    assert result.provider_transaction_id is None


async def test_create_token_only_completes_on_a_token(
    make_gateway: Callable[[ScriptedCardcom], CardcomGateway],
) -> None:
    script = ScriptedCardcom(ok(lp_result(operation="CreateTokenOnly", token_info=TOKEN_INFO)))

    result = await make_gateway(script).get_checkout_result(LP_ID)

    assert result.status is PaymentResultStatus.COMPLETED
    assert result.card_token == TOKEN


async def test_expiry_falls_back_to_the_deal_two_digit_year(
    make_gateway: Callable[[ScriptedCardcom], CardcomGateway],
) -> None:
    deal = transaction_info(CardMonth=3, CardYear=29, Token=TOKEN)
    script = ScriptedCardcom(ok(lp_result(transaction=deal, token_info=None)))

    result = await make_gateway(script).get_checkout_result(LP_ID)

    assert result.card_expiry_mmyy == "0329"
    assert result.card_token == TOKEN


async def test_top_level_error_is_a_provider_error(
    make_gateway: Callable[[ScriptedCardcom], CardcomGateway],
) -> None:
    script = ScriptedCardcom(ok({"ResponseCode": 5, "Description": "LowProfile not found"}))

    with pytest.raises(ProviderError, match="LowProfile not found") as caught:
        await make_gateway(script).get_checkout_result(LP_ID)

    assert not isinstance(caught.value, ProviderAuthError)


async def test_603_on_get_result_is_an_auth_error(
    make_gateway: Callable[[ScriptedCardcom], CardcomGateway],
) -> None:
    script = ScriptedCardcom(ok({"ResponseCode": 603, "Description": "bad user"}))

    with pytest.raises(ProviderAuthError):
        await make_gateway(script).get_checkout_result(LP_ID)


async def test_http_401_is_an_auth_error(
    make_gateway: Callable[[ScriptedCardcom], CardcomGateway],
) -> None:
    script = ScriptedCardcom(
        httpx.Response(401, json={"ResponseCode": 401, "Description": "Invalid username"})
    )

    with pytest.raises(ProviderAuthError) as caught:
        await make_gateway(script).get_checkout_result(LP_ID)

    assert caught.value.status == 401


async def test_http_400_error_info_is_a_provider_error_with_its_description(
    make_gateway: Callable[[ScriptedCardcom], CardcomGateway],
) -> None:
    script = ScriptedCardcom(
        httpx.Response(400, json={"ResponseCode": 400, "Description": "LowProfileId is required"})
    )

    with pytest.raises(ProviderError, match="LowProfileId is required") as caught:
        await make_gateway(script).get_checkout_result(LP_ID)

    assert caught.value.status == 400
    assert len(script.requests) == 1


async def test_a_body_that_is_not_json_is_a_provider_error(
    make_gateway: Callable[[ScriptedCardcom], CardcomGateway],
) -> None:
    script = ScriptedCardcom(httpx.Response(200, text="<html>maintenance</html>"))

    with pytest.raises(ProviderError, match="not JSON"):
        await make_gateway(script).get_checkout_result(LP_ID)


async def test_server_errors_on_get_result_are_retried_then_succeed(
    make_gateway: Callable[[ScriptedCardcom], CardcomGateway],
) -> None:
    script = ScriptedCardcom(
        httpx.Response(503),
        read_timeout,
        ok(lp_result(transaction=transaction_info(), token_info=TOKEN_INFO)),
    )

    result = await make_gateway(script).get_checkout_result(LP_ID)

    assert result.status is PaymentResultStatus.COMPLETED
    assert len(script.requests) == 3


async def test_persistent_server_errors_end_in_a_provider_error_after_capped_attempts(
    make_gateway: Callable[[ScriptedCardcom], CardcomGateway],
) -> None:
    script = ScriptedCardcom(*(httpx.Response(500) for _ in range(NO_WAIT.max_attempts)))

    with pytest.raises(ProviderError) as caught:
        await make_gateway(script).get_checkout_result(LP_ID)

    assert caught.value.status == 500
    assert len(script.requests) == NO_WAIT.max_attempts


# --------------------------------------------------------------------- charge_token


async def test_token_charge_sends_an_idempotent_request_and_completes(
    make_gateway: Callable[[ScriptedCardcom], CardcomGateway],
) -> None:
    script = ScriptedCardcom(ok(transaction_info(transaction_id=777)))

    outcome = await make_gateway(script).charge_token(charge_request())

    assert outcome == ChargeOutcome(
        completed=True, provider_transaction_id="777", description="The transaction was successful"
    )
    assert script.paths == ["/api/v11/Transactions/Transaction"]
    assert script.bodies[0] == {
        "TerminalNumber": 1000,
        "ApiName": API_NAME,
        "Amount": 249.5,
        "Token": TOKEN,
        "CardExpirationMMYY": "1127",
        "ExternalUniqTranId": "renewal-7",
        "ExternalUniqUniqTranIdResponse": True,
        "NumOfPayments": 1,
        "ISOCoinId": 1,
    }


async def test_token_charge_decline_is_an_outcome_not_an_error(
    make_gateway: Callable[[ScriptedCardcom], CardcomGateway],
) -> None:
    script = ScriptedCardcom(
        ok(transaction_info(code=3, transaction_id=0, Description="Not approved"))
    )

    outcome = await make_gateway(script).charge_token(charge_request())

    assert outcome == ChargeOutcome(
        completed=False, provider_transaction_id=None, description="Not approved"
    )


async def test_token_charge_timeout_is_retried_with_the_same_idempotency_key(
    make_gateway: Callable[[ScriptedCardcom], CardcomGateway],
) -> None:
    script = ScriptedCardcom(read_timeout, ok(transaction_info(transaction_id=778)))

    outcome = await make_gateway(script).charge_token(charge_request())

    assert outcome.completed
    assert outcome.provider_transaction_id == "778"
    assert len(script.bodies) == 2
    for body in script.bodies:
        assert body["ExternalUniqTranId"] == "renewal-7"
        assert body["ExternalUniqUniqTranIdResponse"] is True


async def test_token_charge_that_keeps_timing_out_is_a_provider_error(
    make_gateway: Callable[[ScriptedCardcom], CardcomGateway],
) -> None:
    script = ScriptedCardcom(*(read_timeout for _ in range(NO_WAIT.max_attempts)))

    with pytest.raises(ProviderError, match="timed out"):
        await make_gateway(script).charge_token(charge_request())

    assert len(script.requests) == NO_WAIT.max_attempts


async def test_duplicate_id_answer_is_resolved_by_looking_the_charge_up(
    make_gateway: Callable[[ScriptedCardcom], CardcomGateway],
) -> None:
    script = ScriptedCardcom(
        ok({"ResponseCode": 608, "Description": "Duplicate", "TranzactionId": 0}),
        ok(transaction_info(transaction_id=779)),
    )

    outcome = await make_gateway(script).charge_token(charge_request())

    assert outcome.completed
    assert outcome.provider_transaction_id == "779"
    assert script.paths[1] == "/api/v11/Transactions/GetTransactionByExternalUniqTran"


async def test_success_without_a_transaction_id_is_not_trusted(
    make_gateway: Callable[[ScriptedCardcom], CardcomGateway],
) -> None:
    script = ScriptedCardcom(ok(transaction_info(transaction_id=0)))

    with pytest.raises(ProviderError, match="without a TranzactionId"):
        await make_gateway(script).charge_token(charge_request())


async def test_token_charge_with_bad_credentials_is_an_auth_error(
    make_gateway: Callable[[ScriptedCardcom], CardcomGateway],
) -> None:
    script = ScriptedCardcom(ok({"ResponseCode": 603, "Description": "bad user"}))

    with pytest.raises(ProviderAuthError):
        await make_gateway(script).charge_token(charge_request())


# --------------------------------------------------------------------- find_charge


async def test_find_charge_returns_the_recorded_charge(
    make_gateway: Callable[[ScriptedCardcom], CardcomGateway],
) -> None:
    script = ScriptedCardcom(ok(transaction_info(transaction_id=780)))

    outcome = await make_gateway(script).find_charge("renewal-7")

    assert outcome is not None
    assert outcome.completed
    assert outcome.provider_transaction_id == "780"
    assert script.bodies[0] == {
        "TerminalNumber": 1000,
        "ApiName": API_NAME,
        "ExternalUniqTranId": "renewal-7",
    }


async def test_find_charge_returns_none_when_cardcom_has_no_deal(
    make_gateway: Callable[[ScriptedCardcom], CardcomGateway],
) -> None:
    script = ScriptedCardcom(
        ok({"ResponseCode": 404, "Description": "Transaction not found", "TranzactionId": 0})
    )

    assert await make_gateway(script).find_charge("renewal-8") is None


async def test_find_charge_is_retried_on_connection_errors(
    make_gateway: Callable[[ScriptedCardcom], CardcomGateway],
) -> None:
    script = ScriptedCardcom(connect_error, ok(transaction_info(transaction_id=781)))

    outcome = await make_gateway(script).find_charge("renewal-9")

    assert outcome is not None
    assert outcome.provider_transaction_id == "781"


# --------------------------------------------------------------------- secrets


async def test_logs_and_errors_never_carry_the_api_name_or_token(
    make_gateway: Callable[[ScriptedCardcom], CardcomGateway],
) -> None:
    script = ScriptedCardcom(
        httpx.Response(500),
        ok(transaction_info(transaction_id=782)),
        *(httpx.Response(500) for _ in range(NO_WAIT.max_attempts)),
    )
    gateway = make_gateway(script)

    with structlog.testing.capture_logs() as logs:
        await gateway.charge_token(charge_request())
        with pytest.raises(ProviderError) as caught:
            await gateway.charge_token(charge_request(external_uniq_id="renewal-10"))

    text = repr(logs) + str(caught.value) + repr(gateway) + repr(charge_request())
    assert logs  # the retry and the outcome were logged
    assert API_NAME not in text
    assert TOKEN not in text


# --------------------------------------------------------------------- classification rule


PROTOCOL = CardcomProtocol(
    terminal_number=1000,
    api_name=API_NAME,
    webhook_url="https://w",
    success_url="https://s",
    failed_url="https://f",
)


@given(
    code=st.integers(min_value=-10_000, max_value=10_000).filter(lambda c: c not in {0, 700, 701})
)
def test_any_non_success_code_inside_tranzaction_info_is_a_decline(code: int) -> None:
    result = PROTOCOL.read_payment_result(
        lp_result(transaction=transaction_info(code=code, transaction_id=0)), LP_ID
    )

    assert result.status is PaymentResultStatus.DECLINED


@given(
    transaction_id=st.integers(min_value=1, max_value=2**62),
    code=st.sampled_from([0, 700, 701]),
)
def test_success_codes_with_a_deal_number_complete(transaction_id: int, code: int) -> None:
    result = PROTOCOL.read_payment_result(
        lp_result(transaction=transaction_info(code=code, transaction_id=transaction_id)), LP_ID
    )

    assert result.status is PaymentResultStatus.COMPLETED
    assert result.provider_transaction_id == str(transaction_id)


def test_protocol_repr_hides_the_api_name() -> None:
    assert API_NAME not in repr(PROTOCOL)


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"LowProfileId": LP_ID, "ResponseCode": 0}, LP_ID),
        ({"terminalnumber": "1000", "lowprofilecode": LP_ID}, LP_ID),
        ({"LowProfileCode": f" {LP_ID} "}, LP_ID),
        ({"ResponseCode": 0}, None),
        ({"LowProfileId": ""}, None),
    ],
)
def test_webhook_low_profile_id_accepts_v11_and_legacy_keys(
    payload: dict[str, Any], expected: str | None
) -> None:
    assert webhook_low_profile_id(payload) == expected

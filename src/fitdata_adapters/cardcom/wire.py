"""Cardcom REST v11 wire format: the JSON bodies we send and how we read the answers.

Everything here is pure (no I/O) so each classification rule is unit-testable on its own.
Field names follow Cardcom's REST v11 API exactly, including its own spellings
(``TranzactionId``, ``ExternalUniqUniqTranIdResponse``); docs/billing.md shows the flows.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import attrs

from fitdata_core.errors import InvalidInput, ProviderAuthError, ProviderError
from fitdata_core.ports.providers import (
    ChargeOutcome,
    ChargeRequest,
    CheckoutPage,
    CheckoutRequest,
    PaymentResult,
    PaymentResultStatus,
)

PROVIDER = "cardcom"

ENDPOINT_CREATE_LOW_PROFILE = "LowProfile/Create"
ENDPOINT_GET_LP_RESULT = "LowProfile/GetLpResult"
ENDPOINT_TRANSACTION = "Transactions/Transaction"
ENDPOINT_FIND_TRANSACTION = "Transactions/GetTransactionByExternalUniqTran"

# Operation names, not secrets (ruff mistakes "TOKEN" in the name for a password).
OPERATION_CHARGE_AND_CREATE_TOKEN = "ChargeAndCreateToken"  # noqa: S105
OPERATION_CREATE_TOKEN_ONLY = "CreateTokenOnly"  # noqa: S105

SUCCESS = 0
#: J2 (check only) and J5 (authorisation hold) succeed with these instead of 0.
J_VALIDATION_SUCCESS = frozenset({700, 701})
BAD_CREDENTIALS = 603
DUPLICATE_EXTERNAL_ID = 608

#: ISOCoinId: 1 = ILS, 2 = USD, otherwise the ISO 4217 numeric code.
ISO_COIN_IDS: Mapping[str, int] = {"ILS": 1, "USD": 2, "EUR": 978, "GBP": 826}

_MAX_TEXT = 250

JsonObject = dict[str, Any]


def iso_coin_id(currency: str) -> int:
    """Cardcom's coin id for an ISO currency code; unknown currencies are refused."""
    try:
        return ISO_COIN_IDS[currency.upper()]
    except KeyError:
        raise InvalidInput(
            f"Cardcom does not support currency {currency!r}", field="currency"
        ) from None


_WEBHOOK_ID_KEYS = frozenset({"lowprofileid", "lowprofilecode"})


def webhook_low_profile_id(payload: Mapping[str, Any]) -> str | None:
    """The page id in a webhook body (JSON or form fields), or ``None`` when it has none.

    v11 sends ``LowProfileId``; legacy callbacks were seen with ``lowprofilecode`` or
    ``LowProfileCode`` (providers.md §1.3), so key case is ignored. The body itself is never
    trusted: verify with ``get_checkout_result``.
    """
    for key, value in payload.items():
        if key.lower() in _WEBHOOK_ID_KEYS and isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _amount(value: Decimal) -> float:
    # Money is quantised to cents, so the shortest float repr is the exact decimal text.
    return float(value)


def _int(body: Mapping[str, Any], key: str) -> int:
    """Read an int field leniently (absent/null → 0; numeric strings accepted)."""
    value = body.get(key)
    if value is None or isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip() or 0)
    except ValueError:
        return 0


def _text(body: Mapping[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _object(body: Mapping[str, Any], key: str) -> Mapping[str, Any] | None:
    value = body.get(key)
    if isinstance(value, Mapping) and value:
        return value
    return None


@attrs.frozen(repr=False)
class CardcomProtocol:
    """Builds request bodies for one terminal and reads Cardcom's answers.

    ``api_name`` is a credential: it never appears in reprs or error messages, and any
    provider text that echoes it is redacted.
    """

    terminal_number: int
    api_name: str
    webhook_url: str
    success_url: str
    failed_url: str

    def __repr__(self) -> str:
        return f"CardcomProtocol(terminal_number={self.terminal_number}, api_name=<redacted>)"

    # ----------------------------------------------------------------- request bodies

    def _credentials(self) -> JsonObject:
        return {"TerminalNumber": self.terminal_number, "ApiName": self.api_name}

    def create_low_profile(self, request: CheckoutRequest) -> JsonObject:
        """Body of ``LowProfile/Create``: charge once and keep a token for renewals."""
        if len(request.return_value) > _MAX_TEXT:
            raise InvalidInput("return value is too long for Cardcom", field="return_value")
        body: JsonObject = {
            **self._credentials(),
            "Operation": OPERATION_CHARGE_AND_CREATE_TOKEN,
            "ReturnValue": request.return_value,
            "Amount": _amount(request.amount.amount),
            "ProductName": request.product_name[:_MAX_TEXT],
            "ISOCoinId": iso_coin_id(request.amount.currency),
            "WebHookUrl": self.webhook_url,
            "SuccessRedirectUrl": self.success_url,
            "FailedRedirectUrl": self.failed_url,
            "Language": "he",
        }
        if request.payer_email:
            body["UIDefinition"] = {"CardOwnerEmailValue": request.payer_email}
        return body

    def get_lp_result(self, low_profile_id: str) -> JsonObject:
        """Body of ``LowProfile/GetLpResult`` (exactly the three required fields)."""
        return {**self._credentials(), "LowProfileId": low_profile_id}

    def token_charge(self, request: ChargeRequest) -> JsonObject:
        """Body of ``Transactions/Transaction``, idempotent on ``external_uniq_id``."""
        body: JsonObject = {
            **self._credentials(),
            "Amount": _amount(request.amount.amount),
            "Token": request.card_token,
            "ExternalUniqTranId": request.external_uniq_id,
            # A repeat returns the original result instead of charging again (or error 608).
            "ExternalUniqUniqTranIdResponse": True,
            "NumOfPayments": 1,
            "ISOCoinId": iso_coin_id(request.amount.currency),
        }
        if request.card_expiry_mmyy:
            body["CardExpirationMMYY"] = request.card_expiry_mmyy
        return body

    def find_transaction(self, external_uniq_id: str) -> JsonObject:
        """Body of ``Transactions/GetTransactionByExternalUniqTran``."""
        return {**self._credentials(), "ExternalUniqTranId": external_uniq_id}

    # ----------------------------------------------------------------- reading answers

    def redact(self, text: str | None) -> str | None:
        """Provider text with our credential removed, in case Cardcom ever echoes it."""
        if text is None or not self.api_name:
            return text
        return text.replace(self.api_name, "<redacted>")

    def raise_for_api_code(self, body: Mapping[str, Any], endpoint: str) -> None:
        """Raise when the top-level ``ResponseCode`` is an API-level error."""
        code = _int(body, "ResponseCode")
        if code == SUCCESS:
            return
        description = self.redact(_text(body, "Description")) or "no description"
        message = f"{endpoint} failed with ResponseCode {code}: {description}"
        if code == BAD_CREDENTIALS:
            raise ProviderAuthError(PROVIDER, message)
        raise ProviderError(PROVIDER, message)

    def read_checkout_page(self, body: Mapping[str, Any]) -> CheckoutPage:
        """``CreateLowProfileResponse`` → the page to send the payer to."""
        self.raise_for_api_code(body, ENDPOINT_CREATE_LOW_PROFILE)
        low_profile_id = _text(body, "LowProfileId")
        url = _text(body, "Url")
        if low_profile_id is None or url is None:
            raise ProviderError(PROVIDER, f"{ENDPOINT_CREATE_LOW_PROFILE} returned no page")
        return CheckoutPage(low_profile_id=low_profile_id, url=url)

    def read_payment_result(self, body: Mapping[str, Any], low_profile_id: str) -> PaymentResult:
        """Classify a ``LowProfileResult`` (from GetLpResult or a webhook body).

        The rule of providers.md §1.2 [INFERRED]:

        - top-level ``ResponseCode`` non-zero: API error (603 → ``ProviderAuthError``);
        - ``TranzactionInfo`` absent, or its code is a success but ``TranzactionId`` is 0:
          not finalised (the payer has not paid yet);
        - ``TranzactionInfo.ResponseCode`` 0 (or 700/701) with ``TranzactionId > 0``: completed;
        - ``TranzactionInfo`` present with any other code: declined;
        - ``CreateTokenOnly`` pages complete when ``TokenInfo.Token`` is present.
        """
        self.raise_for_api_code(body, ENDPOINT_GET_LP_RESULT)
        low_profile_id = _text(body, "LowProfileId") or low_profile_id
        return_value = _text(body, "ReturnValue")
        transaction = _object(body, "TranzactionInfo")
        token_info = _object(body, "TokenInfo")
        token = _text(token_info, "Token") if token_info else None

        def result(status: PaymentResultStatus, **extra: Any) -> PaymentResult:
            return PaymentResult(
                status=status, low_profile_id=low_profile_id, return_value=return_value, **extra
            )

        if _text(body, "Operation") == OPERATION_CREATE_TOKEN_ONLY:
            if token is None:
                return result(PaymentResultStatus.NOT_FINALISED)
            return result(
                PaymentResultStatus.COMPLETED,
                card_token=token,
                card_expiry_mmyy=_expiry_mmyy(token_info, transaction),
                card_last4=_last4(transaction),
            )

        if transaction is None:
            return result(PaymentResultStatus.NOT_FINALISED)
        code = _int(transaction, "ResponseCode")
        description = self.redact(_text(transaction, "Description"))
        if code != SUCCESS and code not in J_VALIDATION_SUCCESS:
            return result(
                PaymentResultStatus.DECLINED,
                description=description or f"declined with ResponseCode {code}",
            )
        transaction_id = _int(body, "TranzactionId") or _int(transaction, "TranzactionId")
        if transaction_id <= 0:
            return result(PaymentResultStatus.NOT_FINALISED)
        return result(
            PaymentResultStatus.COMPLETED,
            provider_transaction_id=str(transaction_id),
            description=description,
            card_token=token or _text(transaction, "Token"),
            card_expiry_mmyy=_expiry_mmyy(token_info, transaction),
            card_last4=_last4(transaction),
        )

    def read_charge(self, body: Mapping[str, Any]) -> ChargeOutcome | None:
        """Classify a token charge's ``TransactionInfo``.

        Returns ``None`` for a duplicate ``ExternalUniqTranId`` (608), which the caller resolves
        by looking the original charge up. Bad credentials raise ``ProviderAuthError``.
        """
        code = _int(body, "ResponseCode")
        description = self.redact(_text(body, "Description"))
        if code == BAD_CREDENTIALS:
            self.raise_for_api_code(body, ENDPOINT_TRANSACTION)
        if code == DUPLICATE_EXTERNAL_ID:
            return None
        transaction_id = _int(body, "TranzactionId")
        if code == SUCCESS:
            if transaction_id <= 0:
                # Success without a deal number is not something we can bill against.
                raise ProviderError(
                    PROVIDER, f"{ENDPOINT_TRANSACTION} reported success without a TranzactionId"
                )
            return ChargeOutcome(
                completed=True,
                provider_transaction_id=str(transaction_id),
                description=description,
            )
        return ChargeOutcome(
            completed=False,
            provider_transaction_id=str(transaction_id) if transaction_id > 0 else None,
            description=description or f"declined with ResponseCode {code}",
        )

    def read_found_charge(self, body: Mapping[str, Any]) -> ChargeOutcome | None:
        """Classify ``GetTransactionByExternalUniqTran``.

        ``None`` means no deal is known under that id (no ``TranzactionId``): re-sending the
        idempotent charge is then safe.
        """
        code = _int(body, "ResponseCode")
        if code == BAD_CREDENTIALS:
            self.raise_for_api_code(body, ENDPOINT_FIND_TRANSACTION)
        transaction_id = _int(body, "TranzactionId")
        if transaction_id <= 0:
            return None
        description = self.redact(_text(body, "Description"))
        return ChargeOutcome(
            completed=code == SUCCESS,
            provider_transaction_id=str(transaction_id),
            description=description,
        )


def _expiry_mmyy(
    token_info: Mapping[str, Any] | None, transaction: Mapping[str, Any] | None
) -> str | None:
    """Card expiry as ``MMYY``: TokenInfo's month/4-digit year first, then the deal's."""
    for source in (token_info, transaction):
        if source is None:
            continue
        month, year = _int(source, "CardMonth"), _int(source, "CardYear")
        if 1 <= month <= 12 and year > 0:
            return f"{month:02d}{year % 100:02d}"
    if token_info is not None:
        ex_date = _text(token_info, "TokenExDate")  # yyyyMMdd
        if ex_date and len(ex_date) == 8 and ex_date.isdigit():
            return f"{ex_date[4:6]}{ex_date[2:4]}"
    return None


def _last4(transaction: Mapping[str, Any] | None) -> str | None:
    if transaction is None:
        return None
    text = _text(transaction, "Last4CardDigitsString")
    if text and text.isdigit():
        return text[-4:].rjust(4, "0")
    if transaction.get("Last4CardDigits") is None:
        return None
    return f"{_int(transaction, 'Last4CardDigits') % 10000:04d}"

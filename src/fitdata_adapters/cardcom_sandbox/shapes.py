"""Builders for the v11 response bodies (providers.md §1.0-§1.4), field for field."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal

from fitdata_adapters.cardcom_sandbox.cards import Card
from fitdata_adapters.cardcom_sandbox.store import JsonObject, LowProfile, SavedCard


def cardcom_datetime(moment: datetime) -> str:
    """Cardcom writes local times without a zone, e.g. ``2025-05-06T10:48:21``."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def error_info(code: int, description: str) -> JsonObject:
    """``ErrorInfo``: the body of HTTP 400/401 answers (and of a 603)."""
    return {"ResponseCode": code, "Description": description}


def create_low_profile_response(low_profile: LowProfile, url: str) -> JsonObject:
    """``CreateLowProfileResponse``."""
    return {
        "ResponseCode": 0,
        "Description": "OK",
        "LowProfileId": low_profile.id,
        "Url": url,
        # The sandbox serves no PayPal or Bit pages.
        "UrlToPayPal": None,
        "UrlToBit": None,
    }


def transaction_info(
    *,
    code: int,
    description: str,
    transaction_id: int,
    terminal_number: int,
    amount: Decimal,
    coin_id: int,
    created_at: datetime,
    card: Card | None = None,
    approval_number: str | None = None,
    token: str | None = None,
    owner_name: str | None = None,
    owner_email: str | None = None,
    entry_mode: str = "Internet",
) -> JsonObject:
    """``TransactionInfo``: every field of the schema, nothing else.

    ``CardYear`` has two digits here, as in Cardcom's own example.
    """
    return {
        "ResponseCode": code,
        "Description": description,
        "TranzactionId": transaction_id,
        "TerminalNumber": terminal_number,
        "Amount": amount,
        "CoinId": coin_id,
        "CouponNumber": None,
        "CreateDate": cardcom_datetime(created_at),
        "Last4CardDigits": int(card.last4) if card else 0,
        "Last4CardDigitsString": card.last4 if card else None,
        "FirstCardDigits": card.first6 if card else 0,
        "JParameter": "0",
        "CardMonth": card.month if card else 0,
        "CardYear": card.year % 100 if card else 0,
        "ApprovalNumber": approval_number,
        "FirstPaymentAmount": amount,
        "ConstPaymentAmount": Decimal(0),
        "NumberOfPayments": 1,
        "CardInfo": ("NonIsraeli" if card.is_abroad else "Israeli") if card else None,
        "CardOwnerName": owner_name,
        "CardOwnerPhone": None,
        "CardOwnerEmail": owner_email,
        "CardOwnerIdentityNumber": None,
        "Token": token,
        "CardName": card.brand if card else None,
        "SapakMutav": None,
        "Uid": None,
        "ConcentrationNumber": None,
        "DocumentNumber": None,
        "DocumentType": None,
        "Rrn": None,
        "Brand": card.brand if card else None,
        "Acquire": "CardCom" if card else None,
        "Issuer": ("NonIsrael" if card.is_abroad else "CAL") if card else None,
        "PaymentType": "Standard" if card else None,
        "CardNumberEntryMode": entry_mode if card else None,
        "DealType": "Debit" if card else None,
        "IsRefund": False,
        "DocumentUrl": None,
        "CustomFields": None,
        "IsAbroadCard": card.is_abroad if card else False,
        "IssuerAuthCodeDescription": None,
    }


def token_info(saved: SavedCard) -> JsonObject:
    """``TokenInfo``; ``CardYear`` has four digits here (Cardcom's example)."""
    card = saved.card
    return {
        "Token": saved.token,
        "TokenExDate": f"{card.year:04d}{card.month:02d}01",
        "CardYear": card.year,
        "CardMonth": card.month,
        "TokenApprovalNumber": saved.approval_number,
        "CardOwnerIdentityNumber": None,
    }


def low_profile_result(
    low_profile: LowProfile,
    *,
    transaction: JsonObject | None = None,
    token: JsonObject | None = None,
    card: Card | None = None,
    owner_name: str | None = None,
    owner_email: str | None = None,
) -> JsonObject:
    """``LowProfileResult``: GetLpResult's answer and the webhook body.

    Before payment: top-level 0, no ``TranzactionInfo``, ``TranzactionId`` 0. A decline keeps
    the top-level 0 and puts its code inside ``TranzactionInfo``.
    """
    if transaction is None:
        description = "Low profile deal not completed yet"
    elif transaction["ResponseCode"] == 0:
        description = "The transaction was successful"
    else:
        description = str(transaction["Description"])
    ui_values: JsonObject | None = None
    if card is not None:
        ui_values = {
            "CardOwnerEmail": owner_email,
            "CardOwnerName": owner_name,
            "CardOwnerPhone": None,
            "CardOwnerIdentityNumber": None,
            "NumOfPayments": 1,
            "CardYear": card.year,
            "CardMonth": card.month,
            "CustomFields": [],
            "IsAbroadCard": card.is_abroad,
        }
    return {
        "ResponseCode": 0,
        "Description": description,
        "TerminalNumber": low_profile.terminal_number,
        "LowProfileId": low_profile.id,
        "TranzactionId": int(transaction["TranzactionId"]) if transaction else 0,
        "ReturnValue": low_profile.return_value,
        "Operation": low_profile.operation,
        "UIValues": ui_values,
        "DocumentInfo": None,
        "TokenInfo": token,
        "SuspendedInfo": None,
        "TranzactionInfo": transaction,
        "ExternalPaymentVector": "NoneOrUnknown",
        "Country": ("US" if card.is_abroad else "IL") if card else None,
        "UTM": None,
        "IssuerAuthCodeDescription": None,
    }


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        # Cardcom sends amounts as JSON numbers; cents survive the float round trip.
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def encode(body: object) -> bytes:
    """JSON bytes with amounts as numbers."""
    return json.dumps(body, default=_json_default, ensure_ascii=False).encode()

"""Request validation against the v11 request schemas (providers.md §1.1, §1.2, §1.4).

Only what the sandbox needs to catch a client's mistakes early: required fields, JSON types,
string lengths and, when strict, unknown keys (the schemas say ``additionalProperties: false``).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Literal

import attrs

Kind = Literal["int", "str", "decimal", "bool", "object", "array"]


class BadRequest(Exception):
    """The body breaks the schema; answered as HTTP 400 ``ErrorInfo``."""

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


@attrs.frozen
class Field:
    kind: Kind
    required: bool = False
    min_length: int | None = None
    max_length: int | None = None
    nested: Mapping[str, Field] | None = None


def _str(
    max_length: int | None = None, *, required: bool = False, min_length: int | None = None
) -> Field:
    return Field("str", required=required, min_length=min_length, max_length=max_length)


_CREDENTIALS: dict[str, Field] = {
    "TerminalNumber": Field("int", required=True),
    "ApiName": _str(required=True, min_length=1),
}

UI_DEFINITION: Mapping[str, Field] = {
    "IsHideCardOwnerName": Field("bool"),
    "CardOwnerNameValue": _str(50),
    "CardOwnerIdValue": _str(),
    "IsHideCardOwnerPhone": Field("bool"),
    "CardOwnerPhoneValue": _str(),
    "IsCardOwnerPhoneRequired": Field("bool"),
    "CardOwnerEmailValue": _str(),
    "IsHideCardOwnerEmail": Field("bool"),
    "IsCardOwnerEmailRequired": Field("bool"),
    "IsHideCardOwnerIdentityNumber": Field("bool"),
    "IsHideCVV": Field("bool"),
    "CSSUrl": _str(),
    "CustomFields": Field("array"),
    "GooglePayBtnDesign": Field("object"),
}

CREATE_LOW_PROFILE: Mapping[str, Field] = {
    **_CREDENTIALS,
    "Operation": _str(),
    "ReturnValue": _str(250),
    "Amount": Field("decimal", required=True),
    "SuccessRedirectUrl": _str(500, required=True, min_length=1),
    "FailedRedirectUrl": _str(500, required=True, min_length=1),
    "CancelRedirectUrl": _str(),
    "WebHookUrl": _str(500, required=True, min_length=1),
    "ProductName": _str(250),
    "Language": _str(2),
    "ISOCoinId": Field("int"),
    "UIDefinition": Field("object", nested=UI_DEFINITION),
    "AdvancedDefinition": Field("object"),
    "Document": Field("object"),
    "UTM": Field("object"),
}

GET_LP_RESULT: Mapping[str, Field] = {
    **_CREDENTIALS,
    "LowProfileId": _str(required=True, min_length=1),
}

TRANSACTION: Mapping[str, Field] = {
    **_CREDENTIALS,
    "Amount": Field("decimal", required=True),
    "Token": _str(),
    "CardNumber": _str(),
    "CardExpirationMMYY": _str(4),
    "CVV2": _str(4),
    "ExternalUniqTranId": _str(),
    "ExternalUniqUniqTranIdResponse": Field("bool"),
    "ExternalMerchantId": _str(),
    "NumOfPayments": Field("int"),
    "CardOwnerInformation": Field("object"),
    "ISOCoinId": Field("int"),
    "CustomFields": Field("array"),
    "Advanced": Field("object"),
    "Document": Field("object"),
}

FIND_TRANSACTION: Mapping[str, Field] = {
    **_CREDENTIALS,
    "ExternalUniqTranId": _str(),
    "ExternalMerchantId": _str(),
}


def _type_ok(kind: Kind, value: Any) -> bool:
    if kind == "bool":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if kind == "int":
        return isinstance(value, int)
    if kind == "decimal":
        return isinstance(value, int | Decimal)
    if kind == "str":
        return isinstance(value, str)
    if kind == "object":
        return isinstance(value, Mapping)
    return isinstance(value, list)


def validate(
    body: Any, schema: Mapping[str, Field], *, strict: bool, where: str = ""
) -> dict[str, Any]:
    """Return ``body`` as a dict, or raise :class:`BadRequest` naming the first problem."""
    if not isinstance(body, Mapping):
        raise BadRequest(f"{where or 'body'} must be a JSON object")
    if strict:
        unknown = sorted(set(body) - set(schema))
        if unknown:
            raise BadRequest(f"Unknown field {where}{unknown[0]}")
    for name, field in schema.items():
        value = body.get(name)
        if value is None:
            if field.required:
                raise BadRequest(f"The {where}{name} field is required.")
            continue
        if not _type_ok(field.kind, value):
            raise BadRequest(f"The {where}{name} field must be of type {field.kind}.")
        if isinstance(value, str):
            if field.min_length is not None and len(value) < field.min_length:
                raise BadRequest(f"The {where}{name} field is required.")
            if field.max_length is not None and len(value) > field.max_length:
                raise BadRequest(f"The {where}{name} field is longer than {field.max_length}.")
        if field.nested is not None:
            validate(value, field.nested, strict=strict, where=f"{where}{name}.")
    return dict(body)


def amount(value: Any, *, field: str = "Amount") -> Decimal:
    """A positive amount with at most two decimals."""
    number = Decimal(value)
    if number <= 0:
        raise BadRequest(f"The {field} field must be positive.")
    if number != number.quantize(Decimal("0.01")):
        raise BadRequest(f"The {field} field allows at most 2 decimals.")
    return number

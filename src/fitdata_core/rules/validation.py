"""Validation and normalisation of what people type: emails and phone numbers.

Uses no I/O: email-validator runs without a DNS check, phonenumbers with Israel as the
default region (the platform's home market).
"""

from __future__ import annotations

import phonenumbers
from email_validator import EmailNotValidError
from email_validator import validate_email as _validate_email

from fitdata_core.errors import InvalidInput

__all__ = [
    "DEFAULT_PHONE_REGION",
    "validate_email",
    "validate_phone",
]

DEFAULT_PHONE_REGION = "IL"


def validate_email(value: str, *, field: str = "email") -> str:
    """The normalised email, or InvalidInput naming the field."""
    try:
        result = _validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidInput(f"{field} is not a valid email address: {exc}", field=field) from exc
    return result.normalized.lower()


def validate_phone(value: str, *, field: str = "phone", region: str = DEFAULT_PHONE_REGION) -> str:
    """The phone number in E.164 form, or InvalidInput naming the field."""
    try:
        parsed = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidInput(f"{field} is not a phone number: {value!r}", field=field) from exc
    if not phonenumbers.is_possible_number(parsed):
        raise InvalidInput(f"{field} is not a possible phone number: {value!r}", field=field)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)

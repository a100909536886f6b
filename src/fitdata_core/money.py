"""Money as a Decimal amount with a currency; never a float.

:func:`exact_amount` reads an amount someone typed (a plan price, a tier price in the
settings) without ever rounding or guessing: :class:`Money` itself rounds to whole agorot, so
whatever reaches it from outside goes through :func:`exact_amount` first.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal

import attrs

__all__ = ["AMOUNT_FORMAT", "AmountError", "Money", "exact_amount"]

_CENTS = Decimal("0.01")
MAX_DECIMALS = 2

# An amount written as text: ASCII digits with an optional dot and fraction. Decimal() also
# takes " 5 ", "1_000", "1e3" and other scripts' digits ("٥"); an amount is never guessed at.
_AMOUNT_TEXT = re.compile(r"[0-9]+(?:\.[0-9]+)?", re.ASCII)
AMOUNT_FORMAT = "digits 0-9 with an optional dot and at most 2 decimals, such as 249 or 249.90"


class AmountError(ValueError):
    """Why a value is not an exact amount; callers name the field or setting in front."""


def _decimal_places(amount: Decimal) -> int:
    """Significant decimal places, read from the digits (no arithmetic, so no context
    precision or exponent limit can round or overflow)."""
    sign_digits_exponent = amount.as_tuple()
    digits = list(sign_digits_exponent.digits)
    exponent = int(sign_digits_exponent.exponent)
    while exponent < 0 and len(digits) > 1 and digits[-1] == 0:
        digits.pop()
        exponent += 1
    if digits == [0]:
        return 0
    return max(0, -exponent)


def exact_amount(value: str | int | Decimal) -> Decimal:
    """``value`` as an exact, non-negative amount of whole agorot; :class:`AmountError` if not.

    Text must be ASCII digits with an optional dot and at most 2 decimals. A number (an
    ``int``, or a ``Decimal`` such as the HTTP layer makes of a JSON number at the exact value
    written) must be finite with at most 2 decimal places: ``1e-400`` is refused, never
    turned into 0.00, and ``249.999`` is refused, never turned into 250.00.
    """
    shown = str(value)
    if isinstance(value, str):
        if value.startswith("-") and _AMOUNT_TEXT.fullmatch(value[1:]):
            raise AmountError("must not be negative.")
        if not _AMOUNT_TEXT.fullmatch(value):
            raise AmountError(f"must be a number written as {AMOUNT_FORMAT}; got {shown!r}.")
        amount = Decimal(value)
    elif isinstance(value, Decimal | int) and not isinstance(value, bool):
        amount = Decimal(value)
    else:
        raise AmountError(f"must be a number, got {shown!r}.")
    if not amount.is_finite():
        raise AmountError(f"must be a number, got {shown!r}.")
    if amount < 0:
        raise AmountError("must not be negative.")
    if _decimal_places(amount) > MAX_DECIMALS:
        raise AmountError(f"has at most {MAX_DECIMALS} decimal places, got {shown!r}.")
    return amount


def _to_decimal(value: Decimal | int | str) -> Decimal:
    amount = Decimal(value)
    if not amount.is_finite():
        raise ValueError("money must be a finite amount")
    return amount.quantize(_CENTS, rounding=ROUND_HALF_UP)


@attrs.frozen
class Money:
    """An amount of money: a ``Decimal`` rounded to cents, with a currency (ILS by default)."""

    amount: Decimal = attrs.field(converter=_to_decimal)
    currency: str = "ILS"

    @property
    def is_zero(self) -> bool:
        return self.amount == 0

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"

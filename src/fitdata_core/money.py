"""Money as a Decimal amount with a currency; never a float."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import attrs

__all__ = [
    "Money",
]

_CENTS = Decimal("0.01")


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

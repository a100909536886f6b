"""An in-memory payment gateway that behaves like Cardcom where it matters.

Hosted pages a caller "pays" or "declines", token charges idempotent on the external id
exactly like Cardcom's ``ExternalUniqTranId`` (a repeat returns the first answer and never
charges again), and switches to make it unreachable or lose an answer after charging.
Unit tests and library users use it in place of the Cardcom adapter.
"""

from __future__ import annotations

import asyncio

from fitdata_core.errors import ProviderError
from fitdata_core.ports.providers import (
    ChargeOutcome,
    ChargeRequest,
    CheckoutPage,
    CheckoutRequest,
    PaymentResult,
    PaymentResultStatus,
)

TEST_CARD_TOKEN = "9f1c2e4a-0000-4bad-a11c-5ec2e7700001"  # noqa: S105 - a fake token's shape


class MemoryPaymentGateway:
    """Implements :class:`~fitdata_core.ports.providers.PaymentGateway` in memory."""

    def __init__(self) -> None:
        self.pages: dict[str, CheckoutRequest] = {}
        self.results: dict[str, PaymentResult] = {}
        self.charges: dict[str, ChargeOutcome] = {}  # external id -> the one real charge
        self.charge_requests: list[ChargeRequest] = []
        self.result_lookups = 0
        self.unreachable = False
        self.decline_charges = False
        self.lose_next_charge_answer = False  # the charge happens, the answer never arrives

    def _check(self) -> None:
        if self.unreachable:
            raise ProviderError("cardcom", "connection refused")

    async def create_checkout(self, request: CheckoutRequest) -> CheckoutPage:
        self._check()
        low_profile_id = f"lp-{len(self.pages) + 1:04d}"
        self.pages[low_profile_id] = request
        self.results[low_profile_id] = PaymentResult(
            PaymentResultStatus.NOT_FINALISED, low_profile_id, return_value=request.return_value
        )
        return CheckoutPage(low_profile_id, f"https://secure.cardcom.test/EA/{low_profile_id}")

    def pay(self, low_profile_id: str, *, token: str | None = TEST_CARD_TOKEN) -> None:
        """The payer completes the hosted page with a good card."""
        self.results[low_profile_id] = PaymentResult(
            PaymentResultStatus.COMPLETED,
            low_profile_id,
            return_value=self.pages[low_profile_id].return_value,
            provider_transaction_id=f"ptx-{low_profile_id}",
            description="The transaction was successful",
            card_token=token,
            card_expiry_mmyy="1228",
            card_last4="0008",
        )

    def decline(self, low_profile_id: str) -> None:
        self.results[low_profile_id] = PaymentResult(
            PaymentResultStatus.DECLINED,
            low_profile_id,
            return_value=self.pages[low_profile_id].return_value,
            description="Card declined (003)",
        )

    async def get_checkout_result(self, low_profile_id: str) -> PaymentResult:
        await asyncio.sleep(0)  # a network call: let other tasks interleave
        self._check()
        self.result_lookups += 1
        if low_profile_id not in self.results:
            raise ProviderError("cardcom", "unknown LowProfileId")
        return self.results[low_profile_id]

    async def charge_token(self, request: ChargeRequest) -> ChargeOutcome:
        await asyncio.sleep(0)
        self._check()
        self.charge_requests.append(request)
        if request.external_uniq_id in self.charges:  # Cardcom's idempotency on the id
            return self.charges[request.external_uniq_id]
        if self.decline_charges:
            outcome = ChargeOutcome(False, None, "Card declined (003)")
        else:
            outcome = ChargeOutcome(True, f"ctx-{len(self.charges) + 1}", "OK")
        self.charges[request.external_uniq_id] = outcome
        if self.lose_next_charge_answer:
            self.lose_next_charge_answer = False
            raise ProviderError("cardcom", "Transactions/Transaction timed out")
        return outcome

    async def find_charge(self, external_uniq_id: str) -> ChargeOutcome | None:
        self._check()
        return self.charges.get(external_uniq_id)

    @property
    def money_taken(self) -> int:
        """How many successful charges actually happened."""
        return sum(1 for c in self.charges.values() if c.completed)

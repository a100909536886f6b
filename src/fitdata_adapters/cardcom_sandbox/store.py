"""The sandbox's in-memory state: pages, saved cards, deals, faults, latency and a call log."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

import attrs

from fitdata_adapters.cardcom_sandbox.cards import Card

JsonObject = dict[str, Any]


@attrs.define
class LowProfile:
    """A hosted payment page created by ``LowProfile/Create``."""

    id: str
    terminal_number: int
    operation: str
    amount: Decimal
    iso_coin_id: int
    return_value: str | None
    product_name: str | None
    language: str
    webhook_url: str
    success_url: str
    failed_url: str
    cancel_url: str | None
    owner_email: str | None
    owner_name: str | None
    created_at: datetime
    #: The ``LowProfileResult`` once the payer submitted the page (approved or declined).
    result: JsonObject | None = None


@attrs.define(repr=False)
class SavedCard:
    """The card behind a token (kept so later token charges can apply the card's rules)."""

    token: str
    terminal_number: int
    card: Card
    approval_number: str
    owner_name: str | None
    owner_email: str | None

    def __repr__(self) -> str:
        return f"SavedCard(last4={self.card.last4!r})"


@attrs.define
class Deal:
    """One card deal attempt, approved or declined, from the page or from a token charge."""

    transaction_id: int
    source: Literal["page", "token"]
    amount: Decimal
    response_code: int
    description: str
    created_at: datetime
    low_profile_id: str | None = None
    external_uniq_id: str | None = None
    last4: str | None = None

    @property
    def charged(self) -> bool:
        return self.response_code == 0 and self.transaction_id > 0

    def to_json(self) -> JsonObject:
        return {
            "TranzactionId": self.transaction_id,
            "Source": self.source,
            "Amount": self.amount,
            "ResponseCode": self.response_code,
            "Description": self.description,
            "Charged": self.charged,
            "LowProfileId": self.low_profile_id,
            "ExternalUniqTranId": self.external_uniq_id,
            "Last4CardDigits": self.last4,
            "CreateDate": self.created_at.isoformat(timespec="seconds"),
        }


FaultMode = Literal["error", "hang", "hang_after"]


@attrs.define
class Fault:
    """Make the next ``remaining`` matching API calls misbehave.

    ``error``: answer ``status`` without processing. ``hang``: wait ``hang_seconds`` without
    processing, then answer ``status``. ``hang_after``: process the call, then wait before
    answering (the charge happened but the caller times out: a lost response).
    """

    mode: FaultMode
    remaining: int
    endpoint: str | None = None
    status: int = 500
    hang_seconds: float = 30.0

    def to_json(self) -> JsonObject:
        return {
            "mode": self.mode,
            "remaining": self.remaining,
            "endpoint": self.endpoint,
            "status": self.status,
            "hang_seconds": self.hang_seconds,
        }


@attrs.define
class CallRecord:
    endpoint: str
    http_status: int
    response_code: int | None

    def to_json(self) -> JsonObject:
        return {
            "endpoint": self.endpoint,
            "http_status": self.http_status,
            "response_code": self.response_code,
        }


@attrs.define
class SandboxState:
    """Everything the sandbox remembers; :meth:`reset` forgets it all."""

    always_report: bool
    time_scale: float
    low_profiles: dict[str, LowProfile] = attrs.Factory(dict)
    cards: dict[str, SavedCard] = attrs.Factory(dict)
    deals: list[Deal] = attrs.Factory(list)
    #: The original ``TransactionInfo`` answer per ``ExternalUniqTranId``.
    by_external_id: dict[str, JsonObject] = attrs.Factory(dict)
    faults: list[Fault] = attrs.Factory(list)
    #: Added latency in seconds per endpoint key (``"*"`` = every API call).
    latency: dict[str, float] = attrs.Factory(dict)
    calls: list[CallRecord] = attrs.Factory(list)
    last_transaction_id: int = 200_000_000

    def next_transaction_id(self) -> int:
        self.last_transaction_id += 1
        return self.last_transaction_id

    def take_fault(self, endpoint: str) -> Fault | None:
        """The first armed fault for ``endpoint``, consuming one of its uses."""
        for fault in self.faults:
            if fault.endpoint in (None, endpoint) and fault.remaining > 0:
                fault.remaining -= 1
                if fault.remaining == 0:
                    self.faults.remove(fault)
                return fault
        return None

    def latency_for(self, endpoint: str) -> float:
        return self.latency.get(endpoint, 0.0) + self.latency.get("*", 0.0)

    def reset(self, *, always_report: bool, time_scale: float) -> None:
        self.always_report = always_report
        self.time_scale = time_scale
        self.low_profiles.clear()
        self.cards.clear()
        self.deals.clear()
        self.by_external_id.clear()
        self.faults.clear()
        self.latency.clear()
        self.calls.clear()

"""Keeping the sandbox's state across restarts: one JSON snapshot in a state directory.

What a real Cardcom remembers is kept: hosted pages (with their results), saved cards behind
tokens, deals, the answers per ``ExternalUniqTranId``, the last transaction number and the
webhook delivery records. Test controls (faults, latency, settings) and the API call log are
not: they describe one test run. Re-sends that were pending when the sandbox stopped are not
resumed (fitdata's reconciler asks ``GetLpResult`` anyway).

The snapshot is rewritten whole after every change (write a temporary file, fsync, rename), so
a crash leaves the old or the new snapshot, never half of one. The data is small (a developer's
pages and tokens), so the rewrite costs little. A lock file keeps two sandboxes from sharing a
directory, where the last writer would silently drop the other's tokens.

An unreadable snapshot is an error naming the file rather than a fresh start: starting empty
would bring back exactly the declined renewals (unknown token) this store exists to prevent.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from fitdata_adapters.cardcom_sandbox.cards import Card
from fitdata_adapters.cardcom_sandbox.shapes import encode
from fitdata_adapters.cardcom_sandbox.store import (
    Deal,
    JsonObject,
    LowProfile,
    SandboxState,
    SavedCard,
)
from fitdata_adapters.cardcom_sandbox.webhooks import Delivery, DeliveryAttempt
from fitdata_adapters.private_fs import make_private_dir, open_private

STATE_FILE = "state.json"
LOCK_FILE = "lock"
FORMAT_VERSION = 1


class SandboxStateError(Exception):
    """The state directory cannot be used; the message names the file and what to do."""


class SandboxStateInUse(SandboxStateError):
    """Another running sandbox holds the state directory."""


def _time(value: datetime) -> str:
    return value.isoformat()


def _low_profile_json(lp: LowProfile) -> JsonObject:
    return {
        "id": lp.id,
        "terminal_number": lp.terminal_number,
        "operation": lp.operation,
        "amount": str(lp.amount),
        "iso_coin_id": lp.iso_coin_id,
        "return_value": lp.return_value,
        "product_name": lp.product_name,
        "language": lp.language,
        "webhook_url": lp.webhook_url,
        "success_url": lp.success_url,
        "failed_url": lp.failed_url,
        "cancel_url": lp.cancel_url,
        "owner_email": lp.owner_email,
        "owner_name": lp.owner_name,
        "created_at": _time(lp.created_at),
        "result": lp.result,
    }


def _low_profile(data: JsonObject) -> LowProfile:
    return LowProfile(
        **{
            **data,
            "amount": Decimal(data["amount"]),
            "created_at": datetime.fromisoformat(data["created_at"]),
        }
    )


def _card_json(saved: SavedCard) -> JsonObject:
    return {
        "token": saved.token,
        "terminal_number": saved.terminal_number,
        "card": {
            "number": saved.card.number,
            "month": saved.card.month,
            "year": saved.card.year,
        },
        "approval_number": saved.approval_number,
        "owner_name": saved.owner_name,
        "owner_email": saved.owner_email,
    }


def _card(data: JsonObject) -> SavedCard:
    return SavedCard(**{**data, "card": Card(**data["card"])})


def _deal_json(deal: Deal) -> JsonObject:
    return {
        "transaction_id": deal.transaction_id,
        "source": deal.source,
        "amount": str(deal.amount),
        "response_code": deal.response_code,
        "description": deal.description,
        "created_at": _time(deal.created_at),
        "low_profile_id": deal.low_profile_id,
        "external_uniq_id": deal.external_uniq_id,
        "last4": deal.last4,
    }


def _deal(data: JsonObject) -> Deal:
    return Deal(
        **{
            **data,
            "amount": Decimal(data["amount"]),
            "created_at": datetime.fromisoformat(data["created_at"]),
        }
    )


def _delivery_json(delivery: Delivery) -> JsonObject:
    return {
        "id": delivery.id,
        "low_profile_id": delivery.low_profile_id,
        "url": delivery.url,
        "payload": delivery.payload,
        "state": delivery.state,
        "attempts": [
            {
                "number": a.number,
                "nominal_delay_seconds": a.nominal_delay_seconds,
                "elapsed_seconds": a.elapsed_seconds,
                "status": a.status,
                "error": a.error,
            }
            for a in delivery.attempts
        ],
    }


def _delivery(data: JsonObject) -> Delivery:
    attempts = [
        DeliveryAttempt(
            number=a["number"],
            nominal_delay_seconds=float(a["nominal_delay_seconds"]),
            elapsed_seconds=float(a["elapsed_seconds"]),
            status=a["status"],
            error=a["error"],
        )
        for a in data["attempts"]
    ]
    return Delivery(
        id=data["id"],
        low_profile_id=data["low_profile_id"],
        url=data["url"],
        payload=data["payload"],
        state=data["state"],
        attempts=attempts,
    )


def snapshot(state: SandboxState, deliveries: list[Delivery]) -> bytes:
    """The persistent part of ``state`` as JSON (amounts inside answers stay JSON numbers)."""
    return encode(
        {
            "version": FORMAT_VERSION,
            "last_transaction_id": state.last_transaction_id,
            "low_profiles": [_low_profile_json(lp) for lp in state.low_profiles.values()],
            "cards": [_card_json(saved) for saved in state.cards.values()],
            "deals": [_deal_json(deal) for deal in state.deals],
            "by_external_id": state.by_external_id,
            "webhook_deliveries": [_delivery_json(d) for d in deliveries],
        }
    )


def restore(raw: bytes, state: SandboxState) -> list[Delivery]:
    """Fill ``state`` from a snapshot; returns the delivery records. Raises on any bad shape."""
    # Amounts in stored answers come back as Decimal, as the engine builds them.
    data: Any = json.loads(raw, parse_float=Decimal)
    if not isinstance(data, dict) or data.get("version") != FORMAT_VERSION:
        raise ValueError(f"not a version {FORMAT_VERSION} sandbox snapshot")
    low_profiles = [_low_profile(item) for item in data["low_profiles"]]
    cards = [_card(item) for item in data["cards"]]
    deals = [_deal(item) for item in data["deals"]]
    by_external_id = data["by_external_id"]
    if not isinstance(by_external_id, dict):
        raise ValueError("by_external_id must be an object")
    deliveries = [_delivery(item) for item in data["webhook_deliveries"]]
    state.last_transaction_id = int(data["last_transaction_id"])
    state.low_profiles = {lp.id: lp for lp in low_profiles}
    state.cards = {saved.token: saved for saved in cards}
    state.deals = deals
    state.by_external_id = by_external_id
    return deliveries


class StateFile:
    """The snapshot file of one state directory, locked while this sandbox uses it."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / STATE_FILE
        try:
            make_private_dir(directory)
            # Held open until close (the lock lives as long as the descriptor).
            lock = os.fdopen(open_private(directory / LOCK_FILE, os.O_WRONLY | os.O_CREAT), "ab")
        except OSError as exc:
            raise SandboxStateError(
                f"Cannot use the Cardcom sandbox state directory {directory}: {exc.strerror}."
            ) from None
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.close()
            raise SandboxStateInUse(
                f"The Cardcom sandbox state directory {directory} is in use by another running "
                "sandbox; give this one another directory or point both at one sandbox."
            ) from None
        self._lock: IO[bytes] | None = lock

    def load(self, state: SandboxState) -> list[Delivery]:
        """Read the snapshot into ``state`` (nothing to do when there is none yet)."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return []
        except OSError as exc:
            self.close()
            raise SandboxStateError(self._unreadable(exc.strerror or str(exc))) from None
        try:
            return restore(raw, state)
        except (ValueError, KeyError, TypeError, ArithmeticError) as exc:
            self.close()
            raise SandboxStateError(self._unreadable(type(exc).__name__)) from None

    def _unreadable(self, reason: str) -> str:
        # The reason is the error's kind only: the file holds tokens, which must not be echoed.
        return (
            f"The Cardcom sandbox state file {self.path} is unreadable ({reason}). Move it away "
            "or delete it to start the sandbox empty (its pages and card tokens are then lost)."
        )

    def save(self, state: SandboxState, deliveries: list[Delivery]) -> None:
        """Replace the snapshot atomically (readable by the owner only: it holds tokens)."""
        data = snapshot(state, deliveries)
        temporary = self.directory / f".{STATE_FILE}.{os.getpid()}.tmp"
        descriptor = open_private(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        with os.fdopen(descriptor, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, self.path)

    def close(self) -> None:
        """Release the directory (closing the lock file drops the lock)."""
        if self._lock is not None:
            with contextlib.suppress(OSError):
                self._lock.close()
            self._lock = None

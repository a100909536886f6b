"""Webhook (IPN) delivery with Cardcom's retry schedule.

Cardcom POSTs the ``LowProfileResult`` JSON to ``WebHookUrl``; when the receiver does not
answer HTTP 200 it re-sends up to 7 times, 1, 2, 2, 16 and 60 minutes, then 12 h and 12 h
apart (providers.md §1.3). Every wait is multiplied by the sandbox's ``time_scale``.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from typing import Any, Literal

import attrs
import httpx

from fitdata_adapters.cardcom_sandbox.shapes import encode
from fitdata_adapters.cardcom_sandbox.store import JsonObject

#: Waits (seconds, before scaling) before each re-send after the first delivery attempt.
RETRY_INTERVALS_SECONDS: tuple[float, ...] = (60, 120, 120, 960, 3600, 43_200, 43_200)
_ATTEMPT_TIMEOUT_SECONDS = 10.0

DeliveryState = Literal["pending", "delivered", "failed", "suppressed", "cancelled"]


@attrs.define
class DeliveryAttempt:
    number: int
    nominal_delay_seconds: float
    elapsed_seconds: float
    status: int | None = None
    error: str | None = None

    def to_json(self) -> JsonObject:
        return {
            "number": self.number,
            "nominal_delay_seconds": self.nominal_delay_seconds,
            "elapsed_seconds": round(self.elapsed_seconds, 4),
            "status": self.status,
            "error": self.error,
        }


@attrs.define
class Delivery:
    id: int
    low_profile_id: str
    url: str
    payload: JsonObject
    state: DeliveryState = "pending"
    attempts: list[DeliveryAttempt] = attrs.Factory(list)

    def to_json(self) -> JsonObject:
        return {
            "id": self.id,
            "low_profile_id": self.low_profile_id,
            "url": self.url,
            "state": self.state,
            "attempts": [attempt.to_json() for attempt in self.attempts],
        }


class WebhookDispatcher:
    """Runs deliveries as background tasks on the server's event loop."""

    def __init__(self, time_scale: Callable[[], float]) -> None:
        self._time_scale = time_scale
        self._ids = itertools.count(1)
        self._tasks: set[asyncio.Task[None]] = set()
        self._client: httpx.AsyncClient | None = None
        self.deliveries: list[Delivery] = []
        #: When set, new deliveries are recorded but never sent (a receiver that is down).
        self.suppressed = False
        #: Called after every change to a delivery record (the persistent store saves then).
        self.on_change: Callable[[], None] = lambda: None

    def restore(self, deliveries: list[Delivery]) -> None:
        """Take over delivery records kept from an earlier run (they are not re-sent)."""
        self.deliveries = list(deliveries)
        self._ids = itertools.count(max((d.id for d in deliveries), default=0) + 1)

    def deliver(self, low_profile_id: str, url: str, payload: JsonObject) -> Delivery:
        """Record a delivery and start sending it in the background."""
        delivery = Delivery(next(self._ids), low_profile_id, url, payload)
        self.deliveries.append(delivery)
        if self.suppressed:
            delivery.state = "suppressed"
            self.on_change()
            return delivery
        self.on_change()
        task = asyncio.get_running_loop().create_task(self._run(delivery))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return delivery

    def latest_for(self, low_profile_id: str) -> Delivery | None:
        for delivery in reversed(self.deliveries):
            if delivery.low_profile_id == low_profile_id:
                return delivery
        return None

    async def _run(self, delivery: Delivery) -> None:
        started = time.monotonic()
        delays = (0.0, *RETRY_INTERVALS_SECONDS)
        try:
            for number, nominal in enumerate(delays, start=1):
                if nominal:
                    await asyncio.sleep(nominal * self._time_scale())
                attempt = DeliveryAttempt(number, nominal, time.monotonic() - started)
                delivery.attempts.append(attempt)
                try:
                    response = await self._http().post(
                        delivery.url,
                        content=encode(delivery.payload),
                        headers={"Content-Type": "application/json"},
                        timeout=_ATTEMPT_TIMEOUT_SECONDS,
                    )
                except httpx.HTTPError as exc:
                    attempt.error = type(exc).__name__
                    self.on_change()
                    continue
                attempt.status = response.status_code
                if response.status_code == httpx.codes.OK:
                    delivery.state = "delivered"
                    self.on_change()
                    return
                self.on_change()
            delivery.state = "failed"
            self.on_change()
        except asyncio.CancelledError:
            delivery.state = "cancelled"
            self.on_change()
            raise

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient()
        return self._client

    async def cancel_all(self) -> None:
        """Stop every pending delivery (used by reset and shutdown)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def aclose(self) -> None:
        await self.cancel_all()
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def clear(self) -> None:
        self.deliveries.clear()
        self.suppressed = False

    @staticmethod
    def describe(deliveries: list[Delivery]) -> list[dict[str, Any]]:
        return [delivery.to_json() for delivery in deliveries]

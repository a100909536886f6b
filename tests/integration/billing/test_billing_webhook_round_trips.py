"""The first webhook's database work, counted: what it costs per activation stays this small.

Every statement, ``BEGIN``, ``COMMIT`` and ``ROLLBACK`` is a round trip to Postgres and CPU in
the one event loop that answers Cardcom (bench/webhooks.py); a change that adds one shows up
here before it shows up in the benchmark's noise.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from billing_http_harness import Stack
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from fitdata_core.usecases import billing
from fitdata_core.usecases.billing import ActivationOutcome
from fitdata_core.usecases.billing.activation import AfterAnswer

pytestmark = pytest.mark.integration


@contextmanager
def counted(engine: AsyncEngine) -> Iterator[Counter[str]]:
    """Statements and transaction ends sent on ``engine`` while the block runs."""
    seen: Counter[str] = Counter()
    sync = engine.sync_engine

    def statement(*_: Any) -> None:
        seen["statements"] += 1

    def begin(_: Any) -> None:
        seen["begin"] += 1

    def commit(_: Any) -> None:
        seen["commit"] += 1

    def rollback(_: Any) -> None:
        seen["rollback"] += 1

    listeners = [
        ("before_cursor_execute", statement),
        ("begin", begin),
        ("commit", commit),
        ("rollback", rollback),
    ]
    for name, listener in listeners:
        event.listen(sync, name, listener)
    try:
        yield seen
    finally:
        for name, listener in listeners:
            event.remove(sync, name, listener)


async def test_the_activation_webhook_reads_and_writes_in_few_round_trips(stack: Stack) -> None:
    gym = await stack.gym()
    await stack.suppress_webhooks()  # the webhook is ours to send, below
    page = (await stack.checkout(gym))["lowProfileId"]
    await stack.pay(page)
    later: list[AfterAnswer] = []

    with counted(stack.runtime.engine) as answer:
        outcome = await billing.handle_webhook(stack.svc, page, after_answer=later)
    with counted(stack.runtime.engine) as after:
        for step in later:
            await step()

    assert outcome is ActivationOutcome.COMPLETED
    # Before the answer: the lookup (the checkout and its organization's owners, rolled
    # back), then the activation (lock the checkout, complete it, lock and upsert the
    # subscription, lock and update the organization, insert the events in one statement) in
    # one transaction that commits.
    assert answer == Counter(begin=2, statements=9, commit=1, rollback=1)
    # After it, the receipt alone: its owners were read with the checkout.
    assert after == Counter()
    assert sum("receipt" in m.subject.lower() for m in stack.mailer.sent) == 1

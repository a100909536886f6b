"""A storm of checkouts for one organization on Postgres leaves exactly one payment page.

The double click of issue 7: concurrent ``POST …/billing/checkout`` for the same tier used to
leave two live pending pages (two charges if both are paid) or hand a caller a page whose
transaction another request had already cancelled (a charge that activates nothing).
"""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
import sqlalchemy as sa
from billing_http_harness import Stack, bearer

pytestmark = pytest.mark.integration

CALLERS = 20


async def test_concurrent_checkouts_share_one_pending_transaction(stack: Stack) -> None:
    gym = await stack.gym()

    responses = await asyncio.gather(
        *(
            stack.app.post(
                f"/organizations/{gym.org_id}/billing/checkout",
                json={"tier": "pro"},
                headers=bearer(gym.owner),
            )
            for _ in range(CALLERS)
        )
    )

    assert [r.status_code for r in responses] == [201] * CALLERS, [r.text for r in responses]
    sessions = [r.json()["data"] for r in responses]
    async with stack.runtime.engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.text(
                    "SELECT id, status, low_profile_id FROM platform_billing_transactions "
                    "WHERE organization_id = :org"
                ),
                {"org": gym.org_id},
            )
        ).all()
    status_of = {row.id: row.status for row in rows}
    pending = [row for row in rows if row.status == "pending"]
    assert len(pending) == 1, Counter(status_of.values())
    # Every caller got that one page, and no caller got a page whose transaction is cancelled.
    handed_out = {s["transactionId"] for s in sessions}
    assert {status_of.get(txn_id) for txn_id in handed_out} == {"pending"}
    assert handed_out == {pending[0].id}
    assert {s["lowProfileId"] for s in sessions} == {pending[0].low_profile_id}
    assert sorted(s["reused"] for s in sessions) == [False] + [True] * (CALLERS - 1)
    # Nothing else was recorded: the losers' gateway pages were simply never used.
    assert len(rows) == 1

"""A storm of checkouts for one organization on Postgres leaves exactly one payment page.

The double click of issue 7: concurrent ``POST …/billing/checkout`` for the same tier used to
leave two live pending pages (two charges if both are paid) or hand a caller a page whose
transaction another request had already cancelled (a charge that activates nothing).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from billing_http_harness import Stack, bearer

from fitdata_adapters.bootstrap import Runtime, bootstrap
from fitdata_adapters.memory import MemoryJobQueue
from fitdata_adapters.memory.payments import MemoryPaymentGateway
from fitdata_adapters.settings import Settings
from fitdata_core.model.billing import TransactionStatus
from fitdata_core.services import Services
from fitdata_core.usecases.billing import CheckoutSession, start_checkout
from support.billing import Gym, add_gym, transactions_of

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


# --- the use case on both SQL databases, same tier and mixed tiers ---------------------------


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    fixture = {"sqlite": "sqlite_url", "postgres": "clean_pg_url"}[request.param]
    return str(request.getfixturevalue(fixture))


@pytest.fixture
async def sql_runtime(tmp_path: Path, database_url: str) -> AsyncIterator[Runtime]:
    settings = Settings.from_env(
        {
            "FITDATA_DATA_DIR": str(tmp_path / "var"),
            "FITDATA_MODE": "embedded",
            "FITDATA_DATABASE_URL": database_url,
            "FITDATA_JWT_SECRET": "checkout-race-jwt-secret-long-enough-for-hs256",
        }
    )
    runtime = bootstrap(settings, payment_gateway=MemoryPaymentGateway(), queue=MemoryJobQueue())
    try:
        yield runtime
    finally:
        await runtime.aclose()


async def _storm(svc: Services, gym: Gym, tiers: list[str]) -> list[CheckoutSession]:
    return list(
        await asyncio.gather(*(start_checkout(svc, gym.owner, gym.org_id, t) for t in tiers))
    )


async def test_concurrent_same_tier_checkouts_leave_one_page_on_both_databases(
    sql_runtime: Runtime,
) -> None:
    svc = sql_runtime.services
    gym = await add_gym(svc)

    sessions = await _storm(svc, gym, ["pro"] * CALLERS)

    txns = await transactions_of(svc, gym.org_id)
    assert [t.status for t in txns] == [TransactionStatus.PENDING]
    assert {s.transaction_id for s in sessions} == {txns[0].id}
    assert sorted(s.reused for s in sessions) == [False] + [True] * (CALLERS - 1)


async def test_concurrent_checkouts_for_two_tiers_leave_one_open_page(
    sql_runtime: Runtime,
) -> None:
    # An owner hammering "pro" and "elite" at once: each request either reuses the page of its
    # tier or supersedes the other tier's; whatever the order, one page stays open, and it is
    # one that a caller was handed.
    svc = sql_runtime.services
    gym = await add_gym(svc)

    sessions = await _storm(svc, gym, ["pro", "elite"] * (CALLERS // 2))

    txns = await transactions_of(svc, gym.org_id)
    pending = [t for t in txns if t.status is TransactionStatus.PENDING]
    assert len(pending) == 1
    assert pending[0].id in {s.transaction_id for s in sessions}
    assert {t.status for t in txns} <= {TransactionStatus.PENDING, TransactionStatus.CANCELLED}
    # Every page handed out was recorded: no caller got a page we have no transaction for.
    assert {s.transaction_id for s in sessions} <= {t.id for t in txns}

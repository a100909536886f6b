"""``Idempotency-Key`` over the real composition root (SQLite and Postgres): concurrent retries
of one export do the work once, and a checkout retried with its key gets the same page."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from litestar import Litestar
from litestar.testing import AsyncTestClient

from fitdata_adapters.bootstrap import Runtime, bootstrap
from fitdata_adapters.memory import MemoryJobQueue
from fitdata_adapters.memory.payments import MemoryPaymentGateway
from fitdata_adapters.settings import Settings
from fitdata_adapters.tokens import issue_token
from fitdata_core.errors import IdempotencyKeyInUse
from fitdata_core.usecases.organizations import create_organization
from fitdata_http import create_app
from fitdata_http.envelope import Envelope, ok
from fitdata_http.idempotency import Idempotency

pytestmark = pytest.mark.integration

Client = AsyncTestClient[Litestar]
JWT_SECRET = "integration-idempotency-jwt-secret-long-enough"
RETRIES = 12


def _bearer(user_id: str) -> dict[str, str]:
    jwt = issue_token(JWT_SECRET, user_id, now=datetime.now(UTC), ttl=timedelta(minutes=5))
    return {"Authorization": f"Bearer {jwt}"}


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    fixture = {"sqlite": "sqlite_url", "postgres": "clean_pg_url"}[request.param]
    return str(request.getfixturevalue(fixture))


@pytest.fixture
async def runtime(tmp_path: Path, database_url: str) -> AsyncIterator[Runtime]:
    settings = Settings.from_env(
        {
            "FITDATA_DATA_DIR": str(tmp_path),
            "FITDATA_MODE": "embedded",
            "FITDATA_DATABASE_URL": database_url,
            "FITDATA_JWT_SECRET": JWT_SECRET,
            # Room for every concurrent retry, so only the key decides what happens.
            "FITDATA_EXPORT_RATE_LIMIT_PER_MINUTE": "1000",
        }
    )
    rt = bootstrap(settings, payment_gateway=MemoryPaymentGateway(), queue=MemoryJobQueue())
    try:
        yield rt
    finally:
        await rt.aclose()


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[Client]:
    async with AsyncTestClient(app=create_app(runtime)) as test_client:
        yield test_client


async def _owner(runtime: Runtime) -> tuple[str, str]:
    svc = runtime.services
    org = await create_organization(svc, name="Haifa Boxing", owner_email="owner@box.io")
    async with svc.uow() as uow:
        owner = await uow.users.get_by_email("owner@box.io")
    assert owner is not None
    return org.id, owner.id


async def _count(runtime: Runtime, table: str, org_id: str) -> int:
    async with runtime.engine.connect() as conn:
        return int(
            (
                await conn.execute(
                    sa.text(f"SELECT count(*) FROM {table} WHERE organization_id = :org"),  # noqa: S608
                    {"org": org_id},
                )
            ).scalar_one()
        )


async def test_concurrent_retries_of_one_export_queue_one_job(
    client: Client, runtime: Runtime
) -> None:
    org_id, owner = await _owner(runtime)
    headers = {**_bearer(owner), "Idempotency-Key": "export-2026-12-02"}

    responses = await asyncio.gather(
        *(
            client.post(f"/organizations/{org_id}/export/members", json={}, headers=headers)
            for _ in range(RETRIES)
        )
    )

    statuses = Counter(r.status_code for r in responses)
    # Each retry either got the one answer or was told the first is still at work.
    assert set(statuses) <= {202, 409}, [r.text for r in responses]
    assert statuses[202] >= 1
    assert len({r.json()["data"]["jobId"] for r in responses if r.status_code == 202}) == 1
    assert all(
        r.json()["code"] == "IDEMPOTENCY_KEY_IN_USE" for r in responses if r.status_code == 409
    )
    assert await _count(runtime, "export_jobs", org_id) == 1
    # Once the first finished, every retry is answered from the stored response.
    late = await client.post(f"/organizations/{org_id}/export/members", json={}, headers=headers)
    assert late.status_code == 202
    assert late.headers["Idempotent-Replayed"] == "true"
    assert await _count(runtime, "export_jobs", org_id) == 1


async def test_a_retried_checkout_gets_the_same_page_and_the_key_is_stored_per_org(
    client: Client, runtime: Runtime
) -> None:
    org_id, owner = await _owner(runtime)
    headers = {**_bearer(owner), "Idempotency-Key": "checkout-1"}
    url = f"/organizations/{org_id}/billing/checkout"

    first = await client.post(url, json={"tier": "pro"}, headers=headers)
    retry = await client.post(url, json={"tier": "pro"}, headers=headers)
    other = await client.post(url, json={"tier": "elite"}, headers=headers)

    assert first.status_code == 201, first.text
    assert retry.status_code == 201
    assert retry.json() == first.json()
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert other.status_code == 422
    assert other.json()["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert await _count(runtime, "platform_billing_transactions", org_id) == 1
    assert await _count(runtime, "idempotency_keys", org_id) == 1


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_racing_retries_on_postgres_do_the_work_once(runtime: Runtime) -> None:
    # Straight through the mechanism, so every retry truly overlaps the first (each claim on
    # its own pooled connection) while the work takes its time.
    org_id, _ = await _owner(runtime)
    done: list[int] = []

    async def work() -> Envelope:
        done.append(1)
        await asyncio.sleep(0.3)
        return ok({"jobId": f"job-{len(done)}"}, status_code=202)

    def retry(key: str | None) -> Idempotency:
        return Idempotency(runtime.services, org_id, key, fingerprint="same request")

    outcomes = await asyncio.gather(
        *(retry("race").run(work) for _ in range(RETRIES)), return_exceptions=True
    )
    answered = [o for o in outcomes if not isinstance(o, BaseException)]
    waiting = [o for o in outcomes if isinstance(o, IdempotencyKeyInUse)]
    replay = await retry("race").run(work)
    # The same storm without a key runs the work every time: the race above is real.
    await asyncio.gather(*(retry(None).run(work) for _ in range(RETRIES)))

    assert len(answered) + len(waiting) == RETRIES, outcomes
    assert len(waiting) >= 1
    assert [a.content for a in answered] == [{"data": {"jobId": "job-1"}}] * len(answered)
    assert replay.content == {"data": {"jobId": "job-1"}}
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert len(done) == 1 + RETRIES

"""503s: every problem for a dependency that is down tells the client when to come back.

Each test puts one failing fake behind the app (a database whose units of work cannot start,
a payment gateway, storage or queue that is unreachable) and checks the answer over HTTP.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import attrs
import pytest
from http_support import bearer, make_runtime, seed_gym, set_tier
from litestar import Litestar, Request, post
from litestar.testing import AsyncTestClient

from fitdata_adapters.bootstrap import Runtime
from fitdata_adapters.memory import MemoryJobQueue
from fitdata_adapters.memory.payments import MemoryPaymentGateway
from fitdata_adapters.settings import DEFAULT_RETRY_AFTER_SECONDS
from fitdata_core.errors import DatabaseUnavailable, StorageUnavailable
from fitdata_core.model.jobs import ExportStatus
from fitdata_core.model.tiers import PlatformTier
from fitdata_core.ports.infrastructure import ObjectStorage
from fitdata_http import create_app
from fitdata_http.context import runtime_of
from fitdata_http.controllers.webhooks import WEBHOOK_RETRY_AFTER_SECONDS
from support import builders

Client = AsyncTestClient[Litestar]
DEFAULT = str(DEFAULT_RETRY_AFTER_SECONDS)


class _DatabaseDown:
    """A unit-of-work factory for a database that does not answer."""

    def __call__(self, *, read_only: bool = False, separate_reads: bool = False) -> _DatabaseDown:
        return self

    async def __aenter__(self) -> Self:
        raise DatabaseUnavailable("The database is unavailable; try again later.")

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None


@attrs.define
class _StorageDown:
    """Storage whose links cannot be signed (the store is unreachable); the rest delegates."""

    inner: ObjectStorage

    async def signed_url(self, key: str, **_: Any) -> str:
        raise StorageUnavailable(f"S3 could not sign {key!r}: connection refused")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@post("/test/enqueue")
async def _enqueue(request: Request[Any, Any, Any]) -> dict[str, str]:
    """Hands one job to the runtime's queue, as the outbox relay does."""
    runtime = runtime_of(request)
    await runtime.queue.send(runtime.services.job("export_members", job_id="job-1"))
    return {"status": "sent"}


@asynccontextmanager
async def _client_for(runtime: Runtime) -> AsyncIterator[Client]:
    async with AsyncTestClient(app=create_app(runtime, extra_route_handlers=[_enqueue])) as c:
        yield c


def _with_services(runtime: Runtime, **overrides: Any) -> Runtime:
    return attrs.evolve(runtime, services=attrs.evolve(runtime.services, **overrides))


@pytest.fixture
async def base(tmp_path: Path) -> AsyncIterator[Runtime]:
    runtime = make_runtime(tmp_path)
    try:
        yield runtime
    finally:
        await runtime.aclose()


def _assert_unavailable(response: Any, code: str, retry_after: str = DEFAULT) -> None:
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == retry_after
    assert response.json()["code"] == code


async def test_a_database_that_is_down_is_503_with_retry_after(base: Runtime) -> None:
    gym = await seed_gym(base.services)
    runtime = _with_services(base, uow=_DatabaseDown())

    async with _client_for(runtime) as client:
        response = await client.get(gym.members_url, headers=bearer(gym.owner))

    _assert_unavailable(response, "DATABASE_UNAVAILABLE")
    assert response.json()["detail"] == "The database is unavailable; try again later."


async def test_a_payment_provider_that_is_down_is_503_with_retry_after(base: Runtime) -> None:
    gym = await seed_gym(base.services)
    gateway = MemoryPaymentGateway()
    gateway.unreachable = True
    runtime = _with_services(base, payment_gateway=gateway)

    async with _client_for(runtime) as client:
        response = await client.post(
            f"/organizations/{gym.org_id}/billing/checkout",
            json={"tier": "pro"},
            headers=bearer(gym.owner),
        )

    _assert_unavailable(response, "PROVIDER_ERROR")


async def test_storage_that_is_down_is_503_with_retry_after(base: Runtime) -> None:
    gym = await seed_gym(base.services)
    job = builders.export_job(
        gym.org_id,
        gym.owner,
        status=ExportStatus.COMPLETED,
        completed_at=builders.T0 + timedelta(minutes=1),
        file_key=f"exports/{gym.org_id}/members.csv",
        row_count=1,
        file_size=10,
    )
    async with base.services.uow() as uow:
        await uow.export_jobs.add(job)
        await uow.commit()
    runtime = _with_services(base, storage=_StorageDown(base.services.storage))

    async with _client_for(runtime) as client:
        response = await client.get(
            f"/organizations/{gym.org_id}/export/jobs/{job.id}", headers=bearer(gym.owner)
        )

    _assert_unavailable(response, "STORAGE_UNAVAILABLE")


async def test_a_queue_that_is_down_is_503_with_retry_after(base: Runtime) -> None:
    queue = MemoryJobQueue()
    queue.down = True
    runtime = attrs.evolve(base, queue=queue)

    async with _client_for(runtime) as client:
        response = await client.post("/test/enqueue")

    _assert_unavailable(response, "QUEUE_UNAVAILABLE")


async def test_analytics_that_are_unavailable_are_503_with_retry_after(base: Runtime) -> None:
    gym = await seed_gym(base.services)
    await set_tier(base.services, gym.org_id, PlatformTier.ELITE)

    async with _client_for(base) as client:
        response = await client.get(
            f"/organizations/{gym.org_id}/analytics/revenue-summary", headers=bearer(gym.owner)
        )

    _assert_unavailable(response, "UNAVAILABLE")


async def test_the_retry_after_of_503s_is_configurable(tmp_path: Path) -> None:
    runtime = make_runtime(tmp_path, env={"FITDATA_RETRY_AFTER_SECONDS": "42"})
    try:
        gym = await seed_gym(runtime.services)
        down = _with_services(runtime, uow=_DatabaseDown())
        async with _client_for(down) as client:
            response = await client.get(gym.members_url, headers=bearer(gym.owner))
    finally:
        await runtime.aclose()

    _assert_unavailable(response, "DATABASE_UNAVAILABLE", retry_after="42")


async def test_readyz_when_not_ready_says_when_to_retry(tmp_path: Path) -> None:
    runtime = make_runtime(
        tmp_path, database_url=f"sqlite+aiosqlite:///{tmp_path}/missing-dir/x.db"
    )
    try:
        async with _client_for(runtime) as client:
            response = await client.get("/readyz")
    finally:
        await runtime.aclose()

    _assert_unavailable(response, "NOT_READY")


async def test_the_webhook_keeps_its_own_retry_after_for_cardcom(base: Runtime) -> None:
    gym = await seed_gym(base.services)
    gateway = MemoryPaymentGateway()
    runtime = _with_services(base, payment_gateway=gateway)

    async with _client_for(runtime) as client:
        started = await client.post(
            f"/organizations/{gym.org_id}/billing/checkout",
            json={"tier": "pro"},
            headers=bearer(gym.owner),
        )
        gateway.unreachable = True
        response = await client.post(
            "/webhooks/cardcom", json={"LowProfileId": started.json()["data"]["lowProfileId"]}
        )

    assert started.status_code == 201
    _assert_unavailable(response, "PROVIDER_ERROR", retry_after="60")


async def test_the_webhook_asks_cardcom_for_60_seconds_when_the_database_is_down(
    base: Runtime,
) -> None:
    gym = await seed_gym(base.services)
    base = _with_services(base, payment_gateway=MemoryPaymentGateway())
    async with _client_for(base) as client:
        started = await client.post(
            f"/organizations/{gym.org_id}/billing/checkout",
            json={"tier": "pro"},
            headers=bearer(gym.owner),
        )
    down = _with_services(base, uow=_DatabaseDown())

    async with _client_for(down) as client:
        response = await client.post(
            "/webhooks/cardcom", json={"LowProfileId": started.json()["data"]["lowProfileId"]}
        )

    # The same minute as when Cardcom itself is unreachable (docs/billing.md), not the API's
    # FITDATA_RETRY_AFTER_SECONDS meant for interactive clients.
    _assert_unavailable(response, "DATABASE_UNAVAILABLE", retry_after="60")
    assert WEBHOOK_RETRY_AFTER_SECONDS == 60

"""/healthz and /readyz."""

from __future__ import annotations

from pathlib import Path

from http_support import make_runtime
from litestar import Litestar
from litestar.testing import AsyncTestClient

from fitdata_http import create_app

Client = AsyncTestClient[Litestar]


async def test_healthz_answers_without_a_token(client: Client) -> None:
    response = await client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"data": {"status": "ok"}}


async def test_readyz_with_the_database_up_and_the_embedded_queue(client: Client) -> None:
    response = await client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {
        "data": {"status": "ready", "checks": {"database": "up", "queue": "embedded"}}
    }


async def test_readyz_names_the_database_when_it_is_down(tmp_path: Path) -> None:
    runtime = make_runtime(
        tmp_path, database_url=f"sqlite+aiosqlite:///{tmp_path}/missing-dir/x.db"
    )
    try:
        async with AsyncTestClient(app=create_app(runtime)) as client:
            response = await client.get("/readyz")
    finally:
        await runtime.aclose()

    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "NOT_READY"
    assert body["detail"] == "Not ready: database unreachable."
    assert body["checks"] == {"database": "down", "queue": "embedded"}


async def test_readyz_names_redis_when_it_is_down(tmp_path: Path) -> None:
    # Port 1 on loopback: nothing listens there, so the connection is refused at once.
    runtime = make_runtime(tmp_path, env={"FITDATA_REDIS_URL": "redis://127.0.0.1:1/0"})
    try:
        async with AsyncTestClient(app=create_app(runtime)) as client:
            response = await client.get("/readyz")
    finally:
        await runtime.aclose()

    assert response.status_code == 503
    body = response.json()
    assert body["detail"] == "Not ready: queue unreachable."
    assert body["checks"] == {"database": "up", "queue": "down"}

"""The HTTP API over the real composition root: SQL units of work (SQLite and Postgres) and a
real Redis behind /readyz."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import event

from fitdata_adapters.bootstrap import Runtime, bootstrap
from fitdata_adapters.memory import MemoryJobQueue
from fitdata_adapters.settings import Settings
from fitdata_adapters.tokens import issue_token
from fitdata_core.model.organizations import MembershipStatus, Role
from fitdata_core.usecases.organizations import NewMember, add_member, create_organization
from fitdata_http import create_app
from support.fakes import NoPayments

pytestmark = pytest.mark.integration

Client = AsyncTestClient[Litestar]
JWT_SECRET = "integration-http-jwt-secret-long-enough-for-hs256"


def _settings(data_dir: Path, database_url: str, redis_url: str | None) -> Settings:
    env = {
        "FITDATA_DATA_DIR": str(data_dir),
        "FITDATA_MODE": "embedded",
        "FITDATA_DATABASE_URL": database_url,
        "FITDATA_JWT_SECRET": JWT_SECRET,
    }
    if redis_url:
        env["FITDATA_REDIS_URL"] = redis_url
    return Settings.from_env(env)


def _bearer(user_id: str) -> dict[str, str]:
    jwt = issue_token(JWT_SECRET, user_id, now=datetime.now(UTC), ttl=timedelta(minutes=5))
    return {"Authorization": f"Bearer {jwt}"}


@pytest.fixture
async def runtime(tmp_path: Path, database_url: str, redis_url: str) -> AsyncIterator[Runtime]:
    rt = bootstrap(
        _settings(tmp_path, database_url, redis_url),
        payment_gateway=NoPayments(),
        queue=MemoryJobQueue(),
    )
    try:
        yield rt
    finally:
        await rt.aclose()


async def test_readyz_sees_the_real_database_and_redis(client: Client) -> None:
    response = await client.get("/readyz")

    assert response.status_code == 200
    assert response.json()["data"]["checks"] == {"database": "up", "queue": "up"}


async def test_members_and_plans_over_sql(client: Client, runtime: Runtime) -> None:
    svc = runtime.services
    org = await create_organization(svc, name="Haifa Boxing", owner_email="owner@box.io")
    coach = await add_member(
        svc, org_id=org.id, member=NewMember(email="coach@box.io", role=Role.COACH)
    )
    await add_member(
        svc,
        org_id=org.id,
        member=NewMember(
            email="sleepy@box.io", role=Role.MEMBER, status=MembershipStatus.SUSPENDED
        ),
    )
    async with svc.uow() as uow:
        owner_user = await uow.users.get_by_email("owner@box.io")
    assert owner_user is not None
    members_url = f"/organizations/{org.id.upper()}/members"

    everyone = await client.get(members_url, headers=_bearer(coach.id))
    suspended = await client.get(
        members_url + "?status=suspended&status=cancelled&limit=1", headers=_bearer(coach.id)
    )
    created = await client.post(
        f"/organizations/{org.id}/plans",
        json={"name": "Monthly", "kind": "membership", "price": "199.5"},
        headers=_bearer(owner_user.id),
    )
    plans = await client.get(f"/organizations/{org.id}/plans", headers=_bearer(coach.id))
    unknown = await client.get(f"/organizations/{uuid.uuid4()}/members", headers=_bearer(coach.id))

    assert everyone.status_code == 200
    assert [m["email"] for m in everyone.json()["data"]] == [
        "coach@box.io",
        "owner@box.io",
        "sleepy@box.io",
    ]
    assert suspended.json() == {
        "data": [
            {
                "userId": suspended.json()["data"][0]["userId"],
                "membershipId": suspended.json()["data"][0]["membershipId"],
                "email": "sleepy@box.io",
                "firstName": None,
                "lastName": None,
                "phone": None,
                "role": "member",
                "status": "suspended",
                "joinedAt": suspended.json()["data"][0]["joinedAt"],
                "profile": None,
                "membershipStart": None,
                "membershipEnd": None,
            }
        ],
        "meta": {"total": 1, "limit": 1, "offset": 0, "nextCursor": None},
    }
    assert created.status_code == 201
    assert created.json()["data"]["price"] == {"amount": "199.50", "currency": "ILS"}
    assert plans.json()["data"] == [created.json()["data"]]
    assert unknown.status_code == 404


async def test_readyz_names_postgres_when_it_is_down(tmp_path: Path, redis_url: str) -> None:
    # Port 1 on loopback: nothing listens, so the connection is refused at once.
    runtime = bootstrap(
        _settings(tmp_path, "postgresql://postgres@127.0.0.1:1/fitdata", redis_url),
        payment_gateway=NoPayments(),
        queue=MemoryJobQueue(),
    )
    try:
        async with AsyncTestClient(app=create_app(runtime)) as client:
            response = await client.get("/readyz")
    finally:
        await runtime.aclose()

    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "down", "queue": "up"}


async def test_an_org_scoped_read_authorizes_from_the_token_check(
    client: Client, runtime: Runtime
) -> None:
    """The token check reads the caller's standing in the path's org with the user's row, so
    a member-list page is two statements (no BEGIN, no ROLLBACK on Postgres), and a refusal
    one; the answers are those of a separate authorization read."""
    svc = runtime.services
    org = await create_organization(svc, name="Haifa Boxing", owner_email="owner@box.io")
    coach = await add_member(
        svc, org_id=org.id, member=NewMember(email="coach@box.io", role=Role.COACH)
    )
    member = await add_member(
        svc, org_id=org.id, member=NewMember(email="member@box.io", role=Role.MEMBER)
    )
    other = await create_organization(svc, name="Elsewhere", owner_email="boss@else.io")
    members_url = f"/organizations/{org.id}/members"
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement.split(None, 1)[0].upper())

    event.listen(runtime.engine.sync_engine, "before_cursor_execute", seen)
    try:
        answers = {}
        for name, url, caller in (
            ("page", members_url, coach.id),
            ("not staff", members_url, member.id),
            ("other org", f"/organizations/{other.id}/members", coach.id),
            ("no such org", f"/organizations/{uuid.uuid4()}/members", coach.id),
        ):
            statements.clear()
            response = await client.get(url, headers=_bearer(caller))
            answers[name] = (response.status_code, list(statements))
    finally:
        event.remove(runtime.engine.sync_engine, "before_cursor_execute", seen)

    assert answers["page"][0] == 200
    assert answers["not staff"][0] == 403
    assert answers["other org"][0] == 403
    assert answers["no such org"][0] == 404
    if runtime.engine.dialect.name == "postgresql":
        assert answers["page"][1] == ["SELECT", "SELECT"]
        assert all(found == ["SELECT"] for _, found in list(answers.values())[1:])


async def test_a_read_request_takes_one_pooled_connection(client: Client, runtime: Runtime) -> None:
    """The token check and the page share the request's connection on Postgres: one
    checkout, and none left out once the response is sent; a write request still works
    alongside. (SQLite's read-only units are transactions, each on its own connection.)"""
    shares = runtime.engine.dialect.name == "postgresql"
    svc = runtime.services
    org = await create_organization(svc, name="Haifa Boxing", owner_email="owner@box.io")
    async with svc.uow() as uow:
        owner = await uow.users.get_by_email("owner@box.io")
    assert owner is not None
    checkouts: list[int] = []
    pool = runtime.engine.sync_engine.pool

    def checkout(*_: Any) -> None:
        checkouts.append(1)

    event.listen(pool, "checkout", checkout)
    try:
        page = await client.get(f"/organizations/{org.id}/members", headers=_bearer(owner.id))
        read_checkouts = len(checkouts)
        created = await client.post(
            f"/organizations/{org.id}/plans",
            json={"name": "Monthly", "kind": "membership", "price": "199.5"},
            headers=_bearer(owner.id),
        )
    finally:
        event.remove(pool, "checkout", checkout)

    assert page.status_code == 200
    assert read_checkouts == (1 if shares else 2)
    assert created.status_code == 201
    assert pool.checkedout() == 0  # type: ignore[attr-defined]

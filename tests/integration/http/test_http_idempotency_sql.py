"""``Idempotency-Key`` over the real composition root (SQLite and Postgres): concurrent retries
of one export do the work once, a checkout retried with its key gets the same page, and a
caller who lost the right since the first request gets the refusal, not the stored answer."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import attrs
import pytest
import sqlalchemy as sa
from litestar import Litestar
from litestar.testing import AsyncTestClient

from fitdata_adapters.bootstrap import Runtime, bootstrap
from fitdata_adapters.memory import MemoryJobQueue
from fitdata_adapters.memory.payments import MemoryPaymentGateway
from fitdata_adapters.settings import Settings
from fitdata_adapters.tokens import issue_token
from fitdata_core.access import Action
from fitdata_core.errors import IdempotencyKeyInUse
from fitdata_core.model.organizations import MembershipStatus, Role
from fitdata_core.services import Actor
from fitdata_core.usecases.organizations import NewMember, add_member, create_organization
from fitdata_http.envelope import Envelope, ok
from fitdata_http.idempotency import Idempotency
from support.concurrency import Rendezvous, concurrent_client, pausing_app

pytestmark = pytest.mark.integration

Client = AsyncTestClient[Litestar]
JWT_SECRET = "integration-idempotency-jwt-secret-long-enough"
RETRIES = 12


def _bearer(user_id: str) -> dict[str, str]:
    jwt = issue_token(JWT_SECRET, user_id, now=datetime.now(UTC), ttl=timedelta(minutes=5))
    return {"Authorization": f"Bearer {jwt}"}


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


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_concurrent_retries_of_one_export_queue_one_job(runtime: Runtime) -> None:
    """Twelve retries at once, each held inside its claim's transaction (before inserting the
    key) until all of them got there: the key's primary key lets exactly one claim in, which
    does the work; the others hear that the first is still at work (409) or, if it finished
    meanwhile, its stored answer."""
    org_id, owner = await _owner(runtime)
    headers = {**_bearer(owner), "Idempotency-Key": "export-2026-12-02"}
    url = f"/organizations/{org_id}/export/members"
    rendezvous = Rendezvous(parties=RETRIES)
    app = pausing_app(
        runtime, rendezvous, repository="idempotency_keys", methods=["delete_expired"]
    )

    async with concurrent_client(app) as client:
        responses = await asyncio.gather(
            *(client.post(url, json={}, headers=headers) for _ in range(RETRIES))
        )
        # Every retry was claiming before any had claimed.
        assert (rendezvous.arrived, rendezvous.timed_out) == (RETRIES, False)
        late = await client.post(url, json={}, headers=headers)

    statuses = Counter(r.status_code for r in responses)
    assert set(statuses) <= {202, 409}, [r.text for r in responses]
    fresh = [
        r for r in responses if r.status_code == 202 and "Idempotent-Replayed" not in r.headers
    ]
    assert len(fresh) == 1, [
        (r.status_code, r.headers.get("Idempotent-Replayed")) for r in responses
    ]
    assert {r.json()["data"]["jobId"] for r in responses if r.status_code == 202} == {
        fresh[0].json()["data"]["jobId"]
    }
    assert statuses[409] >= 1  # some retry arrived while the first was at work: they overlapped
    assert all(
        r.json()["code"] == "IDEMPOTENCY_KEY_IN_USE" for r in responses if r.status_code == 409
    )
    assert await _count(runtime, "export_jobs", org_id) == 1
    # Once the first finished, every retry is answered from the stored response.
    assert late.status_code == 202
    assert late.headers["Idempotent-Replayed"] == "true"
    assert late.json() == fresh[0].json()
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
    org_id, owner = await _owner(runtime)
    done: list[int] = []

    async def work() -> Envelope:
        done.append(1)
        await asyncio.sleep(0.3)
        return ok({"jobId": f"job-{len(done)}"}, status_code=202)

    def retry(key: str | None) -> Idempotency:
        return Idempotency(runtime.services, Actor(owner), org_id, key, fingerprint="same request")

    outcomes = await asyncio.gather(
        *(retry("race").run(work, Action.EXPORT) for _ in range(RETRIES)),
        return_exceptions=True,
    )
    answered = [o for o in outcomes if not isinstance(o, BaseException)]
    waiting = [o for o in outcomes if isinstance(o, IdempotencyKeyInUse)]
    replay = await retry("race").run(work, Action.EXPORT)
    # The same storm without a key runs the work every time: the race above is real.
    await asyncio.gather(*(retry(None).run(work, Action.EXPORT) for _ in range(RETRIES)))

    assert len(answered) + len(waiting) == RETRIES, outcomes
    assert len(waiting) >= 1
    assert [a.content for a in answered] == [{"data": {"jobId": "job-1"}}] * len(answered)
    assert replay.content == {"data": {"jobId": "job-1"}}
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert len(done) == 1 + RETRIES


async def _staff(runtime: Runtime, org_id: str, email: str, role: Role) -> str:
    user = await add_member(runtime.services, org_id=org_id, member=NewMember(email, role))
    return user.id


async def _demote(
    runtime: Runtime, org_id: str, user_id: str, role: Role, status: MembershipStatus
) -> None:
    async with runtime.services.uow() as uow:
        membership = await uow.memberships.get(org_id, user_id)
        assert membership is not None
        await uow.memberships.update(attrs.evolve(membership, role=role, status=status))
        await uow.commit()


# Each idempotent route, and how its caller loses the right between the first request and the
# retry: the checkout's owner is made an admin, the export's admin a coach, and the import's
# admin is suspended (still an admin, but no longer an active member).
LOST_RIGHTS = [
    pytest.param(
        "/billing/checkout",
        {"tier": "pro"},
        Role.OWNER,
        (Role.ADMIN, MembershipStatus.ACTIVE),
        "Only the organization owner can change billing.",
        id="checkout",
    ),
    pytest.param(
        "/export/members",
        {},
        Role.ADMIN,
        (Role.COACH, MembershipStatus.ACTIVE),
        "Only owners and admins can export data.",
        id="export",
    ),
    pytest.param(
        "/import",
        {"source": "arbox", "entities": {"members": True}, "arboxApiKey": "arbox-key-0001"},
        Role.ADMIN,
        (Role.ADMIN, MembershipStatus.SUSPENDED),
        "Only owners and admins can import data.",
        id="import",
    ),
]


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
@pytest.mark.parametrize(("route", "body", "role", "lost", "refusal"), LOST_RIGHTS)
async def test_a_replay_rechecks_the_callers_right(
    client: Client,
    runtime: Runtime,
    route: str,
    body: dict[str, object],
    role: Role,
    lost: tuple[Role, MembershipStatus],
    refusal: str,
) -> None:
    org_id, owner = await _owner(runtime)
    caller = owner if role is Role.OWNER else await _staff(runtime, org_id, "a@box.io", role)
    headers = {**_bearer(caller), "Idempotency-Key": f"retry{route.replace('/', '-')}"}
    url = f"/organizations/{org_id}{route}"

    first = await client.post(url, json=body, headers=headers)
    replay = await client.post(url, json=body, headers=headers)
    await _demote(runtime, org_id, caller, *lost)
    after = await client.post(url, json=body, headers=headers)

    assert first.status_code in (201, 202), first.text
    assert replay.status_code == first.status_code
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json()
    # The stored answer is still there, but it is not handed to a caller who may no longer
    # ask for it: the same refusal as a fresh request, and nothing of the first answer.
    assert after.status_code == 403, after.text
    assert after.json()["code"] == "FORBIDDEN"
    assert after.json()["detail"] == refusal
    assert "Idempotent-Replayed" not in after.headers
    assert "data" not in after.json()
    assert await _count(runtime, "idempotency_keys", org_id) == 1

"""Issue 7 item 5: platform-admin rights and tokens can be taken back.

Revoked tokens are 401, a cleared admin flag is 403 on admin routes at once, and admin tokens
live at most a day.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import attrs
import jwt
import pytest
from http_support import JWT_SECRET, add_user, bearer, make_runtime, seed_gym
from litestar import Litestar, get
from litestar.testing import AsyncTestClient

from fitdata_adapters.bootstrap import Runtime
from fitdata_adapters.clock import ManualClock
from fitdata_adapters.tokens import ADMIN_TOKEN_MAX_TTL, issue_token, verify_token
from fitdata_core.errors import AuthenticationRequired, NotFound
from fitdata_core.model.organizations import User
from fitdata_core.usecases.users import revoke_tokens, set_platform_admin
from fitdata_http import create_app, ok, requires_platform_admin
from fitdata_http.deps import ActorDep
from fitdata_http.envelope import Envelope
from support import builders

Client = AsyncTestClient[Litestar]


@get("/ops/whoami", guards=[requires_platform_admin], sync_to_thread=False)
def whoami(actor: ActorDep) -> Envelope:
    return ok({"userId": actor.user_id, "admin": actor.is_platform_admin})


@attrs.frozen
class World:
    client: Client
    runtime: Runtime
    clock: ManualClock

    async def revoke(self, user_id: str) -> User:
        # Revoked "now" in real time: the tokens minted so far came from the real clock.
        self.clock.set(datetime.now(UTC))
        return await revoke_tokens(self.runtime.services, (await self.user(user_id)).email)

    async def user(self, user_id: str) -> User:
        async with self.runtime.services.uow() as uow:
            user = await uow.users.get(user_id)
        assert user is not None
        return user


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    runtime = make_runtime(tmp_path)
    clock = runtime.services.clock
    assert isinstance(clock, ManualClock)
    app = create_app(runtime, extra_route_handlers=[whoami])
    async with AsyncTestClient(app=app) as client:
        yield World(client, runtime, clock)
    await runtime.aclose()


def _token_at(user_id: str, when: datetime, *, admin: bool = False) -> dict[str, str]:
    token = issue_token(JWT_SECRET, user_id, now=when, platform_admin=admin, ttl=timedelta(hours=1))
    return {"Authorization": f"Bearer {token}"}


async def test_a_revoked_token_is_401_and_a_token_issued_afterwards_works(world: World) -> None:
    gym = await seed_gym(world.runtime.services)
    old = bearer(gym.owner)
    other = bearer(gym.admin)
    assert (await world.client.get(gym.members_url, headers=old)).status_code == 200

    revoked = await world.revoke(gym.owner)
    assert revoked.tokens_valid_after is not None
    assert revoked.tokens_valid_after > world.clock.now()

    refused = await world.client.get(gym.members_url, headers=old)
    assert refused.status_code == 401
    assert refused.json()["detail"] == "The bearer token has been revoked."
    assert refused.headers["www-authenticate"] == "Bearer"
    # Other users' tokens are untouched.
    assert (await world.client.get(gym.members_url, headers=other)).status_code == 200
    # A token minted in the same second as the revocation is refused too; the next works.
    same_second = _token_at(gym.owner, world.clock.now())
    assert (await world.client.get(gym.members_url, headers=same_second)).status_code == 401
    # (The cut-off is under a second away; a token may not claim an issue time ahead.)
    await asyncio.sleep((revoked.tokens_valid_after - datetime.now(UTC)).total_seconds() + 0.01)
    fresh = _token_at(gym.owner, revoked.tokens_valid_after)
    assert (await world.client.get(gym.members_url, headers=fresh)).status_code == 200


async def test_a_revoked_platform_admin_token_is_401_on_admin_routes(world: World) -> None:
    ops = await add_user(world.runtime.services, platform_admin=True)
    token = bearer(ops, admin=True)
    assert (await world.client.get("/ops/whoami", headers=token)).status_code == 200

    await world.revoke(ops)

    assert (await world.client.get("/ops/whoami", headers=token)).status_code == 401


async def test_clearing_the_stored_admin_flag_is_403_on_admin_routes_at_once(
    world: World,
) -> None:
    gym = await seed_gym(world.runtime.services)
    ops = await add_user(world.runtime.services, platform_admin=True)
    token = bearer(ops, admin=True)
    force_cancel = f"/admin/organizations/{gym.org_id}/billing/force-cancel"
    assert (await world.client.get("/ops/whoami", headers=token)).status_code == 200
    assert (await world.client.post(force_cancel, headers=token)).status_code != 403

    await set_platform_admin(world.runtime.services, (await world.user(ops)).email, False)

    for response in (
        await world.client.get("/ops/whoami", headers=token),
        await world.client.post(force_cancel, headers=token),
    ):
        assert response.status_code == 403
        assert response.json()["detail"] == "This route is for platform administrators."
    # The token still authenticates (not 401): ops is simply no member of the gym.
    assert (await world.client.get(gym.members_url, headers=token)).status_code == 403


async def test_the_admin_claim_alone_grants_nothing_and_the_flag_alone_neither(
    world: World,
) -> None:
    claim_only = await add_user(world.runtime.services)  # a token minted with the claim
    flag_only = await add_user(world.runtime.services, platform_admin=True)

    response = await world.client.get("/ops/whoami", headers=bearer(claim_only, admin=True))
    assert response.status_code == 403
    response = await world.client.get("/ops/whoami", headers=bearer(flag_only))
    assert response.status_code == 403


async def test_a_token_of_a_user_that_does_not_exist_is_401(world: World) -> None:
    response = await world.client.get("/ops/whoami", headers=bearer(builders.new_id(), admin=True))
    assert response.status_code == 401


async def test_a_long_lived_admin_token_is_refused(world: World) -> None:
    ops = await add_user(world.runtime.services, platform_admin=True)
    now = int(datetime.now(UTC).timestamp())
    too_long = ADMIN_TOKEN_MAX_TTL + timedelta(seconds=1)
    minted = jwt.encode(
        {
            "sub": ops,
            "iss": "fitdata",
            "iat": now,
            "exp": now + int(too_long.total_seconds()),
            "platform_admin": True,
        },
        JWT_SECRET,
        algorithm="HS256",
    )

    response = await world.client.get("/ops/whoami", headers={"Authorization": f"Bearer {minted}"})

    assert response.status_code == 401
    assert response.json()["detail"] == (
        "A platform-admin token may live at most 24 hours; issue a new one."
    )
    # Exactly the cap is fine.
    capped = issue_token(
        JWT_SECRET, ops, now=datetime.now(UTC), platform_admin=True, ttl=ADMIN_TOKEN_MAX_TTL
    )
    ok_response = await world.client.get(
        "/ops/whoami", headers={"Authorization": f"Bearer {capped}"}
    )
    assert ok_response.status_code == 200


def test_issuing_a_long_lived_admin_token_is_refused_but_ordinary_tokens_may_live_long() -> None:
    now = datetime.now(UTC)
    with pytest.raises(ValueError, match="24 hours"):
        issue_token(JWT_SECRET, "u", now=now, platform_admin=True, ttl=timedelta(days=2))
    year = issue_token(JWT_SECRET, "u", now=now, ttl=timedelta(days=365))
    assert verify_token(JWT_SECRET, year).user_id == "u"


def test_a_token_without_an_issue_time_is_refused() -> None:
    minted = jwt.encode({"sub": "u", "iss": "fitdata", "exp": 2**40}, JWT_SECRET)
    with pytest.raises(AuthenticationRequired):
        verify_token(JWT_SECRET, minted)


def test_revocation_cuts_at_the_next_whole_second() -> None:
    at = datetime(2026, 3, 1, 8, 0, 0, 250_000, tzinfo=UTC)
    user = builders.user().revoke_tokens(at)
    assert user.tokens_valid_after == datetime(2026, 3, 1, 8, 0, 1, tzinfo=UTC)
    assert not user.accepts_token_issued_at(datetime(2026, 3, 1, 8, 0, 0, tzinfo=UTC))
    assert user.accepts_token_issued_at(datetime(2026, 3, 1, 8, 0, 1, tzinfo=UTC))
    assert builders.user().accepts_token_issued_at(datetime(1990, 1, 1, tzinfo=UTC))


async def test_revoking_an_unknown_email_is_not_found(world: World) -> None:
    with pytest.raises(NotFound):
        await revoke_tokens(world.runtime.services, "nobody@example.com")

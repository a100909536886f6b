"""Bearer authentication and the platform-admin guard."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import jwt
import pytest
from http_support import JWT_SECRET, Gym, add_user, bearer, make_runtime, token
from litestar import Litestar, get
from litestar.testing import AsyncTestClient

from fitdata_http import create_app, ok, requires_platform_admin
from fitdata_http.deps import ActorDep
from fitdata_http.envelope import Envelope

Client = AsyncTestClient[Litestar]


def _assert_401(response: object, detail: str) -> None:
    assert response.status_code == 401  # type: ignore[attr-defined]
    assert response.headers["www-authenticate"] == "Bearer"  # type: ignore[attr-defined]
    assert response.headers["content-type"] == "application/problem+json"  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert body["code"] == "UNAUTHENTICATED"
    assert body["detail"] == detail


async def test_no_token_is_401(client: Client, gym: Gym) -> None:
    _assert_401(await client.get(gym.members_url), "A bearer token is required.")


@pytest.mark.parametrize(
    "header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "Token abc", "bearer"]
)
async def test_a_malformed_authorization_header_is_401(
    client: Client, gym: Gym, header: str
) -> None:
    response = await client.get(gym.members_url, headers={"Authorization": header})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


async def test_an_invalid_token_is_401(client: Client, gym: Gym) -> None:
    forged = jwt.encode(
        {"sub": gym.owner, "iss": "fitdata", "exp": 2**40},
        "a-different-secret-of-thirty-two-bytes-or-more",
    )
    _assert_401(
        await client.get(gym.members_url, headers={"Authorization": f"Bearer {forged}"}),
        "The bearer token is not valid.",
    )
    _assert_401(
        await client.get(gym.members_url, headers={"Authorization": "Bearer garbage"}),
        "The bearer token is not valid.",
    )


async def test_an_expired_token_is_401(client: Client, gym: Gym) -> None:
    expired = token(gym.owner, ttl=timedelta(minutes=-1))
    _assert_401(
        await client.get(gym.members_url, headers={"Authorization": f"Bearer {expired}"}),
        "The bearer token has expired.",
    )


async def test_the_scheme_is_case_insensitive(client: Client, gym: Gym) -> None:
    response = await client.get(
        gym.members_url, headers={"Authorization": f"bearer {token(gym.owner)}"}
    )
    assert response.status_code == 200


@get("/ops/whoami", guards=[requires_platform_admin], sync_to_thread=False)
def whoami(actor: ActorDep) -> Envelope:
    return ok({"userId": actor.user_id, "admin": actor.is_platform_admin})


@pytest.fixture
async def admin_client(tmp_path: Path) -> AsyncIterator[tuple[Client, str, str]]:
    """A client, a platform admin's user id and an ordinary user's."""
    runtime = make_runtime(tmp_path)
    ops = await add_user(runtime.services, platform_admin=True)
    user = await add_user(runtime.services)
    async with AsyncTestClient(app=create_app(runtime, extra_route_handlers=[whoami])) as c:
        yield c, ops, user
    await runtime.aclose()


async def test_platform_admin_guard(admin_client: tuple[Client, str, str]) -> None:
    client, ops, user = admin_client
    admin = await client.get("/ops/whoami", headers=bearer(ops, admin=True))
    not_admin = await client.get("/ops/whoami", headers=bearer(user))
    anonymous = await client.get("/ops/whoami")

    assert admin.status_code == 200
    assert admin.json() == {"data": {"userId": ops, "admin": True}}
    assert not_admin.status_code == 403
    assert not_admin.json()["detail"] == "This route is for platform administrators."
    assert anonymous.status_code == 401


def test_the_secret_used_by_tests_is_the_app_secret() -> None:
    # Guards the fixtures: tokens minted here verify only because the secrets agree.
    assert jwt.decode(token("u"), JWT_SECRET, algorithms=["HS256"], issuer="fitdata")["sub"] == "u"

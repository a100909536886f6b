"""GET /organizations/{orgId}/members: the vertical slice, over the memory adapters."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from http_support import PEOPLE, Gym, bearer, seed_gym
from litestar import Litestar
from litestar.testing import AsyncTestClient

from fitdata_core.model.organizations import MembershipStatus, Role
from fitdata_core.services import Services

Client = AsyncTestClient[Litestar]


def _emails(body: dict[str, object]) -> list[str]:
    data = body["data"]
    assert isinstance(data, list)
    return [row["email"] for row in data]


async def test_owner_lists_members_sorted_by_email_with_the_documented_shape(
    client: Client, gym: Gym
) -> None:
    response = await client.get(gym.members_url, headers=bearer(gym.owner))

    assert response.status_code == 200
    body = response.json()
    assert _emails(body) == sorted(email for email, _, _ in PEOPLE)
    assert body["meta"] == {"total": len(PEOPLE), "limit": 50, "offset": 0, "nextCursor": None}
    active = next(row for row in body["data"] if row["email"] == "active@gym.io")
    assert set(active) == {
        "userId",
        "membershipId",
        "email",
        "firstName",
        "lastName",
        "phone",
        "role",
        "status",
        "joinedAt",
        "profile",
        "membershipStart",
        "membershipEnd",
    }
    assert active["userId"] == gym.member
    assert active["role"] == "member"
    assert active["status"] == "active"
    assert active["joinedAt"] == "2026-03-01T08:00:00Z"
    assert active["profile"]["city"] == "Tel Aviv"
    assert active["profile"]["birthDate"] == "1990-05-01"
    assert active["profile"]["updatedAt"].endswith("Z")
    owner = next(row for row in body["data"] if row["email"] == "owner@gym.io")
    assert owner["profile"] is None


@pytest.mark.parametrize("who", ["owner", "admin", "coach"])
async def test_staff_may_list_members(client: Client, gym: Gym, who: str) -> None:
    response = await client.get(gym.members_url, headers=bearer(getattr(gym, who)))
    assert response.status_code == 200


async def test_a_member_may_not_list_members(client: Client, gym: Gym) -> None:
    response = await client.get(gym.members_url, headers=bearer(gym.member))

    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "FORBIDDEN"


async def test_a_suspended_admin_may_not_list_members(client: Client, gym: Gym) -> None:
    response = await client.get(gym.members_url, headers=bearer(gym.suspended_admin))
    assert response.status_code == 403


async def test_the_owner_of_another_org_gets_403(
    client: Client, gym: Gym, services: Services
) -> None:
    other = await seed_gym(services, domain="other.io")
    response = await client.get(gym.members_url, headers=bearer(other.owner))
    assert response.status_code == 403


async def test_unknown_org_is_404(client: Client, gym: Gym) -> None:
    unknown = uuid.uuid4()
    response = await client.get(f"/organizations/{unknown}/members", headers=bearer(gym.owner))

    assert response.status_code == 404
    body = response.json()
    assert body["code"] == "NOT_FOUND"
    assert str(unknown) in body["detail"]


async def test_an_org_id_that_is_not_a_uuid_is_400_naming_it(client: Client, gym: Gym) -> None:
    response = await client.get("/organizations/not-a-uuid/members", headers=bearer(gym.owner))

    assert response.status_code == 400
    body = response.json()
    assert body["field"] == "orgId"
    assert body["detail"] == 'orgId must be a UUID, got "not-a-uuid".'


async def test_an_upper_case_org_id_names_the_same_org(client: Client, gym: Gym) -> None:
    url = f"/organizations/{gym.org_id.upper()}/members"
    response = await client.get(url, headers=bearer(gym.owner))
    assert response.status_code == 200


async def test_paging(client: Client, gym: Gym) -> None:
    everyone = sorted(email for email, _, _ in PEOPLE)

    first = await client.get(gym.members_url, params={"limit": 3}, headers=bearer(gym.owner))
    second = await client.get(
        gym.members_url, params={"limit": 3, "offset": 3}, headers=bearer(gym.owner)
    )
    past_the_end = await client.get(
        gym.members_url, params={"offset": 100}, headers=bearer(gym.owner)
    )

    assert _emails(first.json()) == everyone[:3]
    assert first.json()["meta"] | {"nextCursor": "..."} == {
        "total": 8,
        "limit": 3,
        "offset": 0,
        "nextCursor": "...",
    }
    assert _emails(second.json()) == everyone[3:6]
    assert second.json()["meta"]["total"] == 8
    assert second.json()["meta"]["offset"] == 3
    assert past_the_end.json()["data"] == []
    assert past_the_end.json()["meta"]["total"] == 8


async def test_cursor_paging_walks_every_member_once_without_counting_again(
    client: Client, gym: Gym
) -> None:
    seen: list[str] = []
    metas: list[dict[str, object]] = []
    params: dict[str, str | int] = {"limit": 3}
    while True:
        response = await client.get(gym.members_url, params=params, headers=bearer(gym.owner))
        assert response.status_code == 200
        seen += _emails(response.json())
        meta = response.json()["meta"]
        metas.append(meta)
        if meta["nextCursor"] is None:
            break
        params = {"limit": 3, "cursor": meta["nextCursor"]}

    assert seen == sorted(email for email, _, _ in PEOPLE)
    assert [m["total"] for m in metas] == [8, None, None]
    assert [m["offset"] for m in metas] == [0, None, None]
    assert all(m["limit"] == 3 for m in metas)


@pytest.mark.parametrize(
    "params",
    [
        {"cursor": "%%%"},
        {"cursor": "eyJub3QiOiJhIGxpc3QifQ"},  # {"not":"a list"}
        {"cursor": "x" * 1025},
        {"cursor": "WyJhQGIuYyIsIngiXQ", "offset": 3},  # ["a@b.c","x"] with an offset
    ],
)
async def test_a_bad_cursor_is_a_400_naming_it(
    client: Client, gym: Gym, params: dict[str, object]
) -> None:
    response = await client.get(gym.members_url, params=params, headers=bearer(gym.owner))
    assert response.status_code == 400
    assert "cursor" in response.text


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"offset": -1}, "offset"),
    ],
)
async def test_bad_paging_is_400_naming_the_parameter(
    client: Client, gym: Gym, params: dict[str, object], field: str
) -> None:
    response = await client.get(gym.members_url, params=params, headers=bearer(gym.owner))

    assert response.status_code == 400
    body = response.json()
    assert body["field"] == field
    assert body["errors"][0]["field"] == field
    assert field in body["detail"]


async def test_filters_take_repeated_values(client: Client, gym: Gym) -> None:
    repeated = await client.get(
        gym.members_url + "?role=owner&role=admin", headers=bearer(gym.owner)
    )
    both = await client.get(
        gym.members_url + "?role=admin&status=active&status=invited", headers=bearer(gym.owner)
    )
    statuses = await client.get(
        gym.members_url + "?status=suspended&status=cancelled&role=member",
        headers=bearer(gym.owner),
    )

    expected = sorted(e for e, role, _ in PEOPLE if role in {Role.OWNER, Role.ADMIN})
    assert _emails(repeated.json()) == expected
    assert repeated.json()["meta"]["total"] == 3
    assert _emails(both.json()) == ["admin@gym.io"]
    assert _emails(statuses.json()) == sorted(
        e
        for e, role, status in PEOPLE
        if role is Role.MEMBER
        and status in {MembershipStatus.SUSPENDED, MembershipStatus.CANCELLED}
    )


async def test_an_unknown_filter_value_is_400_naming_it_and_the_allowed_ones(
    client: Client, gym: Gym
) -> None:
    response = await client.get(
        gym.members_url + "?role=owner&role=wizard", headers=bearer(gym.owner)
    )

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "VALIDATION_FAILED"
    assert body["field"] == "role"
    assert body["detail"] == (
        "Invalid request: role: Invalid enum value 'wizard'. "
        "Allowed values: owner, admin, coach, member."
    )

    response = await client.get(gym.members_url + "?status=gone", headers=bearer(gym.owner))
    assert response.status_code == 400
    assert response.json()["detail"] == (
        "Invalid request: status: Invalid enum value 'gone'. "
        "Allowed values: active, invited, suspended, cancelled, inactive."
    )


async def test_comma_separated_filter_values_are_400_saying_to_repeat_the_parameter(
    client: Client, gym: Gym
) -> None:
    # The document declares repeated parameters (form style, exploded); one definition.
    response = await client.get(gym.members_url + "?role=owner,admin", headers=bearer(gym.owner))

    assert response.status_code == 400
    body = response.json()
    assert body["field"] == "role"
    assert body["detail"] == (
        "Invalid request: role: Invalid enum value 'owner,admin'. "
        "Allowed values: owner, admin, coach, member. "
        "Send several as repeated parameters (role=a&role=b)."
    )


async def test_an_expired_token_is_refused_even_for_the_owner(client: Client, gym: Gym) -> None:
    response = await client.get(
        gym.members_url, headers=bearer(gym.owner, ttl=timedelta(seconds=-10))
    )
    assert response.status_code == 401
    assert response.json()["detail"] == "The bearer token has expired."

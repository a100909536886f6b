"""Plans, courses and locations: create/list, validation, roles, and the tier guard."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from http_support import Gym, add_user, bearer, make_runtime, seed_gym, set_tier
from litestar import Litestar, get
from litestar.testing import AsyncTestClient

from fitdata_core.model.tiers import Feature, PlatformTier
from fitdata_core.services import Services
from fitdata_http import create_app, ok, requires_feature
from fitdata_http.envelope import Envelope

Client = AsyncTestClient[Litestar]


def url(gym: Gym, what: str) -> str:
    return f"/organizations/{gym.org_id}/{what}"


# -- plans -------------------------------------------------------------------------------


async def test_owner_creates_and_lists_a_membership_plan_on_lite(client: Client, gym: Gym) -> None:
    created = await client.post(
        url(gym, "plans"),
        json={"name": " Monthly ", "kind": "membership", "price": "249.9", "validityDays": 30},
        headers=bearer(gym.owner),
    )

    assert created.status_code == 201
    plan = created.json()["data"]
    assert plan["name"] == "Monthly"
    assert plan["kind"] == "membership"
    assert plan["price"] == {"amount": "249.90", "currency": "ILS"}
    assert plan["validityDays"] == 30
    assert plan["sessionCount"] is None
    assert plan["organizationId"] == gym.org_id
    assert plan["createdAt"] == "2026-03-01T08:00:00Z"
    uuid.UUID(plan["id"])

    listed = await client.get(url(gym, "plans"), headers=bearer(gym.member))
    assert listed.status_code == 200
    assert listed.json() == {"data": [plan]}


async def test_a_numeric_price_is_accepted_without_float_error(client: Client, gym: Gym) -> None:
    created = await client.post(
        url(gym, "plans"),
        json={"name": "Drop-in", "kind": "membership", "price": 19.9},
        headers=bearer(gym.admin),
    )
    assert created.json()["data"]["price"]["amount"] == "19.90"


async def test_a_class_pack_on_lite_is_403_with_the_spec_message(client: Client, gym: Gym) -> None:
    response = await client.post(
        url(gym, "plans"),
        json={"name": "10 classes", "kind": "class_pack", "price": 500, "sessionCount": 10},
        headers=bearer(gym.owner),
    )

    assert response.status_code == 403
    body = response.json()
    assert body["detail"] == 'Feature "class_packs" requires a higher platform tier'
    assert body["code"] == "FEATURE_NOT_IN_TIER"


async def test_a_class_pack_on_pro_is_created(client: Client, gym: Gym, services: Services) -> None:
    await set_tier(services, gym.org_id, PlatformTier.PRO)
    response = await client.post(
        url(gym, "plans"),
        json={"name": "10 classes", "kind": "class_pack", "price": 500, "sessionCount": 10},
        headers=bearer(gym.owner),
    )
    assert response.status_code == 201
    assert response.json()["data"]["sessionCount"] == 10


async def test_a_duplicate_plan_name_is_409(client: Client, gym: Gym) -> None:
    body = {"name": "Monthly", "kind": "membership", "price": 100}
    await client.post(url(gym, "plans"), json=body, headers=bearer(gym.owner))
    again = await client.post(url(gym, "plans"), json=body, headers=bearer(gym.owner))

    assert again.status_code == 409
    assert again.json()["detail"] == 'A plan named "Monthly" already exists.'


@pytest.mark.parametrize("who", ["coach", "member"])
async def test_only_managers_create_plans(client: Client, gym: Gym, who: str) -> None:
    response = await client.post(
        url(gym, "plans"),
        json={"name": "Monthly", "kind": "membership", "price": 100},
        headers=bearer(getattr(gym, who)),
    )
    assert response.status_code == 403


async def test_body_validation_names_every_bad_field(client: Client, gym: Gym) -> None:
    response = await client.post(
        url(gym, "plans"),
        json={"kind": "annual", "price": "cheap", "sessionCount": "ten", "colour": "red"},
        headers=bearer(gym.owner),
    )

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "VALIDATION_FAILED"
    assert body["field"] == "name"
    assert body["errors"] == [
        {"field": "name", "message": "is required"},
        {"field": "kind", "message": '"annual" is not one of: membership, class_pack'},
        {
            "field": "price",
            "message": "must be a number written with the digits 0-9 and an optional dot, "
            "got 'cheap'",
        },
        {"field": "sessionCount", "message": "must be a whole number, got a string"},
        {"field": "colour", "message": "is not a known field"},
    ]
    assert "sessionCount" in body["detail"]


async def test_use_case_validation_names_the_field(client: Client, gym: Gym) -> None:
    negative = await client.post(
        url(gym, "plans"),
        json={"name": "Monthly", "kind": "membership", "price": -1},
        headers=bearer(gym.owner),
    )
    blank = await client.post(
        url(gym, "plans"),
        json={"name": "   ", "kind": "membership", "price": 1},
        headers=bearer(gym.owner),
    )

    assert negative.status_code == 400
    assert negative.json()["field"] == "price"
    assert blank.status_code == 400
    assert blank.json()["field"] == "name"


@pytest.mark.parametrize(
    ("content", "detail"),
    [
        (b'{"name": "Monthly",', "The request body is not valid JSON."),
        (b"[1, 2]", "Invalid request: body: Expected `object`, got `array`"),
        (b"", "Invalid request: body: A JSON body is required."),
    ],
)
async def test_a_body_that_is_not_a_json_object_is_400(
    client: Client, gym: Gym, content: bytes, detail: str
) -> None:
    response = await client.post(
        url(gym, "plans"),
        content=content,
        headers={**bearer(gym.owner), "Content-Type": "application/json"},
    )

    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == detail


# -- courses: the tier check of the use case ------------------------------------------------


async def test_courses_on_lite_are_403_for_listing_and_creating(client: Client, gym: Gym) -> None:
    listing = await client.get(url(gym, "courses"), headers=bearer(gym.owner))
    creating = await client.post(
        url(gym, "courses"), json={"name": "Yoga"}, headers=bearer(gym.owner)
    )

    for response in (listing, creating):
        assert response.status_code == 403
        assert response.json()["detail"] == 'Feature "courses" requires a higher platform tier'


async def test_courses_on_pro(client: Client, gym: Gym, services: Services) -> None:
    await set_tier(services, gym.org_id, PlatformTier.PRO)
    created = await client.post(
        url(gym, "courses"),
        json={"name": "Yoga", "description": "Morning flow"},
        headers=bearer(gym.owner),
    )
    listed = await client.get(url(gym, "courses"), headers=bearer(gym.coach))

    assert created.status_code == 201
    assert created.json()["data"]["description"] == "Morning flow"
    assert listed.json()["data"] == [created.json()["data"]]


async def test_a_downgrade_takes_effect_on_the_next_request(
    client: Client, gym: Gym, services: Services
) -> None:
    await set_tier(services, gym.org_id, PlatformTier.PRO)
    before = await client.get(url(gym, "courses"), headers=bearer(gym.owner))
    await set_tier(services, gym.org_id, PlatformTier.LITE)
    after = await client.get(url(gym, "courses"), headers=bearer(gym.owner))

    assert before.status_code == 200
    assert after.status_code == 403


async def test_the_tier_guard_authenticates_first(client: Client, gym: Gym) -> None:
    response = await client.get(url(gym, "courses"))
    assert response.status_code == 401


async def test_the_tier_guard_lets_an_unknown_org_reach_the_use_case_404(
    client: Client, gym: Gym
) -> None:
    response = await client.get(f"/organizations/{uuid.uuid4()}/courses", headers=bearer(gym.owner))
    assert response.status_code == 404


async def test_the_tier_guard_refuses_a_malformed_org_id_with_400(client: Client, gym: Gym) -> None:
    response = await client.get("/organizations/nope/courses", headers=bearer(gym.owner))
    assert response.status_code == 400
    assert response.json()["field"] == "orgId"


def _refusal(response: Any) -> tuple[int, str, str]:
    body = response.json()
    return response.status_code, body["code"], body["detail"]


@pytest.mark.parametrize(
    ("method", "what", "body"),
    [
        ("GET", "courses", None),
        ("POST", "courses", {"name": "Yoga"}),
        ("POST", "plans", {"name": "10", "kind": "class_pack", "price": 1, "sessionCount": 10}),
    ],
)
async def test_an_outsider_gets_the_same_refusal_from_a_lite_and_a_pro_org(
    client: Client, services: Services, method: str, what: str, body: dict[str, Any] | None
) -> None:
    lite = await seed_gym(services, tier=PlatformTier.LITE, domain="lite.io")
    pro = await seed_gym(services, tier=PlatformTier.PRO, domain="pro.io")
    outsider = await seed_gym(services, domain="outsider.io")

    answers = []
    for gym in (lite, pro):
        for who in (outsider.owner, gym.suspended_admin):
            response = await client.request(method, url(gym, what), json=body, headers=bearer(who))
            answers.append(_refusal(response))

    # Nothing in the answer tells a non-member which tier the org is on.
    expected = (403, "FORBIDDEN", "Your role in this organization does not allow this.")
    assert answers == [expected] * 4


@get("/no-org/feature", guards=[requires_feature(Feature.MULTIPLE_LOCATIONS)], sync_to_thread=False)
def no_org_route() -> Envelope:
    return ok({"reached": True})


@pytest.fixture
async def t6_client(tmp_path: Path) -> AsyncIterator[tuple[Client, str]]:
    runtime = make_runtime(tmp_path)
    someone = await add_user(runtime.services)
    async with AsyncTestClient(app=create_app(runtime, extra_route_handlers=[no_org_route])) as c:
        yield c, someone
    await runtime.aclose()


async def test_t6_a_route_without_org_id_passes_the_tier_guard(
    t6_client: tuple[Client, str],
) -> None:
    client, someone = t6_client
    response = await client.get("/no-org/feature", headers=bearer(someone))

    assert response.status_code == 200
    assert response.json() == {"data": {"reached": True}}


# -- locations: the use-case tier check ----------------------------------------------------


async def test_the_first_location_is_free_and_the_second_needs_elite(
    client: Client, gym: Gym, services: Services
) -> None:
    first = await client.post(
        url(gym, "locations"),
        json={"name": "Main hall", "address": "1 Herzl St"},
        headers=bearer(gym.owner),
    )
    second = await client.post(
        url(gym, "locations"), json={"name": "Annex"}, headers=bearer(gym.owner)
    )
    await set_tier(services, gym.org_id, PlatformTier.ELITE)
    on_elite = await client.post(
        url(gym, "locations"), json={"name": "Annex"}, headers=bearer(gym.owner)
    )
    listed = await client.get(url(gym, "locations"), headers=bearer(gym.member))

    assert first.status_code == 201
    assert first.json()["data"]["address"] == "1 Herzl St"
    assert second.status_code == 403
    assert second.json()["detail"] == (
        'Feature "multiple_locations" requires a higher platform tier'
    )
    assert on_elite.status_code == 201
    assert sorted(loc["name"] for loc in listed.json()["data"]) == ["Annex", "Main hall"]


async def test_catalog_of_another_org_is_403(client: Client, gym: Gym, services: Services) -> None:
    other = await seed_gym(services, domain="other.io")
    response = await client.get(url(gym, "plans"), headers=bearer(other.member))
    assert response.status_code == 403


async def test_an_oversized_body_is_413(client: Client, gym: Gym) -> None:
    response = await client.post(
        url(gym, "plans"),
        json={"name": "x" * (2 * 1024 * 1024), "kind": "membership", "price": 1},
        headers=bearer(gym.owner),
    )

    assert response.status_code == 413
    assert response.json()["code"] == "PAYLOAD_TOO_LARGE"

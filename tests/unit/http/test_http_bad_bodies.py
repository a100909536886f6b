"""Bad input to the billing, export, analytics and catalog routes: always a 400 naming the
field and what to send, never a 404 or a 500."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from http_support import Gym, bearer, set_tier
from litestar import Litestar
from litestar.testing import AsyncTestClient

from fitdata_core.model.tiers import PlatformTier
from fitdata_core.services import Services

Client = AsyncTestClient[Litestar]


def url(gym: Gym, what: str) -> str:
    return f"/organizations/{gym.org_id}/{what}"


def assert_bad(response: Any, field: str, *in_detail: str) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["field"] == field
    for text in in_detail:
        assert text in body["detail"]
    return body


# -- verify-checkout: lowProfileId ------------------------------------------------------------


@pytest.mark.parametrize("blank", ["", "   ", "\t\n"])
async def test_a_blank_low_profile_id_is_400_saying_what_to_send(
    client: Client, gym: Gym, blank: str
) -> None:
    response = await client.post(
        url(gym, "billing/verify-checkout"),
        json={"lowProfileId": blank},
        headers=bearer(gym.owner),
    )

    body = assert_bad(response, "lowProfileId", "lowProfileId is required")
    assert body["code"] == "INVALID_INPUT"
    assert body["detail"] == (
        "lowProfileId is required: send the LowProfile id from the checkout's return URL "
        "(its lowprofilecode parameter, a UUID such as 6f1c2a4e-...)."
    )


async def test_a_missing_low_profile_id_is_400_naming_it(client: Client, gym: Gym) -> None:
    response = await client.post(
        url(gym, "billing/verify-checkout"), json={}, headers=bearer(gym.owner)
    )

    body = assert_bad(response, "lowProfileId")
    assert body["errors"] == [{"field": "lowProfileId", "message": "is required"}]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "must be a string, got null"),
        (42, "must be a string, got a number"),
        (["lp-0001"], "must be a string, got an array"),
        ({"id": "lp-0001"}, "must be a string, got an object"),
        ("lp\x000001", "must not contain NUL (\\u0000) characters"),
    ],
)
async def test_a_low_profile_id_of_the_wrong_type_is_400(
    client: Client, gym: Gym, value: object, message: str
) -> None:
    response = await client.post(
        url(gym, "billing/verify-checkout"),
        json={"lowProfileId": value},
        headers=bearer(gym.owner),
    )

    body = assert_bad(response, "lowProfileId")
    assert body["errors"] == [{"field": "lowProfileId", "message": message}]


@pytest.mark.parametrize("value", ["x" * 101, "lp 0001", "lp/../0001", "<script>", "lp-\u05d0"])
async def test_a_low_profile_id_that_could_not_have_been_issued_is_400(
    client: Client, gym: Gym, value: str
) -> None:
    response = await client.post(
        url(gym, "billing/verify-checkout"),
        json={"lowProfileId": value},
        headers=bearer(gym.owner),
    )

    assert_bad(
        response,
        "lowProfileId",
        "lowProfileId must be the LowProfile id from the checkout's return URL",
        "at most 100 characters",
    )


async def test_a_well_formed_but_unknown_low_profile_id_is_still_404(
    client: Client, gym: Gym
) -> None:
    response = await client.post(
        url(gym, "billing/verify-checkout"),
        json={"lowProfileId": str(uuid.uuid4())},
        headers=bearer(gym.owner),
    )

    assert response.status_code == 404
    assert response.json()["detail"] == "No checkout with this LowProfileId."


@pytest.mark.parametrize(
    "content", [b"[]", b'[{"lowProfileId": "lp-0001"}]', b'"lp-0001"', b"7", b"null"]
)
async def test_a_verify_body_that_is_not_an_object_is_400(
    client: Client, gym: Gym, content: bytes
) -> None:
    response = await client.post(
        url(gym, "billing/verify-checkout"),
        content=content,
        headers={**bearer(gym.owner), "content-type": "application/json"},
    )

    assert_bad(response, "body", "Expected `object`")


# -- checkout and tier: the tier field -------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "method"), [("billing/checkout", "POST"), ("billing/tier", "PATCH")]
)
@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", '"" is not one of: lite, pro, elite'),
        ("x" * 5000, "is not one of: lite, pro, elite"),
        (3, "a number is not one of: lite, pro, elite"),
        (["pro"], "an array is not one of: lite, pro, elite"),
        ("pro\x00", "must not contain NUL (\\u0000) characters"),
    ],
)
async def test_a_bad_tier_is_400_naming_it(
    client: Client, gym: Gym, path: str, method: str, value: object, message: str
) -> None:
    response = await client.request(
        method, url(gym, path), json={"tier": value}, headers=bearer(gym.owner)
    )

    body = assert_bad(response, "tier")
    assert message in body["errors"][0]["message"]


# -- catalog: limits of the columns ----------------------------------------------------------


@pytest.fixture
async def elite_gym(gym: Gym, services: Services) -> Gym:
    await set_tier(services, gym.org_id, PlatformTier.ELITE)
    return gym


@pytest.mark.parametrize(
    ("extra", "field", "detail"),
    [
        ({"price": 1e20}, "price", "price must be at most 9999999999.99."),
        ({"price": "10000000000"}, "price", "price must be at most 9999999999.99."),
        ({"price": 1e40}, "price", "price must be at most 9999999999.99."),
        ({"price": "0.001"}, "price", "price has at most 2 decimal places, got '0.001'."),
        ({"price": "249.999"}, "price", "price has at most 2 decimal places"),
        ({"validityDays": -5}, "validityDays", "validityDays must be between 1 and 36600"),
        ({"validityDays": 0}, "validityDays", "validityDays must be between 1 and 36600"),
        ({"validityDays": 2**40}, "validityDays", "validityDays must be between 1 and 36600"),
        (
            {"kind": "class_pack", "sessionCount": 2**40},
            "sessionCount",
            "sessionCount must be between 1 and 100000",
        ),
        ({"name": "Month\x00ly"}, "name", "must not contain NUL"),
    ],
)
async def test_plan_values_beyond_their_columns_are_400(
    client: Client, elite_gym: Gym, extra: dict[str, Any], field: str, detail: str
) -> None:
    body = {"name": "Monthly", "kind": "membership", "price": 100, **extra}

    response = await client.post(
        url(elite_gym, "plans"), json=body, headers=bearer(elite_gym.owner)
    )

    assert_bad(response, field, detail)


async def test_the_largest_price_and_counts_are_accepted(client: Client, elite_gym: Gym) -> None:
    response = await client.post(
        url(elite_gym, "plans"),
        json={
            "name": "Lifetime",
            "kind": "class_pack",
            "price": "9999999999.99",
            "sessionCount": 100_000,
            "validityDays": 36_600,
        },
        headers=bearer(elite_gym.owner),
    )

    assert response.status_code == 201
    assert response.json()["data"]["price"]["amount"] == "9999999999.99"


@pytest.mark.parametrize(
    ("what", "body", "field", "detail"),
    [
        (
            "locations",
            {"name": "Main", "address": "x" * 501},
            "address",
            "address must be at most 500 characters, got 501.",
        ),
        ("locations", {"name": "Main\x00"}, "name", "must not contain NUL"),
        ("locations", {"name": "Main", "address": ["Herzl 1"]}, "address", "must be a string"),
        (
            "courses",
            {"name": "Yoga", "description": "x" * 5001},
            "description",
            "description must be at most 5000 characters, got 5001.",
        ),
        ("courses", {"name": "Yoga", "description": "calm\x00"}, "description", "NUL"),
        ("courses", {"name": "y" * 201}, "name", "name must be at most 200 characters."),
        ("courses", {"name": "   "}, "name", "name must not be empty."),
    ],
)
async def test_catalog_strings_beyond_their_columns_are_400(
    client: Client, elite_gym: Gym, what: str, body: dict[str, Any], field: str, detail: str
) -> None:
    response = await client.post(url(elite_gym, what), json=body, headers=bearer(elite_gym.owner))

    assert_bad(response, field, detail)


async def test_an_address_of_exactly_500_characters_is_accepted(
    client: Client, elite_gym: Gym
) -> None:
    response = await client.post(
        url(elite_gym, "locations"),
        json={"name": "Main", "address": "x" * 500},
        headers=bearer(elite_gym.owner),
    )

    assert response.status_code == 201


@pytest.mark.parametrize("what", ["plans", "courses", "locations"])
@pytest.mark.parametrize("content", [b"[]", b'[{"name": "A"}]', b'"A"', b"1"])
async def test_a_catalog_body_that_is_not_an_object_is_400(
    client: Client, elite_gym: Gym, what: str, content: bytes
) -> None:
    response = await client.post(
        url(elite_gym, what),
        content=content,
        headers={**bearer(elite_gym.owner), "content-type": "application/json"},
    )

    assert_bad(response, "body", "Expected `object`")


# -- exports ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field", "detail"),
    [
        ({"roles": "member"}, "roles", "roles: must be an array, got a string"),
        ({"statuses": [1]}, "statuses[0]", "statuses[0]: must be a string, got a number"),
        ({"fields": {"email": True}}, "fields", "fields: must be an array, got an object"),
        ({"roles": ["x" * 5000]}, "roles", "Unknown role"),
        ({"colour": "red"}, "colour", "colour: is not a known field"),
    ],
)
async def test_a_bad_export_request_is_400_naming_the_field(
    client: Client, gym: Gym, body: dict[str, Any], field: str, detail: str
) -> None:
    response = await client.post(url(gym, "export/members"), json=body, headers=bearer(gym.owner))

    assert_bad(response, field, detail)


@pytest.mark.parametrize("content", [b"[]", b'[{"roles": ["member"]}]', b'"members"', b"3"])
async def test_an_export_body_that_is_not_an_object_is_400(
    client: Client, gym: Gym, content: bytes
) -> None:
    response = await client.post(
        url(gym, "export/members"),
        content=content,
        headers={**bearer(gym.owner), "content-type": "application/json"},
    )

    assert_bad(response, "body", "Expected `object | null`")


@pytest.mark.parametrize("job_id", ["not-a-uuid", "x" * 300, "%00", "123"])
async def test_an_export_job_id_that_is_not_a_uuid_is_400(
    client: Client, gym: Gym, job_id: str
) -> None:
    response = await client.get(url(gym, f"export/jobs/{job_id}"), headers=bearer(gym.owner))

    assert_bad(response, "jobId", "jobId must be a UUID")


async def test_an_unknown_export_job_is_still_404(client: Client, gym: Gym) -> None:
    job_id = str(uuid.uuid4())

    response = await client.get(url(gym, f"export/jobs/{job_id}"), headers=bearer(gym.owner))

    assert response.status_code == 404


@pytest.mark.parametrize(
    "query", ["offset=1000000001", "offset=99999999999999999999", "offset=-1", "limit=0"]
)
@pytest.mark.parametrize("what", ["export/jobs", "billing/transactions", "billing/events"])
async def test_paging_beyond_its_range_is_400(
    client: Client, gym: Gym, what: str, query: str
) -> None:
    response = await client.get(url(gym, f"{what}?{query}"), headers=bearer(gym.owner))

    assert_bad(response, query.split("=")[0])


# -- analytics -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "field", "detail"),
    [
        ("from=9999-01-01&to=9999-12-31", "from", "from must be between 1900-01-01 and 2999"),
        ("to=0001-01-01", "to", "to must be between 1900-01-01 and 2999-12-31, got 0001-01-01."),
        ("from=2026-13-01", "from", 'from must be a date as YYYY-MM-DD, got "2026-13-01".'),
        ("from=%00", "from", 'from must be a date as YYYY-MM-DD, got "\\x00".'),
        # Blank is not "absent", and only the extended form is a date here (as documented).
        ("from=", "from", 'from must be a date as YYYY-MM-DD, got "".'),
        ("to=%202026-01-01", "to", 'to must be a date as YYYY-MM-DD, got " 2026-01-01".'),
        ("to=20260101", "to", 'to must be a date as YYYY-MM-DD, got "20260101".'),
        ("from=2026-02-30", "from", 'from must be a date as YYYY-MM-DD, got "2026-02-30".'),
        ("from=2026-05-01&to=2026-01-01", "from", "from must be on or before to."),
    ],
)
@pytest.mark.parametrize(
    "route", ["analytics/revenue-trend?", "analytics/export?tab=revenue-trend&"]
)
async def test_bad_analytics_dates_are_400(
    client: Client, gym: Gym, route: str, query: str, field: str, detail: str
) -> None:
    response = await client.get(url(gym, route + query), headers=bearer(gym.owner))

    assert_bad(response, field, detail)


# -- the public Cardcom routes ---------------------------------------------------------------


@pytest.mark.parametrize("value", ["lp\x000001", "z" * 300, "lp 0001"])
async def test_a_webhook_naming_an_impossible_id_is_answered_unknown(
    client: Client, value: str
) -> None:
    response = await client.post("/webhooks/cardcom", json={"LowProfileId": value})

    # 200, so Cardcom stops re-sending: we never issued such an id.
    assert response.status_code == 200
    assert response.json() == {"status": "unknown"}


@pytest.mark.parametrize("query", ["lowprofilecode=lp%000001", "lowprofilecode=" + "z" * 300])
async def test_a_return_page_with_an_impossible_id_is_400(client: Client, query: str) -> None:
    response = await client.get(f"/billing/checkout-return?{query}")

    assert response.status_code == 400
    assert 'data-state="invalid"' in response.text
    assert "Invalid payment reference" in response.text


# -- prices: exactly what was written, or a 400 (issue 7, item 12) ---------------------------


@pytest.mark.parametrize(
    ("raw_price", "message"),
    [
        (b'"1_000"', "must be a number written with the digits 0-9"),
        (b'" 5 "', "must be a number written with the digits 0-9"),
        ('"\u0665"'.encode(), "must be a number written with the digits 0-9"),
        ('"\u0661\u0662"'.encode(), "must be a number written with the digits 0-9"),
        (b'"1e3"', "must be a number written with the digits 0-9"),
        (b"1e-400", "price has at most 2 decimal places, got '1E-400'."),
        (b"0.001", "price has at most 2 decimal places, got '0.001'."),
    ],
)
async def test_a_price_that_is_not_plain_ascii_or_would_be_rounded_is_400(
    client: Client, gym: Gym, services: Services, raw_price: bytes, message: str
) -> None:
    body = b'{"name": "Monthly", "kind": "membership", "price": ' + raw_price + b"}"

    response = await client.post(
        url(gym, "plans"),
        content=body,
        headers={"Content-Type": "application/json", **bearer(gym.owner)},
    )

    assert_bad(response, "price", message)
    async with services.uow(read_only=True) as uow:
        assert await uow.plans.list_for_org(gym.org_id) == []


@pytest.mark.parametrize(
    ("raw_price", "amount"),
    [(b'"19.90"', "19.90"), (b"19.9", "19.90"), (b"19.90", "19.90"), (b"0", "0.00")],
)
async def test_a_plain_price_is_kept_exactly(
    client: Client, gym: Gym, raw_price: bytes, amount: str
) -> None:
    body = b'{"name": "Monthly", "kind": "membership", "price": ' + raw_price + b"}"

    response = await client.post(
        url(gym, "plans"),
        content=body,
        headers={"Content-Type": "application/json", **bearer(gym.owner)},
    )

    assert response.status_code == 201, response.text
    assert response.json()["data"]["price"]["amount"] == amount


# -- page sizes: one limit, 200, for every list (issue 7, item 12) ---------------------------


@pytest.mark.parametrize(
    "listing", ["members", "export/jobs", "billing/transactions", "billing/events"]
)
async def test_every_list_takes_up_to_200_and_refuses_201(
    client: Client, gym: Gym, listing: str
) -> None:
    largest = await client.get(url(gym, f"{listing}?limit=200"), headers=bearer(gym.owner))
    beyond = await client.get(url(gym, f"{listing}?limit=201"), headers=bearer(gym.owner))

    assert largest.status_code == 200, largest.text
    assert largest.json()["meta"]["limit"] == 200
    assert_bad(beyond, "limit")


@pytest.mark.parametrize(
    ("route", "detail"),
    [
        ("analytics/export", "Invalid request: tab: is required (a query parameter)"),
        (
            "analytics/export?tab=revenue-forecast",
            "Invalid request: tab: Invalid enum value 'revenue-forecast'. Allowed values: "
            "revenue-summary, revenue-trend, plan-distribution, members-summary, "
            "members-growth, popular-classes, class-utilization, workouts-summary.",
        ),
        (
            "analytics/revenue-forecast",
            "Invalid request: tab: Invalid enum value 'revenue-forecast'. Allowed values: "
            "revenue-summary, revenue-trend, plan-distribution, members-summary, "
            "members-growth, popular-classes, class-utilization, workouts-summary.",
        ),
    ],
)
async def test_a_missing_or_unknown_tab_is_400_naming_it(
    client: Client, gym: Gym, route: str, detail: str
) -> None:
    response = await client.get(url(gym, route), headers=bearer(gym.owner))

    body = assert_bad(response, "tab")
    assert body["code"] == "VALIDATION_FAILED"
    assert body["detail"].startswith(detail)

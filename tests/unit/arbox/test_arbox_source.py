"""ArboxSource against httpx.MockTransport: which API answers, paging, merging, retries,
refused credentials and secrets."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
import structlog

from fitdata_adapters.arbox import ArboxSource, RetryPolicy
from fitdata_core.errors import InvalidInput, ProviderAuthError, ProviderError
from fitdata_core.ports.providers import SourceCredentials

BASE = "https://arbox.test"
API_KEY = "key-3f9a1c77d2"
EMAIL = "owner@gym.test"
PASSWORD = "pw-8d2e61b0"
TOKEN = "tok-51c9e0aa"
NO_WAIT = RetryPolicy(max_attempts=3, max_total_seconds=5, initial_wait=0, max_wait=0, jitter=0)

KEY_ONLY = SourceCredentials(api_key=API_KEY)
LOGIN_ONLY = SourceCredentials(email=EMAIL, password=PASSWORD)

Handler = Callable[[httpx.Request], httpx.Response]


class FakeArbox:
    """Routes by path to handlers; records every request."""

    def __init__(self, **routes: Handler | list[httpx.Response]) -> None:
        self.routes = routes
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        name = request.url.path.rsplit("/", 1)[-1]
        route = self.routes.get(name) or self.routes.get("*")
        if route is None:
            raise AssertionError(f"unexpected call to {request.url.path}")
        if isinstance(route, list):
            if not route:
                raise AssertionError(f"no more answers for {request.url.path}")
            return route.pop(0)
        return route(request)

    def calls_to(self, name: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path.endswith("/" + name)]


def envelope(rows: list[dict[str, Any]], total_pages: int | None) -> httpx.Response:
    pagination = {"next_page_url": "http://arbox.test/api/public/v3/users"}
    if total_pages is not None:
        pagination["total_pages"] = total_pages  # type: ignore[assignment]
    return httpx.Response(
        200, json={"statusCode": 200, "data": rows, "extra": {"pagination": pagination}}
    )


def users(start: int, count: int) -> list[dict[str, Any]]:
    return [{"user_id": i, "email": f"u{i}@example.com"} for i in range(start, start + count)]


@pytest.fixture
async def make_source() -> AsyncIterator[Callable[..., ArboxSource]]:
    clients: list[httpx.AsyncClient] = []

    def make(fake: FakeArbox, **options: Any) -> ArboxSource:
        client = httpx.AsyncClient(transport=httpx.MockTransport(fake))
        clients.append(client)
        options.setdefault("retry_policy", NO_WAIT)
        return ArboxSource(base_url=BASE + "/", http=client, **options)

    yield make
    for client in clients:
        await client.aclose()


async def collect(iterator: AsyncIterator[list[Any]]) -> list[list[Any]]:
    return [page async for page in iterator]


# --------------------------------------------------------------------- Business API


async def test_business_paging_asks_page_by_page_and_stops_on_total_pages(
    make_source: Callable[..., ArboxSource],
) -> None:
    fake = FakeArbox(
        users=[envelope(users(1, 2), 2), envelope(users(3, 2), 2), envelope(users(5, 2), 2)]
    )
    source = make_source(fake, page_size=2)
    pages = await collect(source.fetch_members(KEY_ONLY))
    assert [[m.external_id for m in page] for page in pages] == [["1", "2"], ["3", "4"]]
    requests = fake.calls_to("users")
    assert [dict(r.url.params) for r in requests] == [
        {"page": "1", "limit": "2"},
        {"page": "2", "limit": "2"},
    ]
    assert all(r.url.scheme == "https" and r.url.host == "arbox.test" for r in requests)
    assert requests[0].headers["api-key"] == API_KEY


async def test_business_paging_stops_on_a_short_or_empty_page_without_total_pages(
    make_source: Callable[..., ArboxSource],
) -> None:
    fake = FakeArbox(users=[envelope(users(1, 3), None), envelope(users(4, 1), None)])
    pages = await collect(make_source(fake, page_size=3).fetch_members(KEY_ONLY))
    assert [len(p) for p in pages] == [3, 1]

    fake = FakeArbox(users=[envelope(users(1, 3), None), envelope([], None)])
    pages = await collect(make_source(fake, page_size=3).fetch_members(KEY_ONLY))
    assert [len(p) for p in pages] == [3]
    assert len(fake.calls_to("users")) == 2


async def test_a_server_that_ignores_the_page_does_not_loop_forever(
    make_source: Callable[..., ArboxSource],
) -> None:
    fake = FakeArbox(users=lambda request: envelope(users(1, 2), None))
    pages = await collect(make_source(fake, page_size=2).fetch_members(KEY_ONLY))
    assert [[m.external_id for m in page] for page in pages] == [["1", "2"]]
    assert len(fake.calls_to("users")) == 2


async def test_plans_use_the_largest_page_and_need_an_api_key(
    make_source: Callable[..., ArboxSource],
) -> None:
    fake = FakeArbox(
        membershipTypes=[
            envelope(
                [
                    {"membership_type_id": 1, "membership_type_name": "Gold", "price": 100},
                    {"membership_type_id": 2, "membership_type_name": None},
                ],
                1,
            )
        ]
    )
    source = make_source(fake)
    plans = await source.fetch_plans(KEY_ONLY)
    assert [p.name for p in plans] == ["Gold"]
    assert fake.requests[0].url.params["limit"] == "500"
    assert await source.fetch_plans(LOGIN_ONLY) == []
    assert await collect(source.fetch_leads(LOGIN_ONLY)) == []
    assert len(fake.requests) == 1


async def test_member_detail_and_unknown_member(make_source: Callable[..., ArboxSource]) -> None:
    def detail(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/users/10001"):
            return httpx.Response(200, json={"statusCode": 200, "data": {"city": "Haifa"}})
        return httpx.Response(404, json={"statusCode": 404, "error": "User not found"})

    fake = FakeArbox(**{"*": detail})
    source = make_source(fake)
    found = await source.fetch_member_detail(KEY_ONLY, "10001")
    assert found is not None
    assert (found.external_id, found.city) == ("10001", "Haifa")
    assert await source.fetch_member_detail(KEY_ONLY, "999") is None
    assert await source.fetch_member_detail(KEY_ONLY, "a/b") is None
    assert fake.requests[-1].url.raw_path.endswith(b"/users/a%2Fb")  # quoted, not a path
    with pytest.raises(InvalidInput):
        await source.fetch_member_detail(LOGIN_ONLY, "10001")


async def test_no_credentials_at_all_is_invalid_input(
    make_source: Callable[..., ArboxSource],
) -> None:
    with pytest.raises(InvalidInput):
        await collect(make_source(FakeArbox()).fetch_members(SourceCredentials()))


# --------------------------------------------------------------------- Management API


def login_ok(request: httpx.Request) -> httpx.Response:
    assert json.loads(request.content) == {"email": EMAIL, "password": PASSWORD}
    return httpx.Response(200, json={"token": TOKEN})


async def test_management_merges_both_reports_in_chunks(
    make_source: Callable[..., ArboxSource],
) -> None:
    active = [{"user_fk": i, "email": f"a{i}@x.test"} for i in range(1, 6)]
    inactive = [{"user_fk": 5, "email": "old@x.test"}, {"user_fk": 6, "email": "b6@x.test"}]
    fake = FakeArbox(
        login=login_ok,
        activeMembersReport=[httpx.Response(200, json=active)],
        inactiveMembersReport=[httpx.Response(200, json=inactive)],
    )
    pages = await collect(
        make_source(fake, report_chunk_size=4).fetch_members(
            SourceCredentials(api_key=API_KEY, email=EMAIL, password=PASSWORD)
        )
    )
    assert [len(p) for p in pages] == [4, 2]
    members = {m.external_id: m for page in pages for m in page}
    assert members["5"].active is True
    assert members["5"].email == "a5@x.test"
    assert members["6"].active is False
    report_calls = fake.calls_to("activeMembersReport") + fake.calls_to("inactiveMembersReport")
    assert all(r.headers["token"] == TOKEN and r.method == "POST" for r in report_calls)
    assert all(json.loads(r.content) == {} for r in report_calls)
    assert not fake.calls_to("users")  # a login means the Management API for members


async def test_one_expired_session_logs_in_again_once(
    make_source: Callable[..., ArboxSource],
) -> None:
    tokens = iter(["first", "second"])
    fake = FakeArbox(
        login=lambda request: httpx.Response(200, json={"token": next(tokens)}),
        activeMembersReport=lambda request: (
            httpx.Response(200, json=[{"user_fk": 1}])
            if request.headers["token"] == "second"
            else httpx.Response(401, json={"error": "Unauthenticated."})
        ),
        inactiveMembersReport=lambda request: (
            httpx.Response(200, json=[])
            if request.headers["token"] == "second"
            else httpx.Response(401, json={"error": "Unauthenticated."})
        ),
    )
    pages = await collect(make_source(fake).fetch_members(LOGIN_ONLY))
    assert [m.external_id for page in pages for m in page] == ["1"]
    assert len(fake.calls_to("login")) == 2  # both reports saw 401; one new login served both


async def test_a_second_expiry_gives_up_citing_401(
    make_source: Callable[..., ArboxSource],
) -> None:
    fake = FakeArbox(
        login=lambda request: httpx.Response(200, json={"token": TOKEN}),
        **{"*": lambda request: httpx.Response(401, json={"error": "Unauthenticated."})},
    )
    with pytest.raises(ProviderAuthError) as caught:
        await collect(make_source(fake).fetch_members(LOGIN_ONLY))
    assert "401" in caught.value.message
    assert "Re-enter" in caught.value.message
    assert len(fake.calls_to("login")) == 2
    assert TOKEN not in caught.value.message


async def test_a_refused_login_is_an_auth_error_without_secrets(
    make_source: Callable[..., ArboxSource],
) -> None:
    fake = FakeArbox(
        login=lambda request: httpx.Response(401, json={"error": f"bad password {PASSWORD}"})
    )
    with pytest.raises(ProviderAuthError) as caught:
        await collect(make_source(fake).fetch_members(LOGIN_ONLY))
    error = caught.value
    assert error.status == 401
    assert "HTTP 401" in error.message
    assert "Re-enter the Arbox credentials" in error.message
    for secret in (PASSWORD, EMAIL, API_KEY):
        assert secret not in error.message
        assert secret not in repr(error)
    assert len(fake.calls_to("login")) == 1  # a refused login is not retried


# --------------------------------------------------------------------- errors and retries


async def test_429_waits_for_retry_after_then_succeeds(
    make_source: Callable[..., ArboxSource],
) -> None:
    policy = RetryPolicy(max_attempts=3, max_total_seconds=5, initial_wait=0, jitter=0)
    fake = FakeArbox(
        users=[
            httpx.Response(429, headers={"Retry-After": "0.2"}, json={"error": "slow down"}),
            envelope(users(1, 1), 1),
        ]
    )
    source = make_source(fake, retry_policy=policy)
    with structlog.testing.capture_logs() as logs:
        pages = await collect(source.fetch_members(KEY_ONLY))
    assert len(pages) == 1
    waits = [e["wait_seconds"] for e in logs if e["event"] == "arbox.retrying"]
    assert waits == [0.2]


async def test_a_retry_after_longer_than_the_budget_gives_up_at_once(
    make_source: Callable[..., ArboxSource],
) -> None:
    fake = FakeArbox(users=[httpx.Response(429, headers={"Retry-After": "3600"})])
    with pytest.raises(ProviderError) as caught:
        await collect(make_source(fake).fetch_members(KEY_ONLY))
    assert caught.value.status == 429
    assert "HTTP 429 (too many requests), and asked to wait 3600 s more" in caught.value.message
    assert "gave up after 1 attempt." in caught.value.message
    assert len(fake.requests) == 1


async def test_5xx_and_timeouts_are_retried_then_fail_saying_so(
    make_source: Callable[..., ArboxSource],
) -> None:
    fake = FakeArbox(users=lambda request: httpx.Response(503))
    with pytest.raises(ProviderError) as caught:
        await collect(make_source(fake).fetch_members(KEY_ONLY))
    assert caught.value.status == 503
    assert "gave up after 3 attempts" in caught.value.message
    assert len(fake.requests) == 3

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    fake = FakeArbox(users=slow)
    with pytest.raises(ProviderError, match="timed out"):
        await collect(make_source(fake).fetch_members(KEY_ONLY))
    assert len(fake.requests) == 3


async def test_422_is_reported_not_retried(make_source: Callable[..., ArboxSource]) -> None:
    fake = FakeArbox(
        users=lambda request: httpx.Response(
            422, json={"statusCode": 422, "error": f"limit invalid for {API_KEY}"}
        )
    )
    with pytest.raises(ProviderError) as caught:
        await collect(make_source(fake).fetch_members(KEY_ONLY))
    assert not isinstance(caught.value, ProviderAuthError)
    assert caught.value.status == 422
    assert "HTTP 422" in caught.value.message
    assert "limit invalid" in caught.value.message
    assert API_KEY not in caught.value.message
    assert len(fake.requests) == 1


async def test_a_refused_api_key_cites_401(make_source: Callable[..., ArboxSource]) -> None:
    fake = FakeArbox(users=lambda request: httpx.Response(401, json={"statusCode": 401}))
    with pytest.raises(ProviderAuthError) as caught:
        await collect(make_source(fake).fetch_members(KEY_ONLY))
    assert "refused the API key (HTTP 401 on users)" in caught.value.message
    assert API_KEY not in caught.value.message
    assert len(fake.requests) == 1


async def test_a_body_that_is_not_json_or_not_the_profile_is_a_provider_error(
    make_source: Callable[..., ArboxSource],
) -> None:
    fake = FakeArbox(users=lambda request: httpx.Response(200, text="<html>maintenance</html>"))
    with pytest.raises(ProviderError, match="not JSON"):
        await collect(make_source(fake).fetch_members(KEY_ONLY))
    fake = FakeArbox(users=lambda request: httpx.Response(200, json=[{"user_id": 1}]))
    with pytest.raises(ProviderError, match="unexpected shape"):
        await collect(make_source(fake).fetch_members(KEY_ONLY))


async def test_secrets_stay_out_of_reprs_and_logs(
    make_source: Callable[..., ArboxSource],
) -> None:
    fake = FakeArbox(
        login=login_ok,
        activeMembersReport=[httpx.Response(500), httpx.Response(200, json=[{"user_fk": 1}])],
        inactiveMembersReport=[httpx.Response(200, json=[])],
    )
    source = make_source(fake)
    with structlog.testing.capture_logs() as logs:
        await collect(source.fetch_members(LOGIN_ONLY))
    text = repr(logs) + repr(source) + repr(LOGIN_ONLY)
    for secret in (PASSWORD, TOKEN, API_KEY):
        assert secret not in text
    assert any(e["event"] == "arbox.retrying" for e in logs)


def test_page_size_is_bounded_by_arbox_limit() -> None:
    with pytest.raises(ValueError, match="page_size"):
        ArboxSource(page_size=501)


async def test_a_report_that_fails_then_answers_is_streamed_once_whole(
    make_source: Callable[..., ArboxSource],
) -> None:
    fake = FakeArbox(
        login=login_ok,
        activeMembersReport=[
            httpx.Response(500, json={"error": "busy"}),
            httpx.Response(200, json=[{"user_fk": 1, "email": "a1@x.test"}]),
        ],
        inactiveMembersReport=[httpx.Response(200, json=[{"user_fk": 2}])],
    )
    pages = await collect(make_source(fake).fetch_members(LOGIN_ONLY))
    assert [(m.external_id, m.active) for page in pages for m in page] == [
        ("1", True),
        ("2", False),
    ]
    assert len(fake.calls_to("activeMembersReport")) == 2


async def test_a_report_that_is_not_an_array_or_not_json_is_a_provider_error(
    make_source: Callable[..., ArboxSource],
) -> None:
    for body in (b"<html>maintenance</html>", b'{"rows": []}', b'[{"user_fk": 1}'):
        fake = FakeArbox(
            login=login_ok,
            activeMembersReport=[httpx.Response(200, content=body)],
            inactiveMembersReport=[httpx.Response(200, json=[])],
        )
        with pytest.raises(ProviderError, match="report has an unexpected shape") as caught:
            await collect(make_source(fake).fetch_members(LOGIN_ONLY))
        assert "the active report" in caught.value.message

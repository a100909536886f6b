"""ArboxSource against the Arbox sandbox over real sockets: the profile, end to end."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from fitdata_adapters.arbox import ArboxSource, RetryPolicy
from fitdata_adapters.arbox_sandbox import ArboxSandbox, expected_counts
from fitdata_core.errors import ProviderAuthError, ProviderError
from fitdata_core.ports.providers import SourceCredentials, SourceMember

from .conftest import API_KEY, BOTH, EMAIL, KEY, LOGIN, PASSWORD

pytestmark = pytest.mark.integration


def users(start: int, count: int) -> list[dict[str, Any]]:
    return [
        {"user_id": i, "first_name": f"M{i}", "email": f"m{i}@gym.test", "active": 1}
        for i in range(start, start + count)
    ]


def report(*ids: int) -> list[dict[str, Any]]:
    return [{"user_fk": i, "email": f"m{i}@gym.test", "first_name": f"M{i}"} for i in ids]


async def collect(pages: AsyncIterator[list[Any]]) -> list[list[Any]]:
    return [page async for page in pages]


def flat(pages: list[list[SourceMember]]) -> dict[str, SourceMember]:
    return {member.external_id: member for page in pages for member in page}


# --------------------------------------------------------------------- Business API


async def test_business_paging_multiple_pages_and_a_short_last_page(
    arbox: ArboxSandbox, make_source: Callable[..., ArboxSource]
) -> None:
    arbox.set_data(users=users(1, 5))
    pages = await collect(make_source(page_size=2).fetch_members(KEY))
    assert [[m.external_id for m in page] for page in pages] == [["1", "2"], ["3", "4"], ["5"]]
    calls = [c for c in arbox.calls if c.endpoint == "users"]
    # Every request names its page; the sandbox's next_page_url (http://, no query) is
    # never followed, which would have asked for page 1 again without a limit.
    assert [(c.page, c.limit, c.status) for c in calls] == [(1, 2, 200), (2, 2, 200), (3, 2, 200)]


async def test_business_paging_of_a_generated_gym(arbox: ArboxSandbox, source: ArboxSource) -> None:
    arbox.generate(1500)
    pages = await collect(source.fetch_members(KEY))
    members = flat(pages)
    counts = expected_counts(1500)
    assert len(members) == counts["active_only"] + counts["in_both_reports"]
    assert all(m.active for m in members.values())
    assert max(len(p) for p in pages) == 200
    assert len(arbox.calls) == len(pages)  # stops after total_pages, no extra empty page


async def test_plans_and_leads(arbox: ArboxSandbox, source: ArboxSource) -> None:
    arbox.generate(1500)
    plans = await source.fetch_plans(KEY)
    assert len(plans) == 5
    assert {p.name for p in plans} >= {"Annual Unlimited", "חודשי ללא הגבלה"}
    assert all(p.price is not None for p in plans)
    leads = [lead for page in await collect(source.fetch_leads(KEY)) for lead in page]
    assert len(leads) == 75
    assert len({lead.external_id for lead in leads}) == 75
    assert any(lead.email is None and lead.phone for lead in leads)
    # With only a Management login there is no Business API to read them from.
    assert await source.fetch_plans(LOGIN) == []
    assert await collect(source.fetch_leads(LOGIN)) == []


async def test_enrichment_detail_and_unknown_member(
    arbox: ArboxSandbox, source: ArboxSource
) -> None:
    arbox.set_data(details={"42": {"user_id": 42, "city": "חיפה", "zip_code": "3303000"}})
    detail = await source.fetch_member_detail(KEY, "42")
    assert detail is not None
    assert (detail.external_id, detail.city, detail.zip_code) == ("42", "חיפה", "3303000")
    assert await source.fetch_member_detail(KEY, "43") is None
    assert [c.status for c in arbox.calls] == [200, 404]


async def test_empty_source(arbox: ArboxSandbox, source: ArboxSource) -> None:
    assert await collect(source.fetch_members(KEY)) == []
    assert await collect(source.fetch_members(BOTH)) == []
    assert await source.fetch_plans(KEY) == []
    assert await collect(source.fetch_leads(KEY)) == []


# --------------------------------------------------------------------- Management API


async def test_management_merges_both_reports_active_wins_statuses_kept(
    arbox: ArboxSandbox, source: ArboxSource
) -> None:
    active = report(1, 2, 3)
    active[2]["membership_type_name"] = "Gold"
    inactive = report(3, 4)
    inactive[0]["membership_type_name"] = "Bronze (expired)"
    arbox.set_data(active_report=active, inactive_report=inactive)
    members = flat(await collect(source.fetch_members(BOTH)))
    assert {i: m.active for i, m in members.items()} == {
        "1": True,
        "2": True,
        "3": True,
        "4": False,
    }
    assert members["3"].plan_name == "Gold"
    endpoints = sorted(c.endpoint for c in arbox.calls)
    assert endpoints == ["activeMembersReport", "inactiveMembersReport", "login"]


async def test_management_reports_are_fetched_concurrently(
    arbox: ArboxSandbox, source: ArboxSource
) -> None:
    arbox.set_data(active_report=report(1), inactive_report=report(2))
    arbox.set_latency(500)
    started = time.monotonic()
    await collect(source.fetch_members(LOGIN))
    elapsed = time.monotonic() - started
    # login (0.5 s), then both reports side by side (0.5 s), not one after the other (1.5 s).
    assert 1.0 <= elapsed < 1.4


async def test_a_generated_gym_over_the_management_api(
    arbox: ArboxSandbox, source: ArboxSource
) -> None:
    arbox.generate(1500)
    pages = await collect(source.fetch_members(LOGIN))
    members = flat(pages)
    counts = expected_counts(1500)
    assert len(members) == 1500
    assert sum(not m.active for m in members.values()) == counts["inactive_only"]
    assert all(len(page) <= 1000 for page in pages)
    malformed = members[str(counts["malformed_email_member"])]
    assert malformed.email is not None
    assert "@@" in malformed.email  # passed through for the engine to report


async def test_one_hundred_thousand_members_in_bare_array_reports(
    arbox: ArboxSandbox, source: ArboxSource
) -> None:
    arbox.generate(100_000)
    total = 0
    inactive = 0
    chunks = 0
    async for page in source.fetch_members(LOGIN):
        assert len(page) <= 1000
        chunks += 1
        total += len(page)
        inactive += sum(not m.active for m in page)
    assert total == 100_000
    assert inactive == expected_counts(100_000)["inactive_only"]
    assert chunks == 100


# --------------------------------------------------------------------- credentials


async def test_a_wrong_api_key_is_refused_citing_401(
    arbox: ArboxSandbox, source: ArboxSource
) -> None:
    wrong = "wrong-key-0b7e55"
    with pytest.raises(ProviderAuthError) as caught:
        await collect(source.fetch_members(SourceCredentials(api_key=wrong)))
    error = caught.value
    assert error.status == 401
    assert "HTTP 401" in error.message
    assert "Re-enter the Arbox credentials" in error.message
    assert wrong not in error.message
    assert wrong not in repr(error)
    assert len(arbox.calls) == 1  # a refusal is not retried


async def test_a_wrong_login_is_refused_citing_401(
    arbox: ArboxSandbox, source: ArboxSource
) -> None:
    wrong = SourceCredentials(email=EMAIL, password="not-the-password-5d1")
    with pytest.raises(ProviderAuthError) as caught:
        await collect(source.fetch_members(wrong))
    assert "email and password" in caught.value.message
    assert "HTTP 401" in caught.value.message
    for secret in ("not-the-password-5d1", PASSWORD, API_KEY):
        assert secret not in caught.value.message
    assert [c.endpoint for c in arbox.calls] == ["login"]


async def test_a_session_that_expires_mid_run_logs_in_once_more(
    arbox: ArboxSandbox, source: ArboxSource
) -> None:
    arbox.set_data(active_report=report(1, 2), inactive_report=report(3))
    arbox.fail_next(401, endpoint="activeMembersReport")
    members = flat(await collect(source.fetch_members(LOGIN)))
    assert set(members) == {"1", "2", "3"}
    assert [c.endpoint for c in arbox.calls].count("login") == 2


async def test_a_session_that_expires_twice_gives_up(
    arbox: ArboxSandbox, source: ArboxSource
) -> None:
    arbox.set_data(active_report=report(1), inactive_report=report(2))
    arbox.fail_next(401, count=2, endpoint="inactiveMembersReport")
    with pytest.raises(ProviderAuthError) as caught:
        await collect(source.fetch_members(LOGIN))
    assert "HTTP 401" in caught.value.message
    assert [c.endpoint for c in arbox.calls].count("login") == 2


# --------------------------------------------------------------------- failures


async def test_429_with_retry_after_then_success(
    arbox: ArboxSandbox, make_source: Callable[..., ArboxSource]
) -> None:
    arbox.set_data(users=users(1, 3))
    arbox.fail_next(429, endpoint="users", retry_after=0.5)
    source = make_source(retry_policy=RetryPolicy(max_attempts=3, initial_wait=0.01, jitter=0))
    started = time.monotonic()
    pages = await collect(source.fetch_members(KEY))
    assert time.monotonic() - started >= 0.5
    assert len(flat(pages)) == 3
    assert [(c.status, c.injected) for c in arbox.calls] == [(429, True), (200, False)]


async def test_500s_exhaust_the_retries_then_fail_saying_so(
    arbox: ArboxSandbox, source: ArboxSource
) -> None:
    arbox.set_data(users=users(1, 3))
    arbox.fail_next(500, count=10)
    with pytest.raises(ProviderError) as caught:
        await collect(source.fetch_members(KEY))
    assert caught.value.status == 500
    assert "gave up after 3 attempts" in caught.value.message
    assert len(arbox.calls) == 3


async def test_a_transient_500_is_retried_transparently(
    arbox: ArboxSandbox, source: ArboxSource
) -> None:
    arbox.set_data(active_report=report(1), inactive_report=report(2))
    arbox.fail_next(503, endpoint="inactiveMembersReport")
    assert set(flat(await collect(source.fetch_members(LOGIN)))) == {"1", "2"}


async def test_422_is_not_retried(arbox: ArboxSandbox, source: ArboxSource) -> None:
    arbox.set_data(users=users(1, 3))
    arbox.fail_next(422, endpoint="users")
    with pytest.raises(ProviderError) as caught:
        await collect(source.fetch_members(KEY))
    assert caught.value.status == 422
    assert not isinstance(caught.value, ProviderAuthError)
    assert len(arbox.calls) == 1


async def test_latency_and_concurrent_callers_share_one_client(
    arbox: ArboxSandbox, make_source: Callable[..., ArboxSource]
) -> None:
    arbox.generate(50)
    arbox.set_latency(250)
    source = make_source(max_connections=10)
    started = time.monotonic()
    details = await asyncio.gather(
        *(source.fetch_member_detail(KEY, str(10_001 + i)) for i in range(10))
    )
    elapsed = time.monotonic() - started
    assert all(detail is not None for detail in details)
    # Ten calls of 250 ms each, side by side: well under the 2.5 s they take in a row.
    assert 0.25 <= elapsed < 1.5
    assert len(arbox.calls) == 10


async def test_a_source_that_is_down_is_a_provider_error() -> None:
    async with ArboxSource(
        base_url="http://127.0.0.1:9",
        retry_policy=RetryPolicy(max_attempts=2, initial_wait=0.01, jitter=0),
    ) as source:
        with pytest.raises(ProviderError, match="connection failed"):
            await collect(source.fetch_members(KEY))


async def test_a_source_slower_than_the_timeout_is_retried_then_fails_saying_so(
    arbox: ArboxSandbox, make_source: Callable[..., ArboxSource]
) -> None:
    arbox.set_data(users=users(1, 3))
    arbox.set_latency(1000)
    source = make_source(
        timeout=0.2, retry_policy=RetryPolicy(max_attempts=2, initial_wait=0.01, jitter=0)
    )
    with pytest.raises(ProviderError) as caught:
        await collect(source.fetch_members(KEY))
    assert "users timed out; gave up after 2 attempts" in caught.value.message
    await asyncio.sleep(1.5)  # let the sandbox finish the abandoned calls before the next test
    assert [c.endpoint for c in arbox.calls] == ["users", "users"]

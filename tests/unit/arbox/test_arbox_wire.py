"""Arbox wire rules: rows to source records, envelopes, report merging, Retry-After."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from fitdata_adapters.arbox import wire
from fitdata_adapters.arbox.retry import (
    RetryableAnswer,
    RetryPolicy,
    retry_after_seconds,
    transient_failure,
)
from fitdata_core.money import Money


def report_row(user_fk: Any, **fields: Any) -> dict[str, Any]:
    return {"user_fk": user_fk, "first_name": "Dana", "email": f"u{user_fk}@example.com", **fields}


def test_business_member_row_is_trimmed_and_zero_dates_become_none() -> None:
    member = wire.read_business_member(
        {
            "user_id": 42,
            "first_name": "  דנה ",
            "last_name": "",
            "email": " Dana@Example.com ",
            "phone": "052-123-4567",
            "birthday": "0000-00-00",
            "gender": "",
            "active": 1,
            "membership_type_name": "Monthly",
            "membership_start": "2026-01-01",
            "membership_end": "0000-00-00 00:00:00",
            "unknown_field": {"nested": True},
        }
    )
    assert member.external_id == "42"
    assert member.first_name == "דנה"
    assert member.last_name is None
    assert member.email == "Dana@Example.com"  # case is the engine's business
    assert member.phone == "052-123-4567"  # normalising to E.164 too
    assert member.birth_date is None
    assert member.gender is None
    assert member.active is True
    assert member.plan_name == "Monthly"
    assert member.membership_start == "2026-01-01"
    assert member.membership_end is None


@pytest.mark.parametrize(
    ("active", "expected"), [(0, False), ("0", False), (False, False), (1, True), (None, True)]
)
def test_business_member_active_flag(active: Any, expected: bool) -> None:
    assert wire.read_business_member({"user_id": 1, "active": active}).active is expected


def test_a_row_without_an_id_keeps_an_empty_id_for_the_engine_to_report() -> None:
    assert wire.read_business_member({"email": "x@example.com"}).external_id == ""
    assert wire.identifier({"user_id": 7.0}, "user_id") == "7"


def test_plan_rows() -> None:
    plan = wire.read_plan(
        {
            "membership_type_id": 3,
            "membership_type_name": " Annual ",
            "price": Decimal("3200.5"),
            "sessions": None,
            "period_months": "12",
        }
    )
    assert plan is not None
    assert (plan.external_id, plan.name, plan.price) == ("3", "Annual", Money("3200.50"))
    assert (plan.session_count, plan.period_months) == (None, 12)
    assert wire.read_plan({"membership_type_id": 4, "membership_type_name": ""}) is None
    odd = wire.read_plan({"membership_type_name": "Odd", "price": "free", "sessions": 2.5})
    assert odd is not None
    assert (odd.price, odd.session_count) == (None, None)


def test_lead_and_detail_rows() -> None:
    lead = wire.read_lead(
        {
            "user_id": 900001,
            "first_name": "Noa",
            "email": None,
            "phone": "+972521234567",
            "lead_status": "New",
            "lead_source": "Instagram",
            "created_time": "2026-03-01 10:15:00",
        }
    )
    assert (lead.external_id, lead.email, lead.phone) == ("900001", None, "+972521234567")
    assert (lead.status, lead.source, lead.created_at) == (
        "New",
        "Instagram",
        "2026-03-01 10:15:00",
    )
    detail = wire.read_detail(
        "10001", {"city": "חיפה", "zip_code": 3303, "medical_notes": "", "address": " Herzl 1 "}
    )
    assert (detail.city, detail.zip_code, detail.address) == ("חיפה", "3303", "Herzl 1")
    assert detail.medical_notes is None


def test_merge_reports_active_wins_and_keeps_every_status() -> None:
    active = [report_row(1, membership_type_name="Gold"), report_row(2), "garbage"]
    inactive = [
        report_row(2, membership_type_name="Old plan"),
        report_row(3),
        report_row(3, first_name="duplicate"),
        report_row(None),
    ]
    merged = wire.merge_reports(active, inactive)
    members = list(merged.values())
    assert [(m.external_id, m.active) for m in members] == [
        ("1", True),
        ("2", True),
        ("3", False),
        ("", False),
    ]
    assert members[1].plan_name is None  # the active row's values, not the inactive one's
    assert members[2].first_name == "Dana"


def test_read_page_ignores_next_page_url_and_tolerates_missing_pagination() -> None:
    page = wire.read_page(
        {
            "statusCode": 200,
            "data": [{"user_id": 1}, 5],
            "extra": {"pagination": {"total_pages": "3", "next_page_url": "http://x/users"}},
        }
    )
    assert page.rows == [{"user_id": 1}]
    assert page.total_pages == 3
    assert wire.read_page({"data": None}).total_pages is None
    with pytest.raises(wire.WireError):
        wire.read_page([{"user_id": 1}])
    with pytest.raises(wire.WireError):
        wire.read_page({"data": {"user_id": 1}})


def test_read_report_token_and_error_text() -> None:
    assert wire.read_report([{"user_fk": 1}]) == [{"user_fk": 1}]
    assert wire.read_report({"data": []}) == []
    with pytest.raises(wire.WireError):
        wire.read_report({"rows": []})
    assert wire.read_token({"token": " abc "}) == "abc"
    assert wire.read_token({"data": {"token": "xyz"}}) == "xyz"
    with pytest.raises(wire.WireError):
        wire.read_token({"token": ""})
    assert wire.error_text({"statusCode": 422, "error": "limit   too big"}) == "limit too big"
    assert wire.error_text("nope") is None


def test_retry_after_parsing_never_uses_this_machines_clock() -> None:
    assert retry_after_seconds({"retry-after": "2"}) == 2.0
    assert retry_after_seconds({"retry-after": "-5"}) == 0.0
    assert retry_after_seconds({}) is None
    dated = {
        "retry-after": "Wed, 02 Dec 2026 01:00:30 GMT",
        "date": "Wed, 02 Dec 2026 01:00:00 GMT",
    }
    assert retry_after_seconds(dated) == 30.0
    assert retry_after_seconds({"retry-after": "Wed, 02 Dec 2026 01:00:30 GMT"}) is None
    assert retry_after_seconds({"retry-after": "soon", "date": "also soon"}) is None


def test_wait_honours_retry_after_and_backs_off_exponentially() -> None:
    policy = RetryPolicy(initial_wait=0.5, max_wait=4, jitter=0)
    assert [policy.wait_seconds(n, None) for n in (1, 2, 3, 4, 5)] == [0.5, 1, 2, 4, 4]
    assert policy.wait_seconds(1, RetryableAnswer(429, retry_after=7)) == 7
    jittery = RetryPolicy(initial_wait=1, jitter=0.5)
    waits = {jittery.wait_seconds(1, None) for _ in range(20)}
    assert all(1 <= w <= 1.5 for w in waits)
    assert len(waits) > 1


def test_what_is_transient() -> None:
    import httpx

    request = httpx.Request("GET", "https://arbox.test/")
    assert transient_failure(RetryableAnswer(503))
    assert transient_failure(httpx.ReadTimeout("slow", request=request))
    assert transient_failure(httpx.ConnectError("refused", request=request))
    assert not transient_failure(httpx.UnsupportedProtocol("ftp?", request=request))
    assert not transient_failure(ValueError("no"))

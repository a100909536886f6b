"""The Arbox sandbox's generated data set: deterministic, varied, and cheap at 100,000."""

from __future__ import annotations

import re
import tracemalloc

from fitdata_adapters.arbox_sandbox import (
    FIRST_MEMBER_ID,
    PLANS,
    UNKNOWN_PLAN_NAME,
    expected_counts,
    generate_dataset,
    malformed_email_index,
)

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
HEBREW = re.compile(r"[\u0590-\u05FF]")


def test_same_seed_same_data_other_seed_other_data() -> None:
    first, again, other = (
        generate_dataset(300, seed=7),
        generate_dataset(300, seed=7),
        generate_dataset(300, seed=8),
    )
    assert list(first.active_report) == list(again.active_report)
    assert list(first.leads) == list(again.leads)
    assert first.details["10005"] == again.details["10005"]
    assert list(first.active_report) != list(other.active_report)


def test_reports_users_and_statuses_add_up() -> None:
    data = generate_dataset(1500)
    counts = expected_counts(1500)
    active_ids = {row["user_fk"] for row in data.active_report}
    inactive_ids = {row["user_fk"] for row in data.inactive_report}
    both = active_ids & inactive_ids
    assert len(active_ids | inactive_ids) == 1500
    assert len(both) == counts["in_both_reports"] > 0
    assert len(inactive_ids - active_ids) == counts["inactive_only"] > 0
    assert {row["user_id"] for row in data.users} == active_ids  # users: active only
    # A member in both reports has an older membership in the inactive one.
    member = next(iter(both))
    active_row = next(r for r in data.active_report if r["user_fk"] == member)
    inactive_row = next(r for r in data.inactive_report if r["user_fk"] == member)
    assert active_row["membership_end"] != inactive_row["membership_end"]
    assert active_row["email"] == inactive_row["email"]


def test_exactly_one_malformed_email_and_the_other_quirks() -> None:
    data = generate_dataset(1500)
    active_ids = {u["user_id"] for u in data.users}
    rows = list(data.active_report) + [
        r for r in data.inactive_report if r["user_fk"] not in active_ids
    ]
    bad = [r for r in rows if not EMAIL.match(r["email"].strip())]
    assert [r["user_fk"] for r in bad] == [FIRST_MEMBER_ID + malformed_email_index(1500)]
    assert len({r["email"].strip().lower() for r in rows}) == 1500
    phones = {r["phone"] for r in rows}
    assert any(re.fullmatch(r"05\d{8}", p) for p in phones)
    assert any(re.fullmatch(r"05\d-\d{3}-\d{4}", p) for p in phones)
    assert any(re.fullmatch(r"05\d \d{3} \d{4}", p) for p in phones)
    assert any(re.fullmatch(r"\+9725\d{8}", p) for p in phones)
    assert "" in phones
    assert any(HEBREW.search(r["first_name"]) for r in rows)
    assert any(not HEBREW.search(r["first_name"]) for r in rows)
    assert any(r["birthday"] == "0000-00-00" for r in rows)
    assert any(r["email"] != r["email"].strip() for r in rows)
    assert any(r["membership_type_name"] == UNKNOWN_PLAN_NAME for r in rows)
    assert len(data.plans) == len(PLANS) == 5
    leads = list(data.leads)
    assert len(leads) == 75
    assert any(lead["email"] is None for lead in leads)


def test_details_for_every_member_and_only_them() -> None:
    data = generate_dataset(1500)
    detail = data.details[str(FIRST_MEMBER_ID)]
    assert detail["user_id"] == FIRST_MEMBER_ID
    assert detail["address"]
    assert detail["city"]
    assert detail["emergency_contact_phone"]
    assert str(FIRST_MEMBER_ID + 1499) in data.details
    assert str(FIRST_MEMBER_ID + 1500) not in data.details
    assert "abc" not in data.details
    assert data.details.get("1") is None


def test_no_members_is_an_empty_source_with_plans() -> None:
    data = generate_dataset(0)
    assert (len(data.users), len(data.active_report), len(data.leads)) == (0, 0, 0)
    assert len(data.plans) == 5


def test_a_hundred_thousand_members_cost_little_memory_and_page_directly() -> None:
    tracemalloc.start()
    try:
        data = generate_dataset(100_000)
        size, _peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert size < 2_000_000  # index arrays only, no rows
    assert len(data.active_report) + len(data.inactive_report) > 100_000
    page = data.users[85_800:86_000]
    assert len(page) == 200
    assert page[-1]["user_id"] == data.users[85_999]["user_id"]

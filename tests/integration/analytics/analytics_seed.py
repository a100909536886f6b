"""Known read-model rows whose analytics figures the tests work out by hand.

The range under test is 2026-01-01..2026-03-31. Rows just outside it (the last second of 2025,
the first second of April) and another organization's rows must never count.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from fitdata_adapters.db import tables as t

ORG = "org-a"
OTHER_ORG = "org-b"
CREATED = datetime(2025, 1, 1, tzinfo=UTC)


def ts(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[arg-type, misc]


def _org(org_id: str) -> dict[str, Any]:
    return {"id": org_id, "name": org_id, "platform_tier": "lite", "created_at": CREATED}


def _user(user_id: str) -> dict[str, Any]:
    return {
        "id": user_id,
        "email": f"{user_id}@example.com",
        "first_name": None,
        "last_name": None,
        "phone": None,
        "is_platform_admin": False,
        "created_at": CREATED,
    }


def _plan(plan_id: str, name: str) -> dict[str, Any]:
    return {
        "id": plan_id,
        "organization_id": ORG,
        "name": name,
        "kind": "membership",
        "price_amount": Decimal("249.90"),
        "price_currency": "ILS",
        "session_count": None,
        "validity_days": 30,
        "is_active": True,
        "external_id": None,
        "created_at": CREATED,
    }


def _membership(
    mid: str, user: str, status: str, created: datetime, plan: str | None = None, **kw: Any
) -> dict[str, Any]:
    return {
        "id": mid,
        "organization_id": kw.get("org", ORG),
        "user_id": user,
        "role": kw.get("role", "member"),
        "status": status,
        "plan_id": plan,
        "created_at": created,
    }


def _payment(
    pid: str, user: str, amount: str, currency: str, status: str, at: datetime, **kw: Any
) -> dict[str, Any]:
    return {
        "id": pid,
        "organization_id": kw.get("org", ORG),
        "user_id": user,
        "plan_id": None,
        "amount": Decimal(amount),
        "currency": currency,
        "status": status,
        "paid_at": at,
    }


def _session(
    sid: str, name: str, at: datetime, capacity: int | None, org: str = ORG
) -> dict[str, Any]:
    return {
        "id": sid,
        "organization_id": org,
        "name": name,
        "coach_user_id": "coach",
        "location_id": None,
        "starts_at": at,
        "duration_minutes": 60,
        "capacity": capacity,
    }


def _bookings(session: str, statuses: list[str], org: str = ORG) -> list[dict[str, Any]]:
    return [
        {
            "id": f"{session}-b{i}",
            "session_id": session,
            "organization_id": org,
            "user_id": f"u{i % 5 + 1}",
            "status": status,
            "booked_at": ts(2025, 12, 1),
        }
        for i, status in enumerate(statuses)
    ]


def _workout(
    wid: str,
    user: str,
    kind: str,
    at: datetime,
    minutes: int | None,
    calories: int | None,
    org: str = ORG,
) -> dict[str, Any]:
    return {
        "id": wid,
        "organization_id": org,
        "user_id": user,
        "performed_at": at,
        "kind": kind,
        "duration_minutes": minutes,
        "calories": calories,
    }


ROWS: list[tuple[sa.Table, list[dict[str, Any]]]] = [
    (t.organizations, [_org(ORG), _org(OTHER_ORG)]),
    (t.users, [_user(u) for u in ("u1", "u2", "u3", "u4", "u5", "u6", "coach", "owner", "x1")]),
    (t.plans, [_plan("plan-monthly", "Monthly"), _plan("plan-annual", "Annual")]),
    (
        t.memberships,
        [
            _membership("m1", "u1", "active", ts(2025, 12, 10), "plan-monthly"),
            _membership("m2", "u2", "active", ts(2026, 1, 15), "plan-monthly"),
            _membership("m3", "u3", "active", ts(2026, 3, 31, 23, 30), "plan-annual"),
            _membership("m4", "u4", "active", ts(2026, 2, 1)),
            _membership("m5", "u5", "suspended", ts(2026, 2, 20), "plan-annual"),
            _membership("m6", "u6", "invited", ts(2026, 4, 1)),
            _membership("mc", "coach", "active", ts(2025, 6, 1), "plan-monthly", role="coach"),
            _membership("mo", "owner", "active", ts(2025, 1, 1), role="owner"),
            _membership("mx", "x1", "active", ts(2026, 1, 10), org=OTHER_ORG),
        ],
    ),
    (
        t.member_payments,
        [
            _payment("p1", "u1", "100.10", "ILS", "paid", ts(2026, 1, 5)),
            _payment("p2", "u2", "200.20", "ILS", "paid", ts(2026, 1, 20)),
            _payment("p3", "u1", "100.10", "ILS", "paid", ts(2026, 3, 31, 23, 59, 59)),
            _payment("p4", "u3", "50.00", "ILS", "refunded", ts(2026, 2, 10)),
            _payment("p5", "u4", "30.00", "ILS", "failed", ts(2026, 2, 11)),
            _payment("p6", "u2", "10.00", "USD", "paid", ts(2026, 2, 14)),
            _payment("p7", "u1", "999.00", "ILS", "paid", ts(2025, 12, 31, 23, 59, 59)),
            _payment("p8", "u1", "999.00", "ILS", "paid", ts(2026, 4, 1)),
            _payment("px", "x1", "500.00", "ILS", "paid", ts(2026, 1, 10), org=OTHER_ORG),
        ],
    ),
    (
        t.class_sessions,
        [
            _session("s1", "Yoga", ts(2026, 1, 10, 8), 10),
            _session("s2", "Yoga", ts(2026, 2, 10, 8), 10),
            _session("s3", "HIIT", ts(2026, 1, 12, 18), 5),
            _session("s4", "Open gym", ts(2026, 2, 15, 7), None),
            _session("s5", "Yoga", ts(2025, 12, 30, 8), 10),
            _session("sx", "Yoga", ts(2026, 1, 10, 8), 10, org=OTHER_ORG),
        ],
    ),
    (
        t.class_bookings,
        [
            *_bookings("s1", ["booked", "attended", "attended", "cancelled"]),
            *_bookings("s2", ["attended", "no_show"]),
            *_bookings("s3", ["attended"] * 4 + ["no_show", "cancelled"]),
            *_bookings("s4", ["attended"] * 3),
            *_bookings("s5", ["attended", "attended"]),
            *_bookings("sx", ["attended"] * 7, org=OTHER_ORG),
        ],
    ),
    (
        t.workouts,
        [
            _workout("w1", "u1", "run", ts(2026, 1, 3), 30, 300),
            _workout("w2", "u1", "run", ts(2026, 2, 3), 45, None),
            _workout("w3", "u2", "run", ts(2026, 2, 5), None, 200),
            _workout("w4", "u2", "strength", ts(2026, 3, 1), 60, 400),
            _workout("w5", "u3", "run", ts(2025, 12, 31, 23), 90, 900),
            _workout("wx", "x1", "run", ts(2026, 1, 3), 30, 300, org=OTHER_ORG),
        ],
    ),
]


async def seed(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        for table, rows in ROWS:
            await conn.execute(table.insert(), rows)


async def seed_empty_org(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(t.organizations.insert(), [_org(ORG)])

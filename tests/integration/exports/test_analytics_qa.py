"""The "Analytics tab CSV (synchronous)" rows of the QA plan, plus every tab on the demo gym.

The real app under uvicorn on Postgres, called with httpx over the socket; the demo gym has a
year of payments, bookings and workouts, so every tab has figures.
"""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from exports_live import DemoGym, LiveAppFactory, bearer, parse_csv

from fitdata_core.rules.analytics import VALID_TABS, AnalyticsTab, header_of, keys_of

pytestmark = pytest.mark.integration


async def test_get_analytics_export_revenue_summary_as_owner_200_with_content_disposition(
    live_app: LiveAppFactory, demo_gym: DemoGym, http: httpx.AsyncClient
) -> None:
    app = live_app()

    response = await http.get(
        f"{app.base_url}{demo_gym.base}/analytics/export",
        params={"tab": "revenue-summary"},
        headers=bearer(demo_gym.owner),
    )

    today = datetime.now(UTC).date().isoformat()
    assert response.status_code == 200
    assert (
        response.headers["content-disposition"]
        == f'attachment; filename="revenue-summary-{today}.csv"'
    )
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    rows = parse_csv(response.content)
    assert tuple(rows[0]) == header_of(AnalyticsTab.REVENUE_SUMMARY)
    assert len(rows) >= 2
    assert rows[1][0] == "ILS"


async def test_analytics_export_unknown_tab_is_400_listing_the_valid_tabs(
    live_app: LiveAppFactory, demo_gym: DemoGym, http: httpx.AsyncClient
) -> None:
    app = live_app()

    response = await http.get(
        f"{app.base_url}{demo_gym.base}/analytics/export",
        params={"tab": "revenue-forecast"},
        headers=bearer(demo_gym.owner),
    )

    assert response.status_code == 400
    assert response.json()["field"] == "tab"
    for tab in VALID_TABS:
        assert tab in response.json()["detail"]


async def test_analytics_export_member_calls_403(
    live_app: LiveAppFactory, demo_gym: DemoGym, http: httpx.AsyncClient
) -> None:
    app = live_app()
    url = f"{app.base_url}{demo_gym.base}/analytics"

    csv_response = await http.get(
        f"{url}/export", params={"tab": "revenue-summary"}, headers=bearer(demo_gym.member)
    )
    json_response = await http.get(f"{url}/revenue-summary", headers=bearer(demo_gym.member))

    assert csv_response.status_code == 403
    assert csv_response.headers["content-type"].startswith("application/problem+json")
    assert json_response.status_code == 403


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2026-02-30"}, "from"),
        ({"to": "yesterday"}, "to"),
        ({"from": "2026-05-01", "to": "2026-04-01"}, "from"),
    ],
)
async def test_analytics_export_bad_dates_are_400_naming_the_field(
    live_app: LiveAppFactory,
    demo_gym: DemoGym,
    http: httpx.AsyncClient,
    params: dict[str, str],
    field: str,
) -> None:
    app = live_app()

    response = await http.get(
        f"{app.base_url}{demo_gym.base}/analytics/export",
        params={"tab": "members-growth", **params},
        headers=bearer(demo_gym.owner),
    )

    assert response.status_code == 400
    assert response.json()["field"] == field


async def test_every_analytics_tab_has_rows_on_demo_data_as_csv_and_as_json(
    live_app: LiveAppFactory, demo_gym: DemoGym, http: httpx.AsyncClient
) -> None:
    app = live_app()
    url = f"{app.base_url}{demo_gym.base}/analytics"

    for tab in AnalyticsTab:
        as_csv = await http.get(
            f"{url}/export", params={"tab": tab.value}, headers=bearer(demo_gym.admin)
        )
        as_json = await http.get(f"{url}/{tab.value}", headers=bearer(demo_gym.admin))

        assert as_csv.status_code == 200, (tab, as_csv.text)
        assert as_json.status_code == 200, (tab, as_json.text)
        rows = parse_csv(as_csv.content)
        body = as_json.json()["data"]
        assert tuple(rows[0]) == header_of(tab)
        assert len(rows) > 1, tab
        assert [c["key"] for c in body["columns"]] == list(keys_of(tab))
        assert len(body["rows"]) == len(rows) - 1, tab
        # The same figures both ways: the CSV cell is the JSON value as text.
        first = body["rows"][0]
        assert [str(first[key]) for key in keys_of(tab)] == rows[1], tab


async def test_analytics_json_honours_the_date_range(
    live_app: LiveAppFactory, demo_gym: DemoGym, http: httpx.AsyncClient
) -> None:
    app = live_app()
    today = datetime.now(UTC).date()
    start = today.replace(day=1)

    response = await http.get(
        f"{app.base_url}{demo_gym.base}/analytics/members-growth",
        params={"from": start.isoformat(), "to": today.isoformat()},
        headers=bearer(demo_gym.owner),
    )

    body = response.json()["data"]
    assert response.status_code == 200
    assert (body["start"], body["end"]) == (start.isoformat(), today.isoformat())
    assert [row["month"] for row in body["rows"]] == [f"{today:%Y-%m}"]

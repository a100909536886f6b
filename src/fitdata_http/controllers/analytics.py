"""``/organizations/{orgId}/analytics``: the dashboard's figures as CSV or JSON.

``GET /analytics/export?tab=&from=&to=`` streams one tab as a CSV download (UTF-8 with a BOM,
the same encoder as the members export) named ``<tab>-<YYYY-MM-DD>.csv`` after today's date.
``GET /analytics/{tab}`` returns the same rows as JSON for the dashboard. Owners and admins
only. ``from`` and ``to`` are ``YYYY-MM-DD`` (UTC days, both included); the default is the
last twelve calendar months up to today.

Every check (role, tab, dates) runs before the first byte is sent, so a refused request is
always a plain problem response, never a broken download.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Annotated, cast

import attrs
from litestar import Controller, get
from litestar.params import Parameter, QueryParameter
from litestar.response import Stream

from fitdata_core.errors import InvalidInput
from fitdata_core.rules.analytics import TAB_COLUMNS, AnalyticsTab
from fitdata_core.rules.csv_format import encode_csv
from fitdata_core.usecases.exports import AnalyticsTable, analytics_table
from fitdata_http.contract import answers
from fitdata_http.deps import ActorDep, OrgIdDep, ServicesDep
from fitdata_http.envelope import Envelope, ok
from fitdata_http.openapi import BEARER
from fitdata_http.params import ORG_PATH

__all__ = ["AnalyticsController", "AnalyticsTabView", "parse_day"]

# Litestar appends "; charset=utf-8" to text types itself.
CSV_MEDIA_TYPE = "text/csv"

_TAB_HELP = "The tab to compute."
# The same bounds as the document states them: YYYY-MM-DD in the years 1900 to 2999 (and,
# through `format: date`, a day the calendar has).
_DAY_PATTERN = r"^(19[0-9]{2}|2[0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"
# The shape alone, so a day in another year hears which years are allowed.
_DAY_SHAPE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DAY = {"format": "date", "pattern": _DAY_PATTERN}
Tab = Annotated[AnalyticsTab, QueryParameter(description=_TAB_HELP)]
From = Annotated[
    str | None,
    QueryParameter(
        name="from",
        description="First day, YYYY-MM-DD (default: 12 months back); on or before `to`.",
        schema_extra=_DAY,
    ),
]
To = Annotated[
    str | None,
    QueryParameter(
        description="Last day, YYYY-MM-DD (default: today); at most 5 years after `from`.",
        schema_extra=_DAY,
    ),
]


# Days the figures can cover. Far-off years are refused up front: a range ending at
# 9999-12-31 would overflow the day after it, which the queries need.
FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(2999, 12, 31)


def parse_day(value: str | None, field: str) -> date | None:
    """``YYYY-MM-DD``, a day of the years 1900 to 2999 (what the document's pattern admits),
    as a date; ``None`` when absent; ``InvalidInput`` naming ``field`` otherwise, a blank
    value included."""
    if value is None:
        return None
    day = None
    if _DAY_SHAPE.fullmatch(value):
        try:
            day = date.fromisoformat(value)
        except ValueError:
            day = None  # a day the calendar does not have, e.g. 2026-02-30
    if day is None:
        shown = value[:32].encode("unicode_escape").decode("ascii")
        raise InvalidInput(f'{field} must be a date as YYYY-MM-DD, got "{shown}".', field=field)
    if not FIRST_DAY <= day <= LAST_DAY:
        raise InvalidInput(
            f"{field} must be between {FIRST_DAY} and {LAST_DAY}, got {day}.", field=field
        )
    return day


@attrs.frozen
class ColumnView:
    key: str
    header: str


# One cell of a row: text, a count, or an amount (a decimal, written as a string).
Cell = str | int | Decimal | None


@attrs.frozen
class AnalyticsTabView:
    """One tab for the dashboard: its columns, and its rows keyed by the columns' keys."""

    tab: AnalyticsTab
    start: date
    end: date
    columns: list[ColumnView]
    rows: list[dict[str, Cell]]

    @classmethod
    def of(cls, table: AnalyticsTable) -> AnalyticsTabView:
        columns = TAB_COLUMNS[table.tab]
        keys = [c.key for c in columns]
        return cls(
            tab=table.tab,
            start=table.start,
            end=table.end,
            columns=[ColumnView(c.key, c.header) for c in columns],
            # The readers fill cells with text, counts and amounts only (see `Cell`).
            rows=[cast(dict[str, Cell], dict(zip(keys, row, strict=True))) for row in table.rows],
        )


async def _table(
    services: ServicesDep,
    actor: ActorDep,
    org_id: str,
    tab: AnalyticsTab,
    from_: str | None,
    to: str | None,
) -> AnalyticsTable:
    start, end = parse_day(from_, "from"), parse_day(to, "to")
    return await analytics_table(services, actor, org_id, tab, start, end)


class AnalyticsController(Controller):
    path = ORG_PATH + "/analytics"
    tags = ["analytics"]  # noqa: RUF012 - Litestar reads these as class attributes
    security = BEARER

    @get(
        "/export",
        summary="Download one analytics tab as CSV (owner, admin)",
        media_type=CSV_MEDIA_TYPE,
    )
    async def export_tab(
        self,
        services: ServicesDep,
        actor: ActorDep,
        org_id: OrgIdDep,
        tab: Tab,
        from_: From = None,
        to: To = None,
    ) -> Stream:
        table = await _table(services, actor, org_id, tab, from_, to)
        return Stream(
            encode_csv(table.header, table.rows),
            media_type=CSV_MEDIA_TYPE,
            headers={
                # The name is ASCII by construction (tab value and ISO date), so the plain form
                # is exact and every browser understands it.
                "Content-Disposition": f'attachment; filename="{table.filename}"',
                "Cache-Control": "private, no-store",
            },
        )

    @get(
        "/{tab:str}",
        opt=answers(AnalyticsTabView),
        summary="One analytics tab as JSON rows (owner, admin)",
    )
    async def show_tab(
        self,
        services: ServicesDep,
        actor: ActorDep,
        org_id: OrgIdDep,
        tab: Annotated[AnalyticsTab, Parameter(description=_TAB_HELP)],
        from_: From = None,
        to: To = None,
    ) -> Envelope:
        table = await _table(services, actor, org_id, tab, from_, to)
        return ok(AnalyticsTabView.of(table))

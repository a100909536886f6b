"""Analytics tabs as CSV-ready rows (the synchronous analytics export)."""

from __future__ import annotations

from datetime import date

import attrs

from fitdata_core.access import Action
from fitdata_core.rules.analytics import (
    AnalyticsTab,
    analytics_filename,
    header_of,
    keys_of,
    parse_tab,
    resolve_range,
)
from fitdata_core.services import Actor, Services
from fitdata_core.usecases.common import authorize

__all__ = [
    "AnalyticsTable",
    "analytics_rows",
    "analytics_table",
]


@attrs.frozen
class AnalyticsTable:
    """One tab's figures: the header labels, the rows in column order, and a file name."""

    tab: AnalyticsTab
    start: date
    end: date
    header: tuple[str, ...]
    rows: list[tuple[object, ...]]
    filename: str


async def analytics_table(
    svc: Services,
    actor: Actor,
    org_id: str,
    tab: str,
    start: date | None = None,
    end: date | None = None,
) -> AnalyticsTable:
    """The rows of analytics tab ``tab`` over ``start``..``end`` (both included, UTC days).

    Owners and admins only (checked first: ``PermissionDenied``). The range defaults to the
    last twelve calendar months up to today. ``InvalidInput`` for an unknown tab (field
    ``tab``, listing the valid ones), a start after the end (field ``from``) or a span over
    five years (field ``to``).
    """
    async with svc.uow(read_only=True) as uow:
        await authorize(uow, actor, org_id, Action.READ_ANALYTICS)
    parsed = parse_tab(tab)
    date_range = resolve_range(start, end, today=svc.clock.now().date())
    # Read outside the unit of work: the reader has its own connection and may take a while.
    found = await svc.analytics.rows(
        org_id, parsed.value, start=date_range.start, end=date_range.end
    )
    keys = keys_of(parsed)
    rows: list[tuple[object, ...]] = []
    for row in found:
        if set(row) != set(keys):
            # A reader out of step with the column table: fail loudly rather than shift columns.
            raise RuntimeError(
                f"The analytics reader returned columns {sorted(row)} for {parsed.value}, "
                f"expected {list(keys)}."
            )
        rows.append(tuple(row[key] for key in keys))
    return AnalyticsTable(
        tab=parsed,
        start=date_range.start,
        end=date_range.end,
        header=header_of(parsed),
        rows=rows,
        filename=analytics_filename(parsed, svc.clock.now().date()),
    )


async def analytics_rows(
    svc: Services,
    actor: Actor,
    org_id: str,
    tab: str,
    start: date | None = None,
    end: date | None = None,
) -> tuple[tuple[str, ...], list[tuple[object, ...]]]:
    """``(header, rows)`` of tab ``tab``: what ``encode_csv`` takes. See :func:`analytics_table`."""
    table = await analytics_table(svc, actor, org_id, tab, start, end)
    return table.header, table.rows

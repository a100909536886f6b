"""Database upkeep after bulk writes: refresh the planner's statistics of the tables filled.

Postgres plans each query from per-table statistics that autovacuum refreshes only after a
threshold of changes, some time later. Right after a bulk load (the demo seeding, an import)
they still describe the empty tables, and the planner picks plans made for a handful of rows:
a nested loop over ten thousand members turned a 20 ms member list into 2.9 s. So whoever
writes rows in bulk calls :func:`analyze_tables` on the tables it filled, once, at the end.

SQLite needs nothing: its planner works without statistics unless ``ANALYZE`` was ever run on
the file, and the embedded data is small.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from fitdata_adapters.db.errors import translate_errors

__all__ = ["analyze_tables"]


def analyze_statement(
    dialect: sa.Dialect, tables: Iterable[sa.Table], *, vacuum: bool = False
) -> str | None:
    """``ANALYZE t1, t2, ...`` (or ``VACUUM (ANALYZE) ...``) for ``dialect``, identifiers
    quoted, or ``None`` when the dialect needs no statistics refresh or no table is named."""
    if dialect.name != "postgresql":
        return None
    quote = dialect.identifier_preparer.format_table
    names = sorted({quote(table) for table in tables})
    if not names:
        return None
    return f"{'VACUUM (ANALYZE)' if vacuum else 'ANALYZE'} {', '.join(names)}"


async def analyze_tables(
    bind: AsyncEngine | AsyncConnection, tables: Iterable[sa.Table], *, vacuum: bool = False
) -> None:
    """Refresh the planner statistics of ``tables`` on Postgres; nothing on other databases.

    With an engine it runs in a transaction of its own; with a connection, in that
    connection's current transaction (Postgres allows ``ANALYZE`` there, and it counts the
    rows the transaction itself wrote). It samples a bounded number of rows per table, so it
    takes a fraction of a second even on large tables.

    ``vacuum=True`` (an engine only: ``VACUUM`` cannot run in a transaction) also marks the
    new rows' pages all-visible, so index-only scans need not visit the table until
    autovacuum would have come by; it reads each table once. ``DatabaseUnavailable`` when the
    database cannot be reached.
    """
    statement = analyze_statement(bind.dialect, tables, vacuum=vacuum)
    if statement is None:
        return
    if vacuum and not isinstance(bind, AsyncEngine):
        raise TypeError("VACUUM cannot run inside a transaction: pass the engine")
    with translate_errors():
        if isinstance(bind, AsyncConnection):
            await bind.exec_driver_sql(statement)
        elif vacuum:
            async with bind.connect() as conn:
                autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
                await autocommit.exec_driver_sql(statement)
        else:
            async with bind.begin() as conn:
                await conn.exec_driver_sql(statement)

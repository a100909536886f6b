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


def analyze_statement(dialect: sa.Dialect, tables: Iterable[sa.Table]) -> str | None:
    """``ANALYZE t1, t2, ...`` for ``dialect`` (identifiers quoted), or ``None`` when the
    dialect needs no statistics refresh or no table is named."""
    if dialect.name != "postgresql":
        return None
    quote = dialect.identifier_preparer.format_table
    names = sorted({quote(table) for table in tables})
    return f"ANALYZE {', '.join(names)}" if names else None


async def analyze_tables(bind: AsyncEngine | AsyncConnection, tables: Iterable[sa.Table]) -> None:
    """Refresh the planner statistics of ``tables`` on Postgres; nothing on other databases.

    With an engine it runs in a transaction of its own; with a connection, in that
    connection's current transaction (Postgres allows ``ANALYZE`` there, and it counts the
    rows the transaction itself wrote). It samples a bounded number of rows per table, so it
    takes a fraction of a second even on large tables. ``DatabaseUnavailable`` when the
    database cannot be reached.
    """
    statement = analyze_statement(bind.dialect, tables)
    if statement is None:
        return
    with translate_errors():
        if isinstance(bind, AsyncEngine):
            async with bind.begin() as conn:
                await conn.exec_driver_sql(statement)
        else:
            await bind.exec_driver_sql(statement)

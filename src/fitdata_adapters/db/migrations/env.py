"""Alembic environment for fitdata's schema.

At runtime migrations are applied by :func:`fitdata_adapters.db.migrate.upgrade`, which hands
this script an open connection (``config.attributes["connection"]``). For development
(``alembic revision --autogenerate``) a URL may be given instead with ``-x url=...`` or the
``FITDATA_DATABASE_URL`` environment variable.
"""

from __future__ import annotations

import os
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy.engine import Connection

from fitdata_adapters.db.engine import create_sync_engine
from fitdata_adapters.db.tables import schema_metadata
from fitdata_adapters.db.types import UtcDateTime


def _render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    # Keep migrations free of application types: a UTC timestamp is a plain timestamptz.
    if type_ == "type" and isinstance(obj, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        # On Postgres the workouts' read model too (its tables exist there only).
        target_metadata=schema_metadata(connection.dialect.name),
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


def _main() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or os.environ.get(
        "FITDATA_DATABASE_URL"
    )
    if not url:
        raise RuntimeError("Give a database URL: alembic -x url=... or FITDATA_DATABASE_URL.")
    engine = create_sync_engine(url, foreign_keys=False)
    try:
        with engine.connect() as conn:
            _run(conn)
    finally:
        engine.dispose()


_main()

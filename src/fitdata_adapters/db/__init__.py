"""Persistence on Postgres or SQLite: tables, migrations, engine, unit of work, repositories.

Typical start-up::

    from fitdata_adapters.db import create_engine, SqlUnitOfWorkFactory, upgrade

    upgrade(settings.database_url)          # sync; safe to call from every process
    engine = create_engine(settings.database_url)
    uow_factory = SqlUnitOfWorkFactory(engine)

The names are loaded on first use (PEP 562): importing any ``fitdata_adapters.db`` module
runs this file, and loading the migration machinery (Alembic, Mako) here cost every process
about a second at start even when the schema was already current (issue 12).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fitdata_adapters.db.engine import create_engine, normalize_url, sync_url
    from fitdata_adapters.db.migrate import current_revision, head_revision, upgrade
    from fitdata_adapters.db.tables import metadata
    from fitdata_adapters.db.uow import SqlUnitOfWork, SqlUnitOfWorkFactory

__all__ = [
    "SqlUnitOfWork",
    "SqlUnitOfWorkFactory",
    "create_engine",
    "current_revision",
    "head_revision",
    "metadata",
    "normalize_url",
    "sync_url",
    "upgrade",
]

# Each public name and the module that defines it.
_HOMES = {
    "create_engine": "engine",
    "normalize_url": "engine",
    "sync_url": "engine",
    "current_revision": "migrate",
    "head_revision": "migrate",
    "upgrade": "migrate",
    "metadata": "tables",
    "SqlUnitOfWork": "uow",
    "SqlUnitOfWorkFactory": "uow",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value  # found once; later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)

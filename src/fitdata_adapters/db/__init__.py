"""Persistence on Postgres or SQLite: tables, migrations, engine, unit of work, repositories.

Typical start-up::

    from fitdata_adapters.db import create_engine, SqlUnitOfWorkFactory, upgrade

    upgrade(settings.database_url)          # sync; safe to call from every process
    engine = create_engine(settings.database_url)
    uow_factory = SqlUnitOfWorkFactory(engine)
"""

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

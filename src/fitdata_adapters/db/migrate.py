"""Apply and inspect the schema migrations programmatically (no ``alembic.ini`` needed).

The migrations live inside the package (``fitdata_adapters/db/migrations``) so an installed
wheel can migrate its own database at start-up. :func:`upgrade` is safe to call from several
processes at once: on Postgres it holds an advisory lock for the duration, on SQLite the
migration runs in one ``BEGIN IMMEDIATE`` transaction.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from fitdata_adapters.db.engine import create_sync_engine
from fitdata_adapters.db.errors import database_unavailable
from fitdata_adapters.db.tables import schema_metadata
from fitdata_core.errors import ConfigurationError

MIGRATIONS_DIR = Path(__file__).with_name("migrations")

# Arbitrary but fixed: every fitdata process that migrates takes this advisory lock.
_PG_MIGRATION_LOCK = 0x66_69_74_64_61_74_61  # "fitdata"


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config pointing at the packaged migrations, optionally bound to a connection."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision the code ships."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "the packaged migrations have no head"
    return head


def upgrade(database_url: str, revision: str = "head") -> None:
    """Migrate the database at ``database_url`` up to ``revision`` (default: the newest).

    Idempotent; concurrent callers serialise. Raises ``DatabaseUnavailable`` when the
    database cannot be reached, and ``ConfigurationError`` when a newer release migrated it
    past what this one ships.
    """
    # Foreign keys off on SQLite: batch migrations rebuild tables that others reference.
    engine = create_sync_engine(database_url, foreign_keys=False)
    try:
        with database_unavailable(), engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_PG_MIGRATION_LOCK)))
            config = alembic_config(conn)
            _refuse_unknown_revisions(conn, ScriptDirectory.from_config(config))
            command.upgrade(config, revision)
    finally:
        engine.dispose()


def _refuse_unknown_revisions(conn: Connection, script: ScriptDirectory) -> None:
    """A clear error, instead of Alembic's traceback, for a database at a revision this
    release does not ship: a newer release migrated it (typically an upgrade rolled back
    without its database). Going on could only fail, or run old code on a newer schema."""
    known = {rev.revision for rev in script.walk_revisions()}
    unknown = sorted(set(MigrationContext.configure(conn).get_current_heads()) - known)
    if unknown:
        raise ConfigurationError(
            f"The database is at schema revision {', '.join(unknown)}, which this release of "
            f"fitdata does not know (it ships up to {script.get_current_head()}): a newer "
            "release migrated it. Run that release (or newer), or restore the backup taken "
            "before the upgrade."
        )


def current_revision(database_url: str) -> str | None:
    """The revision the database is at, or ``None`` if it was never migrated."""
    engine = create_sync_engine(database_url)
    try:
        with database_unavailable(), engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def schema_differences(database_url: str) -> list[Any]:
    """What differs between the database and :mod:`fitdata_adapters.db.tables` (on Postgres,
    its Postgres-only tables included).

    Empty when the migrations and the table definitions agree (``alembic check``).
    """
    engine = create_sync_engine(database_url)
    try:
        with database_unavailable(), engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(context, schema_metadata(conn.dialect.name)))
    finally:
        engine.dispose()

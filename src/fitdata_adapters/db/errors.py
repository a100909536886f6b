"""Translate database exceptions into fitdata's error tree.

An ``IntegrityError`` becomes :class:`~fitdata_core.errors.Conflict` with a message naming
what clashed (never the SQL or the values); connection and operational failures become
:class:`~fitdata_core.errors.DatabaseUnavailable`, which callers may retry.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from fitdata_adapters.db.tables import metadata
from fitdata_core.errors import DATABASE_CONTENTION, Conflict, DatabaseUnavailable

_MESSAGES: dict[str, str] = {
    "uq_users_email": "A user with this email already exists.",
    "uq_memberships_organization_id_user_id": "The user is already a member of this organization.",
    "uq_plans_organization_id_name": "A plan with this name already exists.",
    "uq_import_jobs_active_organization": "Active import already exists",
    "uq_platform_subscriptions_organization_id": "The organization already has a subscription.",
    "uq_platform_billing_transactions_low_profile_id": (
        "A transaction with this LowProfile id already exists."
    ),
    "uq_platform_billing_transactions_external_uniq_id": (
        "A transaction with this external id already exists."
    ),
}

_FOREIGN_KEY_MESSAGE = "The change refers to a record that does not exist."
# Postgres rolled the transaction back to break a deadlock, or a serialization conflict.
_CONTENTION_STATES = frozenset({"40P01", "40001"})


def _unique_keys() -> dict[tuple[str, frozenset[str]], str]:
    """(table, columns) -> constraint name, to recognise SQLite's column-list messages."""
    keys: dict[tuple[str, frozenset[str]], str] = {}
    for table in metadata.tables.values():
        for constraint in table.constraints:
            if isinstance(constraint, sa.UniqueConstraint | sa.PrimaryKeyConstraint):
                columns = frozenset(c.name for c in constraint.columns)
                keys[(table.name, columns)] = str(constraint.name)
    return keys


_UNIQUE_KEYS = _unique_keys()
_SQLITE_UNIQUE = re.compile(r"UNIQUE constraint failed: (?P<cols>[\w., ]+)")


def _constraint_name(exc: sa_exc.IntegrityError) -> str | None:
    diag = getattr(exc.orig, "diag", None)  # psycopg names the constraint
    if diag is not None and getattr(diag, "constraint_name", None):
        return str(diag.constraint_name)
    match = _SQLITE_UNIQUE.search(str(exc.orig))
    if match is None:
        return None
    qualified = [part.strip() for part in match.group("cols").split(",")]
    table = qualified[0].split(".")[0]
    columns = frozenset(part.split(".", 1)[-1] for part in qualified)
    return _UNIQUE_KEYS.get((table, columns))


def conflict_message(exc: sa_exc.IntegrityError) -> str:
    """A safe, human message for an integrity violation."""
    name = _constraint_name(exc)
    if name is not None:
        if name in _MESSAGES:
            return _MESSAGES[name]
        if name.startswith("pk_"):
            return f"A {name.removeprefix('pk_')} record with this id already exists."
        if name.startswith("fk_"):
            return _FOREIGN_KEY_MESSAGE
    if "FOREIGN KEY" in str(exc.orig).upper():
        return _FOREIGN_KEY_MESSAGE
    return "The change conflicts with existing data."


@contextmanager
def database_unavailable() -> Iterator[None]:
    """Turn connection and operational failures into ``DatabaseUnavailable``."""
    try:
        yield
    except (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError) as exc:
        if getattr(getattr(exc, "orig", None), "sqlstate", None) in _CONTENTION_STATES:
            raise DatabaseUnavailable(
                "Concurrent requests collided in the database; try again.",
                code=DATABASE_CONTENTION,
            ) from exc
        raise DatabaseUnavailable("The database is unavailable; try again later.") from exc


@contextmanager
def translate_errors() -> Iterator[None]:
    """Translate every database exception a repository call may raise into a core error."""
    try:
        with database_unavailable():
            yield
    except sa_exc.IntegrityError as exc:
        raise Conflict(conflict_message(exc)) from exc
    except sa_exc.DBAPIError as exc:
        if exc.connection_invalidated:
            raise DatabaseUnavailable("The database connection was lost.") from exc
        raise

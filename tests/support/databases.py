"""Throwaway databases on a provisioned Postgres server, and clean-state helpers."""

from __future__ import annotations

import secrets
import sqlite3
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from fitdata_adapters.db.tables import metadata


def unique_database_name(prefix: str = "fitdata_test") -> str:
    """A database name no parallel run will pick (random suffix)."""
    return f"{prefix}_{secrets.token_hex(6)}"


def database_url(server_url: str, name: str) -> str:
    """``server_url`` pointing at database ``name`` instead."""
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def _admin(server_url: str) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(server_url, autocommit=True, connect_timeout=10)


def create_database(server_url: str, name: str) -> str:
    """Create database ``name`` on the server and return its URL."""
    with _admin(server_url) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return database_url(server_url, name)


def drop_database(server_url: str, name: str) -> None:
    """Drop database ``name``, disconnecting whoever is still in it."""
    with _admin(server_url) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def truncate_all_postgres(url: str) -> None:
    """Empty every application table (the schema and Alembic's version row stay).

    ``DELETE`` children-first rather than ``TRUNCATE``: on the few rows a test leaves behind it
    takes milliseconds, where ``TRUNCATE`` of twenty tables takes most of a second.
    """
    with psycopg.connect(url, connect_timeout=10) as conn, conn.transaction():
        for table in reversed(metadata.sorted_tables):
            conn.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(table.name)))


def settle_sqlite_file(path: Path) -> None:
    """Fold the WAL back into the main file so the file alone can be copied as a template."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA journal_mode = DELETE")
    finally:
        conn.close()

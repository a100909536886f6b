"""Readying the data directory and the local locations configured under it, at start.

Every process (``serve``, ``worker``, each CLI command, :func:`~fitdata_adapters.bootstrap.
bootstrap`) calls :func:`prepare_locations` first. It

- creates ``FITDATA_DATA_DIR`` when it does not exist yet (a fresh install), private (0700);
- tightens an existing one made before modes were set (folders 0700, files 0600);
- readies the SQLite database file of a ``sqlite:///`` ``FITDATA_DATABASE_URL`` (its folder,
  and the file itself created 0600 so SQLite gives its ``-wal`` and ``-shm`` files that mode);
- and, when a location cannot be used (a file in the way, no permission), raises
  :class:`~fitdata_core.errors.ConfigurationError` naming the setting and the path, instead of
  letting the first database connection fail with "the database is unavailable".
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from fitdata_adapters.private_fs import make_private_dir, tighten_tree, touch_private, unusable
from fitdata_adapters.settings import Settings
from fitdata_core.errors import ConfigurationError

__all__ = ["prepare_locations", "sqlite_path"]

_SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def sqlite_path(database_url: str) -> Path | None:
    """The database file of a ``sqlite:///path`` URL; None for Postgres or in-memory SQLite."""
    try:
        url = make_url(database_url)
    except ArgumentError:
        return None
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database).resolve()


def prepare_locations(settings: Settings) -> None:
    """Create or tighten the data directory and the SQLite file; ConfigurationError naming
    the setting and path when one cannot be used."""
    _prepare_data_dir(settings.data_dir)
    database = sqlite_path(settings.database_url)
    if database is not None:
        _prepare_sqlite(database)


def _prepare_data_dir(path: Path) -> None:
    try:
        make_private_dir(path)
        tighten_tree(path)
    except OSError as exc:
        raise ConfigurationError(unusable("DATA_DIR", path, exc)) from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise ConfigurationError(unusable("DATA_DIR", path, why="not writable"))


def _prepare_sqlite(database: Path) -> None:
    folder = database.parent
    try:
        # A folder of its own is created private; an existing one outside the data
        # directory is the operator's to set up (it may be shared on purpose).
        make_private_dir(folder, tighten_existing=False)
    except OSError as exc:
        raise ConfigurationError(unusable("DATABASE_URL", folder, exc)) from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigurationError(unusable("DATABASE_URL", folder, why="not writable"))
    if database.is_dir():
        raise ConfigurationError(
            unusable("DATABASE_URL", database, why="a folder is in the way of the file")
        )
    try:
        # SQLite gives its -wal and -shm files the database file's mode.
        touch_private(database)
        for suffix in _SQLITE_SIDE_FILES:
            side = database.with_name(database.name + suffix)
            if side.exists():
                touch_private(side)
    except OSError as exc:
        raise ConfigurationError(unusable("DATABASE_URL", database, exc)) from None

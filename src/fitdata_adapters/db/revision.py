"""A cheap "is the schema current?" for start-up, without loading the migration machinery.

``fitdata serve`` used to run Alembic's ``upgrade head`` on every start: importing Alembic
and Mako, reading every migration script through Alembic's script directory and taking the
migration lock cost about a second of a two-second start budget, only to find nothing to do
(issue 12). Here the newest revision is read straight from the migration files (each declares
``revision`` and ``down_revision`` as plain literals, which is how Alembic writes them) and
compared with the database's ``alembic_version``: one indexed-free single-row SELECT. Only
when they differ, or anything is unusual (no version table yet, several heads, a file this
parser cannot read), does :func:`upgrade_if_needed` hand over to
:func:`fitdata_adapters.db.migrate.upgrade`, which is the one that migrates and reports errors.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import sqlalchemy as sa

from fitdata_adapters.db.engine import create_sync_engine

__all__ = ["VERSIONS_DIR", "database_revisions", "packaged_heads", "upgrade_if_needed"]

VERSIONS_DIR = Path(__file__).with_name("migrations") / "versions"

# ``revision: str = "0004"`` and ``down_revision: str | None = "0003"`` at the start of a line.
_ASSIGNMENT = re.compile(
    r"^(?P<name>revision|down_revision)\s*(?::[^=\n]*)?=\s*(?P<value>.+?)\s*$", re.MULTILINE
)


def _declared(path: Path) -> tuple[str, tuple[str, ...]] | None:
    """``(revision, down revisions)`` a migration file declares; ``None`` if unreadable."""
    found: dict[str, object] = {}
    for match in _ASSIGNMENT.finditer(path.read_text(encoding="utf-8")):
        try:
            found.setdefault(match["name"], ast.literal_eval(match["value"]))
        except (ValueError, SyntaxError):
            return None
    revision, down = found.get("revision"), found.get("down_revision")
    if not isinstance(revision, str):
        return None
    if down is None:
        return revision, ()
    if isinstance(down, str):
        return revision, (down,)
    if isinstance(down, tuple) and all(isinstance(d, str) for d in down):
        return revision, down
    return None


def packaged_heads() -> frozenset[str] | None:
    """The revisions no migration file builds on (normally exactly one, the newest), or
    ``None`` when some file could not be read this way (then only Alembic can say)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in sorted(VERSIONS_DIR.glob("*.py")):
        if path.name == "__init__.py":
            continue
        declared = _declared(path)
        if declared is None:
            return None
        revisions.add(declared[0])
        parents.update(declared[1])
    return frozenset(revisions - parents)


def database_revisions(database_url: str) -> frozenset[str] | None:
    """The revisions in the database's ``alembic_version`` table, or ``None`` when it cannot
    be read (no such table yet, or the database does not answer: the caller then runs the
    real migration, which creates it or reports the database as unavailable)."""
    engine = create_sync_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT version_num FROM alembic_version")).all()
    except sa.exc.SQLAlchemyError:
        return None
    finally:
        engine.dispose()
    return frozenset(str(row[0]) for row in rows)


def upgrade_if_needed(database_url: str) -> str:
    """Bring the schema up to date, skipping the migration machinery when the database is
    already at the packaged head; the head revision.

    Safe beside other processes: when two start together and both see an old revision, both
    call :func:`~fitdata_adapters.db.migrate.upgrade`, which serialises them.
    """
    heads = packaged_heads()
    if heads is not None and len(heads) == 1 and database_revisions(database_url) == heads:
        return next(iter(heads))
    from fitdata_adapters.db.migrate import head_revision, upgrade

    upgrade(database_url)
    return head_revision()

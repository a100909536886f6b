"""The cheap start-up schema check (``fitdata serve``): the head read from the migration
files agrees with Alembic, a current database is recognised without loading Alembic, and a
missing or older schema still gets migrated."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import sqlalchemy as sa

from fitdata_adapters.db import migrate, revision
from fitdata_adapters.db.engine import create_sync_engine
from fitdata_core.errors import ConfigurationError

pytestmark = pytest.mark.integration


def test_the_head_read_from_the_files_is_alembics() -> None:
    assert revision.packaged_heads() == {migrate.head_revision()}


def test_an_unmigrated_database_is_migrated(empty_db_url: str) -> None:
    assert revision.database_revisions(empty_db_url) is None  # no version table yet
    assert revision.upgrade_if_needed(empty_db_url) == migrate.head_revision()
    assert migrate.current_revision(empty_db_url) == migrate.head_revision()
    assert migrate.schema_differences(empty_db_url) == []


def test_an_older_schema_is_brought_up_to_date(empty_db_url: str) -> None:
    migrate.upgrade(empty_db_url, "0002")
    assert revision.database_revisions(empty_db_url) == {"0002"}
    revision.upgrade_if_needed(empty_db_url)
    assert revision.database_revisions(empty_db_url) == {migrate.head_revision()}
    assert migrate.schema_differences(empty_db_url) == []


def test_a_current_database_is_recognised_without_loading_alembic(
    migrated_db_url: str,
) -> None:
    # A fresh interpreter, so nothing this test session imported counts.
    script = textwrap.dedent(
        f"""
        import sys
        from fitdata_adapters.db.revision import upgrade_if_needed
        print(upgrade_if_needed({migrated_db_url!r}))
        print(sorted(m for m in sys.modules if m.split(".")[0] in ("alembic", "mako")))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    head, loaded = result.stdout.splitlines()
    assert head == migrate.head_revision()
    assert loaded == "[]"


def test_a_file_it_cannot_read_hands_over_to_alembic(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    versions = tmp_path / "versions"
    versions.mkdir()
    (versions / "0001_a.py").write_text('revision = "0001"\ndown_revision = None\n')
    (versions / "0002_b.py").write_text('revision: str = "0002"\ndown_revision = "0001"\n')
    monkeypatch.setattr(revision, "VERSIONS_DIR", versions)
    assert revision.packaged_heads() == {"0002"}

    (versions / "0003_c.py").write_text('revision = make_id()\ndown_revision = "0002"\n')
    assert revision.packaged_heads() is None

    (versions / "0003_c.py").write_text('revision = "0003"\ndown_revision = ("0001", "0002")\n')
    assert revision.packaged_heads() == {"0003"}


def test_a_database_that_moved_past_the_code_is_refused_clearly(empty_db_url: str) -> None:
    # A newer release migrated it: the cheap check must not claim "current", and the upgrade
    # refuses the unknown revision with a message that says what happened and what to do.
    migrate.upgrade(empty_db_url)
    engine = create_sync_engine(empty_db_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    finally:
        engine.dispose()
    with pytest.raises(ConfigurationError) as refused:
        revision.upgrade_if_needed(empty_db_url)
    assert refused.value.message == (
        "The database is at schema revision 9999, which this release of fitdata does not "
        f"know (it ships up to {migrate.head_revision()}): a newer release migrated it. Run "
        "that release (or newer), or restore the backup taken before the upgrade."
    )
    assert migrate.current_revision(empty_db_url) == "9999"  # left as it was

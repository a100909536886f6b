"""An import job's staged rows and undo log lose their foreign key to ``import_jobs``; a
trigger deletes them with their job instead.

A foreign key is checked row by row: every staged row of a ``COPY`` and every undo-log row of
an ``INSERT … SELECT`` ran a lookup of its job, with a share lock on the job's row. On a
100,000-row CSV import that was 200,000 lookups of the same job: a ``COPY`` of 10,000 staged
rows took about 120 ms with the key against 50 ms without it, the largest single cost
Postgres had in an identical re-import. The key protected nothing the engine does not already
guarantee: both kinds of rows are written only by a worker holding the job's lease, in a
transaction that locks the job's row before it commits (a job gone meanwhile rolls its rows
back with it).

What the key's ``ON DELETE CASCADE`` did, the trigger ``import_jobs_delete_rows`` does: a
deleted job (on its own, or with its organization) takes its staged rows and undo log with it.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 08:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: The job's rows, each table keyed by ``job_id`` first (its primary key or an index).
TABLES = ("import_staging", "import_changes")
TRIGGER = "import_jobs_delete_rows"

_DELETES = " ".join(
    f"DELETE FROM {table} WHERE job_id = OLD.id;"  # noqa: S608 - table names are constants
    for table in TABLES
)


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(f"fk_{table}_job_id_import_jobs", type_="foreignkey")
    if op.get_context().dialect.name == "postgresql":
        op.execute(
            f"CREATE FUNCTION {TRIGGER}() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN {_DELETES} RETURN OLD; END $$"
        )
        op.execute(
            f"CREATE TRIGGER {TRIGGER} AFTER DELETE ON import_jobs "
            f"FOR EACH ROW EXECUTE FUNCTION {TRIGGER}()"
        )
    else:
        op.execute(
            f"CREATE TRIGGER {TRIGGER} AFTER DELETE ON import_jobs "
            f"FOR EACH ROW BEGIN {_DELETES} END"
        )


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER {TRIGGER} ON import_jobs")
        op.execute(f"DROP FUNCTION {TRIGGER}()")
    else:
        op.execute(f"DROP TRIGGER {TRIGGER}")
    for table in TABLES:
        # Rows of a job that no longer exists could not satisfy the key again.
        op.execute(
            f"DELETE FROM {table} WHERE job_id NOT IN (SELECT id FROM import_jobs)"  # noqa: S608
        )
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_foreign_key(
                f"fk_{table}_job_id_import_jobs",
                "import_jobs",
                ["job_id"],
                ["id"],
                ondelete="CASCADE",
            )

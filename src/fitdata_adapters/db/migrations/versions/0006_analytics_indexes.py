"""Analytics indexes: the workouts summary reads one covering index in group order.

``workouts-summary`` groups a year of an org's workouts by kind and counts distinct members.
Without an index in that order Postgres sorted every row (185k for a 10k-member gym) and the
sort spilled to disk (178 ms). With ``(organization_id, kind, user_id)`` carrying the other
columns it reads the index alone, already grouped: no sort node, nothing on disk. SQLite has
no ``INCLUDE``; it gets the same key columns (so both schemas match ``tables.py``).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 02:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("workouts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_workouts_organization_id_kind_user_id"),
            ["organization_id", "kind", "user_id"],
            unique=False,
            postgresql_include=["performed_at", "duration_minutes", "calories"],
        )


def downgrade() -> None:
    with op.batch_alter_table("workouts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_workouts_organization_id_kind_user_id"))

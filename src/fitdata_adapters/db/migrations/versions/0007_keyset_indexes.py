"""Indexes for keyset paging of the member and export job lists (issue 12).

- ``memberships (user_id, organization_id)`` replaces ``memberships (user_id)``: the member
  list walks the users' email index in order and probes each user's membership of the org;
  with both columns in the index the org test is part of the probe instead of a filter on
  every membership of the user, in whatever org. (Foreign-key lookups by ``user_id`` use its
  first column as before.)
- ``export_jobs (organization_id, created_at, id)`` replaces ``(organization_id,
  created_at)``: it serves "newest first, after this ``(created_at, id)``" as one index
  range, however deep the page.

Revision ID: 0007
Revises: 0004
Create Date: 2026-12-02 02:10:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.create_index(
            "ix_memberships_user_id_organization_id", ["user_id", "organization_id"]
        )
        batch_op.drop_index("ix_memberships_user_id")
    with op.batch_alter_table("export_jobs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_export_jobs_organization_id_created_at_id", ["organization_id", "created_at", "id"]
        )
        batch_op.drop_index("ix_export_jobs_organization_id_created_at")


def downgrade() -> None:
    with op.batch_alter_table("export_jobs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_export_jobs_organization_id_created_at", ["organization_id", "created_at"]
        )
        batch_op.drop_index("ix_export_jobs_organization_id_created_at_id")
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.create_index("ix_memberships_user_id", ["user_id"])
        batch_op.drop_index("ix_memberships_user_id_organization_id")

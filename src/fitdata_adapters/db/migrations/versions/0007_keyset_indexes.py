"""Indexes for keyset paging of the member and export job lists (issue 12).

The member list needs no new index: a cursor page walks ``users (email)`` (unique) from the
cursor and probes ``memberships (organization_id, user_id)`` (unique) for each user, the plan
of the first page; ``EXPLAIN`` on a 10,000-member gym shows the same plan and the same buffers
for the first page and a page after member 9,000 (``bench/member_pages.py``).

- ``export_jobs (organization_id, created_at, id)`` replaces ``(organization_id,
  created_at)``: it serves "newest first, after this ``(created_at, id)``" as one index
  range, however deep the page.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 02:10:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
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

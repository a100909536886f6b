"""Indexes for keyset paging of the lists still paged by offset only: billing transactions,
import jobs and leads.

Each ``(organization_id, created_at)`` index becomes ``(organization_id, created_at, id)``:
it serves "this org's rows in (created_at, id) order, after this key" (newest first for
transactions and import jobs, oldest first for leads) as one index range, however deep the
page. The billing timeline needs no new index: ``billing_events (organization_id, id)``
already serves "this org's events after id N".

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 04:30:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("platform_billing_transactions", "import_jobs", "leads")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(
                f"ix_{table}_organization_id_created_at_id", ["organization_id", "created_at", "id"]
            )
            batch_op.drop_index(f"ix_{table}_organization_id_created_at")


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(
                f"ix_{table}_organization_id_created_at", ["organization_id", "created_at"]
            )
            batch_op.drop_index(f"ix_{table}_organization_id_created_at_id")

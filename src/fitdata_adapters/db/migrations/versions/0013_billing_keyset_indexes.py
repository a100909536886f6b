"""Indexes for keyset paging of the billing lists.

- ``platform_billing_transactions (organization_id, created_at, id)`` replaces
  ``(organization_id, created_at)``: it serves the payment history "newest first, after this
  ``(created_at, id)``" as one index range, however deep the page.
- The billing timeline needs no new index: ``billing_events (organization_id, id)`` already
  serves "this org's events after id N".

Revision ID: 0013
Revises: 0008
Create Date: 2026-12-02 04:30:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("platform_billing_transactions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_platform_billing_transactions_organization_id_created_at_id",
            ["organization_id", "created_at", "id"],
        )
        batch_op.drop_index("ix_platform_billing_transactions_organization_id_created_at")


def downgrade() -> None:
    with op.batch_alter_table("platform_billing_transactions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_platform_billing_transactions_organization_id_created_at",
            ["organization_id", "created_at"],
        )
        batch_op.drop_index("ix_platform_billing_transactions_organization_id_created_at_id")

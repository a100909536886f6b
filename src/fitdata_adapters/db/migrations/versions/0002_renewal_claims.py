"""Renewal claims: a lease column so concurrent renewal sweepers share the due subscriptions.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 05:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable, no default: existing rows start unclaimed (and Postgres adds it without a
    # table rewrite).
    with op.batch_alter_table("platform_subscriptions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("renewal_claimed_until", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("platform_subscriptions", schema=None) as batch_op:
        batch_op.drop_column("renewal_claimed_until")

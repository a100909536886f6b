"""Token revocation and export re-dispatch (issue 7, items 5 and 11).

- ``users.tokens_valid_after``: bearer tokens issued before this instant are refused
  (``fitdata token revoke``). Null: every unexpired token of the user is good.
- ``export_jobs.dispatched_at`` and ``export_jobs.dispatches``: when the job's last queue
  message was written and how many were, so the stale sweep can send a lost one again (a
  bounded number of times) instead of leaving the job pending forever.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 01:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable or with a server default, so existing rows need no rewrite and stay valid.
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("tokens_valid_after", sa.DateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("export_jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("dispatches", sa.Integer(), nullable=False, server_default="1")
        )


def downgrade() -> None:
    with op.batch_alter_table("export_jobs", schema=None) as batch_op:
        batch_op.drop_column("dispatches")
        batch_op.drop_column("dispatched_at")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("tokens_valid_after")

"""Dunning schedule: a past-due subscription's next renewal attempt, in sweep ("as of") time.

Back-fills past-due rows from their latest failed renewal, as the old rule measured it (20
hours after it was recorded), so an upgrade neither retries early nor forgets a subscription.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 01:30:00.000000
"""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The spacing at the time of this migration (fitdata_core.model.billing.RETRY_SPACING); a
# migration keeps its own copy so later changes to the rule do not rewrite history.
_RETRY_SPACING = timedelta(hours=20)


def _aware(value: object) -> datetime:
    # SQLite hands back naive UTC (or text); Postgres an aware timestamp.
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _stored(value: datetime, dialect: str) -> datetime:
    # Stored as the column type does: naive UTC on SQLite, aware on Postgres.
    value = value.astimezone(UTC)
    return value.replace(tzinfo=None) if dialect == "sqlite" else value


def upgrade() -> None:
    # Nullable, no default: only past-due subscriptions have a next attempt.
    with op.batch_alter_table("platform_subscriptions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("next_payment_attempt_at", sa.DateTime(timezone=True), nullable=True)
        )

    subs = sa.table(
        "platform_subscriptions",
        sa.column("id", sa.String),
        sa.column("organization_id", sa.String),
        sa.column("status", sa.String),
        sa.column("next_payment_attempt_at", sa.DateTime(timezone=True)),
    )
    txns = sa.table(
        "platform_billing_transactions",
        sa.column("organization_id", sa.String),
        sa.column("kind", sa.String),
        sa.column("status", sa.String),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    bind = op.get_bind()
    latest_failure = (
        sa.select(txns.c.organization_id, sa.func.max(txns.c.created_at).label("failed_at"))
        .where(txns.c.kind == "renewal", txns.c.status == "failed")
        .group_by(txns.c.organization_id)
        .subquery()
    )
    rows = bind.execute(
        sa.select(subs.c.id, latest_failure.c.failed_at)
        .join(latest_failure, latest_failure.c.organization_id == subs.c.organization_id)
        .where(subs.c.status == "past_due")
    ).all()
    for sub_id, failed_at in rows:
        if failed_at is None:
            continue  # no failure on record: the next sweep tries it, as before
        bind.execute(
            subs.update()
            .where(subs.c.id == sub_id)
            .values(
                next_payment_attempt_at=_stored(
                    _aware(failed_at) + _RETRY_SPACING, bind.dialect.name
                )
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("platform_subscriptions", schema=None) as batch_op:
        batch_op.drop_column("next_payment_attempt_at")

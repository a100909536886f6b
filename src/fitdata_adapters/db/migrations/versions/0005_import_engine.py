"""Import engine: job leases and checkpoints, staging, undo log, membership terms, profile
fields, and the ``inactive`` membership status (a value, no schema change).

Data minimisation: of what Arbox gives per member, the national id (``personal_id``) and
medical notes are deliberately not stored anywhere.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 01:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_ACTIVE = "status IN ('pending', 'in_progress')"


def upgrade() -> None:
    with op.batch_alter_table("import_jobs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("dry_run", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column("enrich", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch_op.add_column(sa.Column("lease_owner", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("checkpoint", _JSON, nullable=False, server_default="{}"))
        batch_op.add_column(
            sa.Column("cancel_requested", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("undone_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("credentials_key_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("credentials_sealed", sa.LargeBinary(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_import_jobs_status_lease_until"), ["status", "lease_until"], unique=False
        )
        batch_op.create_index(
            "uq_import_jobs_active_organization",
            ["organization_id"],
            unique=True,
            postgresql_where=sa.text(_ACTIVE),
            sqlite_where=sa.text(_ACTIVE),
        )
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.add_column(sa.Column("start_date", sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column("end_date", sa.String(length=10), nullable=True))
    with op.batch_alter_table("member_profiles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("zip_code", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("additional_phone", sa.String(length=50), nullable=True))
        batch_op.add_column(
            sa.Column("emergency_contact_name", sa.String(length=200), nullable=True)
        )
        batch_op.add_column(
            sa.Column("emergency_contact_phone", sa.String(length=50), nullable=True)
        )
    op.create_table(
        "import_staging",
        sa.Column("job_id", sa.String(length=64), nullable=False),
        sa.Column("entity", sa.String(length=16), nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("data", _JSON, nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["import_jobs.id"],
            name=op.f("fk_import_staging_job_id_import_jobs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("job_id", "entity", "seq", name=op.f("pk_import_staging")),
    )
    op.create_table(
        "import_changes",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("job_id", sa.String(length=64), nullable=False),
        sa.Column("entity", sa.String(length=16), nullable=False),
        sa.Column("row_key", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=8), nullable=False),
        sa.Column("before_values", _JSON, nullable=True),
        sa.Column("after_values", _JSON, nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["import_jobs.id"],
            name=op.f("fk_import_changes_job_id_import_jobs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_changes")),
    )
    with op.batch_alter_table("import_changes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_import_changes_job_id_id"), ["job_id", "id"], unique=False
        )


def downgrade() -> None:
    op.drop_table("import_changes")
    op.drop_table("import_staging")
    with op.batch_alter_table("member_profiles", schema=None) as batch_op:
        batch_op.drop_column("emergency_contact_phone")
        batch_op.drop_column("emergency_contact_name")
        batch_op.drop_column("additional_phone")
        batch_op.drop_column("zip_code")
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.drop_column("end_date")
        batch_op.drop_column("start_date")
    with op.batch_alter_table("import_jobs", schema=None) as batch_op:
        batch_op.drop_index("uq_import_jobs_active_organization")
        batch_op.drop_index(batch_op.f("ix_import_jobs_status_lease_until"))
        for name in (
            "credentials_sealed",
            "credentials_key_id",
            "undone_at",
            "cancel_requested",
            "checkpoint",
            "lease_until",
            "lease_owner",
            "enrich",
            "dry_run",
        ):
            batch_op.drop_column(name)

"""The relational schema: SQLAlchemy Core tables, one per aggregate plus analytics read models.

Repositories map rows to domain objects explicitly; nothing here knows about the domain
classes. Every schema change here needs an Alembic migration in ``migrations/versions``
(a test compares the migrated database with this module and fails on any difference).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import BIT

from fitdata_adapters.db.types import AutoId, Json, UtcDateTime

# Stable constraint names, so migrations can refer to them and error translation can map a
# violated constraint to a message.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)

ID = sa.String(64)
_CASCADE = "CASCADE"


def _id(name: str = "id") -> sa.Column[str]:
    return sa.Column(name, ID, primary_key=True)


def _org_fk(name: str = "organization_id") -> sa.Column[str]:
    return sa.Column(name, ID, sa.ForeignKey("organizations.id", ondelete=_CASCADE), nullable=False)


def _user_fk(name: str = "user_id", *, nullable: bool = False) -> sa.Column[str]:
    return sa.Column(name, ID, sa.ForeignKey("users.id", ondelete=_CASCADE), nullable=nullable)


def _created_at() -> sa.Column[object]:
    return sa.Column("created_at", UtcDateTime(), nullable=False)


# --- organizations and people --------------------------------------------------------------

organizations = sa.Table(
    "organizations",
    metadata,
    _id(),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("platform_tier", sa.String(16), nullable=False),
    _created_at(),
)

users = sa.Table(
    "users",
    metadata,
    _id(),
    # Stored normalised (trimmed, lower-case): uniqueness is case-insensitive.
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("first_name", sa.String(200)),
    sa.Column("last_name", sa.String(200)),
    sa.Column("phone", sa.String(50)),
    sa.Column("is_platform_admin", sa.Boolean(), nullable=False),
    _created_at(),
    # Bearer tokens issued before this instant are refused (``fitdata token revoke``).
    sa.Column("tokens_valid_after", UtcDateTime()),
    sa.UniqueConstraint("email"),
)

plans = sa.Table(
    "plans",
    metadata,
    _id(),
    _org_fk(),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("price_amount", sa.Numeric(12, 2), nullable=False),
    sa.Column("price_currency", sa.String(3), nullable=False),
    sa.Column("session_count", sa.Integer()),
    sa.Column("validity_days", sa.Integer()),
    sa.Column("is_active", sa.Boolean(), nullable=False),
    sa.Column("external_id", sa.String(200)),
    _created_at(),
    sa.UniqueConstraint("organization_id", "name"),
)

memberships = sa.Table(
    "memberships",
    metadata,
    _id(),
    _org_fk(),
    _user_fk(),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("plan_id", ID, sa.ForeignKey("plans.id", ondelete="SET NULL")),
    _created_at(),
    # The membership's term as the source gave it (ISO dates, like profile birth dates).
    sa.Column("start_date", sa.String(10)),
    sa.Column("end_date", sa.String(10)),
    sa.UniqueConstraint("organization_id", "user_id"),
    sa.Index(None, "organization_id", "role", "status"),
    sa.Index(None, "user_id"),
)

member_profiles = sa.Table(
    "member_profiles",
    metadata,
    sa.Column(
        "organization_id",
        ID,
        sa.ForeignKey("organizations.id", ondelete=_CASCADE),
        primary_key=True,
    ),
    sa.Column("user_id", ID, sa.ForeignKey("users.id", ondelete=_CASCADE), primary_key=True),
    sa.Column("birth_date", sa.String(10)),
    sa.Column("gender", sa.String(32)),
    sa.Column("address", sa.String(500)),
    sa.Column("city", sa.String(200)),
    sa.Column("notes", sa.Text()),
    sa.Column("external_source", sa.String(50)),
    sa.Column("external_id", sa.String(200)),
    sa.Column("updated_at", UtcDateTime()),
    # Filled by imports (Arbox enrichment, CSV). Data minimisation: an imported national id
    # (Arbox personal_id) or medical notes are never stored.
    sa.Column("zip_code", sa.String(20)),
    sa.Column("additional_phone", sa.String(50)),
    sa.Column("emergency_contact_name", sa.String(200)),
    sa.Column("emergency_contact_phone", sa.String(50)),
)

# --- catalog -------------------------------------------------------------------------------

locations = sa.Table(
    "locations",
    metadata,
    _id(),
    _org_fk(),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("address", sa.String(500)),
    _created_at(),
    sa.Index(None, "organization_id", "created_at"),
)

courses = sa.Table(
    "courses",
    metadata,
    _id(),
    _org_fk(),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("description", sa.Text()),
    _created_at(),
    sa.Index(None, "organization_id", "created_at"),
)

leads = sa.Table(
    "leads",
    metadata,
    _id(),
    _org_fk(),
    sa.Column("first_name", sa.String(200)),
    sa.Column("last_name", sa.String(200)),
    sa.Column("email", sa.String(320)),
    # Normalised copy of ``email`` for case-insensitive lookups by index.
    sa.Column("email_normalized", sa.String(320)),
    sa.Column("phone", sa.String(50)),
    sa.Column("source", sa.String(100)),
    sa.Column("status", sa.String(50), nullable=False),
    sa.Column("external_id", sa.String(200)),
    _created_at(),
    sa.Index(None, "organization_id", "email_normalized"),
    # Oldest first after a (created_at, id) key: one range however deep the page (keyset).
    sa.Index(None, "organization_id", "created_at", "id"),
)

# --- exports and imports -------------------------------------------------------------------

export_jobs = sa.Table(
    "export_jobs",
    metadata,
    _id(),
    _org_fk(),
    sa.Column("kind", sa.String(50), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("config", Json, nullable=False),
    sa.Column("started_by", ID, nullable=False),
    _created_at(),
    sa.Column("started_at", UtcDateTime()),
    sa.Column("completed_at", UtcDateTime()),
    sa.Column("row_count", sa.Integer()),
    sa.Column("file_size", sa.BigInteger()),
    sa.Column("file_key", sa.String(500)),
    sa.Column("error_message", sa.Text()),
    # When the last queue message for a pending job was written, and how many were: the
    # stale sweep sends a lost one again, a bounded number of times.
    sa.Column("dispatched_at", UtcDateTime()),
    sa.Column("dispatches", sa.Integer(), nullable=False, server_default="1"),
    # Newest first after a (created_at, id) key: one range however deep the page (keyset).
    sa.Index(None, "organization_id", "created_at", "id"),
)

import_jobs = sa.Table(
    "import_jobs",
    metadata,
    _id(),
    _org_fk(),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("phase", sa.String(16), nullable=False),
    sa.Column("config", Json, nullable=False),
    sa.Column("results", Json, nullable=False),
    sa.Column("started_by", ID, nullable=False),
    _created_at(),
    sa.Column("started_at", UtcDateTime()),
    sa.Column("completed_at", UtcDateTime()),
    sa.Column("error_message", sa.Text()),
    # The engine's durability: who works on the job until when, and what it finished.
    sa.Column("dry_run", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("enrich", sa.Boolean(), nullable=False, server_default=sa.true()),
    sa.Column("lease_owner", sa.String(64)),
    sa.Column("lease_until", UtcDateTime()),
    sa.Column("checkpoint", Json, nullable=False, server_default="{}"),
    sa.Column("cancel_requested", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("undone_at", UtcDateTime()),
    # One-off credentials of the request, sealed for the job's worker; erased at the end.
    sa.Column("credentials_key_id", sa.String(64)),
    sa.Column("credentials_sealed", sa.LargeBinary()),
    # Newest first after a (created_at, id) key: one range however deep the page (keyset).
    sa.Index(None, "organization_id", "created_at", "id"),
    sa.Index(None, "organization_id", "status"),
    sa.Index(None, "status", "lease_until"),
    # At most one active import per organization, even under concurrent requests.
    sa.Index(
        "uq_import_jobs_active_organization",
        "organization_id",
        unique=True,
        postgresql_where=sa.text("status IN ('pending', 'in_progress')"),
        sqlite_where=sa.text("status IN ('pending', 'in_progress')"),
    ),
)

# Source rows of an import, checked and normalised, waiting for their batch: keyed by
# (job, entity, seq) so a batch is a seq range, and a CSV file can be bulk-loaded (COPY).
# The fields of a staged member record (MemberRecord.to_dict()), each a column m_<name>.
STAGED_MEMBER_FIELDS = (
    "external_id",
    "email",
    "first_name",
    "last_name",
    "phone",
    "status",
    "birth_date",
    "gender",
    "plan_name",
    "start_date",
    "end_date",
)

import_staging = sa.Table(
    "import_staging",
    metadata,
    # No foreign key to ``import_jobs``: checked row by row, it cost more than the COPY of the
    # rows itself. A trigger deletes a job's rows with the job (migration 0011).
    sa.Column("job_id", ID, primary_key=True),
    sa.Column("entity", sa.String(16), primary_key=True),
    sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=False),
    # A staged row of any shape; empty for a member record, which is kept in the typed
    # ``m_<field>`` columns below (loaded by COPY and read by the set-based apply as is).
    sa.Column("data", Json),
    *(sa.Column(f"m_{name}", sa.Text()) for name in STAGED_MEMBER_FIELDS),
)

# What each import created or changed (tracked fields before and after), for undo.
import_changes = sa.Table(
    "import_changes",
    metadata,
    sa.Column("id", AutoId, primary_key=True, autoincrement=True),
    # Deleted with its job by a trigger, like ``import_staging`` (migration 0011).
    sa.Column("job_id", ID, nullable=False),
    sa.Column("entity", sa.String(16), nullable=False),
    sa.Column("row_key", ID, nullable=False),
    sa.Column("action", sa.String(8), nullable=False),
    sa.Column("before_values", Json),
    sa.Column("after_values", Json, nullable=False),
    sa.Index(None, "job_id", "id"),
)

import_provider_configs = sa.Table(
    "import_provider_configs",
    metadata,
    _id(),
    _org_fk(),
    sa.Column("provider", sa.String(32), nullable=False),
    sa.Column("credentials_encrypted", sa.LargeBinary(), nullable=False),
    sa.Column("key_id", sa.String(64), nullable=False),
    sa.Column("is_active", sa.Boolean(), nullable=False),
    sa.Column("created_by", ID),
    _created_at(),
    sa.Index(None, "organization_id", "provider", "is_active"),
)

# --- platform billing ----------------------------------------------------------------------

platform_subscriptions = sa.Table(
    "platform_subscriptions",
    metadata,
    _id(),
    _org_fk(),
    sa.Column("tier", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    _created_at(),
    sa.Column("current_period_start", UtcDateTime()),
    sa.Column("current_period_end", UtcDateTime()),
    sa.Column("cancel_at_period_end", sa.Boolean(), nullable=False),
    sa.Column("failed_payment_count", sa.Integer(), nullable=False),
    sa.Column("cancel_reason", sa.String(50)),
    sa.Column("cancelled_at", UtcDateTime()),
    sa.Column("last_charged_at", UtcDateTime()),
    # The card token is stored sealed; ``card_key_id`` names the key that sealed it.
    sa.Column("card_token_ciphertext", sa.LargeBinary()),
    sa.Column("card_key_id", sa.String(64)),
    sa.Column("card_expiry_mmyy", sa.String(4)),
    sa.Column("card_last4", sa.String(4)),
    # A renewal sweeper's lease on the row (migration 0002): others skip it until then.
    sa.Column("renewal_claimed_until", UtcDateTime()),
    # Dunning: when a past-due subscription's card is next tried, in sweep time (0003).
    sa.Column("next_payment_attempt_at", UtcDateTime()),
    sa.UniqueConstraint("organization_id"),
    sa.Index(None, "current_period_end"),
)

platform_billing_transactions = sa.Table(
    "platform_billing_transactions",
    metadata,
    _id(),
    _org_fk(),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("tier", sa.String(16), nullable=False),
    sa.Column("amount", sa.Numeric(12, 2), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    _created_at(),
    sa.Column("metadata", Json, nullable=False),
    sa.Column("low_profile_id", sa.String(100)),
    sa.Column("external_uniq_id", sa.String(100)),
    sa.Column("provider_transaction_id", sa.String(100)),
    sa.Column("completed_at", UtcDateTime()),
    sa.Column("failure_reason", sa.Text()),
    sa.Column("alerted_at", UtcDateTime()),
    sa.UniqueConstraint("low_profile_id"),
    sa.UniqueConstraint("external_uniq_id"),
    sa.Index(None, "status", "created_at"),
    # Newest first after a (created_at, id) key: one range however deep the page (keyset).
    sa.Index(None, "organization_id", "created_at", "id"),
)

billing_events = sa.Table(
    "billing_events",
    metadata,
    # Auto-increment id: the insertion order is the timeline order.
    sa.Column("id", AutoId, primary_key=True, autoincrement=True),
    _org_fk(),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("aggregate", sa.String(50), nullable=False),
    sa.Column("aggregate_id", ID, nullable=False),
    sa.Column("occurred_at", UtcDateTime(), nullable=False),
    sa.Column("data", Json, nullable=False),
    sa.Index(None, "organization_id", "id"),
)

# --- transactional outbox ------------------------------------------------------------------

outbox = sa.Table(
    "outbox",
    metadata,
    _id(),
    sa.Column("actor", sa.String(100), nullable=False),
    sa.Column("args", Json, nullable=False),
    _created_at(),
    sa.Column("delivered_at", UtcDateTime()),
    sa.Column("lease_until", UtcDateTime()),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Index(None, "delivered_at", "created_at"),
)

# --- idempotency keys -----------------------------------------------------------------------

# One row per organization and Idempotency-Key: the claim of the first request, then its
# answer for retries (fitdata_core.usecases.idempotency). The primary key is what makes two
# concurrent requests with the same key do the work once.
idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    _org_fk(),
    sa.Column("key", sa.String(255), nullable=False),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    _created_at(),
    sa.Column("expires_at", UtcDateTime(), nullable=False),
    sa.Column("status_code", sa.Integer()),
    sa.Column("response", sa.LargeBinary()),
    sa.PrimaryKeyConstraint("organization_id", "key"),
    sa.Index(None, "organization_id", "expires_at"),
)

# --- analytics read models -----------------------------------------------------------------

member_payments = sa.Table(
    "member_payments",
    metadata,
    _id(),
    _org_fk(),
    _user_fk(),
    sa.Column("plan_id", ID, sa.ForeignKey("plans.id", ondelete="SET NULL")),
    sa.Column("amount", sa.Numeric(12, 2), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("paid_at", UtcDateTime(), nullable=False),
    sa.Index(None, "organization_id", "paid_at"),
)

class_sessions = sa.Table(
    "class_sessions",
    metadata,
    _id(),
    _org_fk(),
    sa.Column("name", sa.String(200), nullable=False),
    _user_fk("coach_user_id", nullable=True),
    sa.Column("location_id", ID, sa.ForeignKey("locations.id", ondelete="SET NULL")),
    sa.Column("starts_at", UtcDateTime(), nullable=False),
    sa.Column("duration_minutes", sa.Integer(), nullable=False),
    sa.Column("capacity", sa.Integer()),
    sa.Index(None, "organization_id", "starts_at"),
)

class_bookings = sa.Table(
    "class_bookings",
    metadata,
    _id(),
    sa.Column(
        "session_id", ID, sa.ForeignKey("class_sessions.id", ondelete=_CASCADE), nullable=False
    ),
    _org_fk(),
    _user_fk(),
    # booked / attended / cancelled / no_show
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("booked_at", UtcDateTime(), nullable=False),
    sa.Index(None, "organization_id", "booked_at"),
    sa.Index(None, "session_id"),
)

workouts = sa.Table(
    "workouts",
    metadata,
    _id(),
    _org_fk(),
    _user_fk(),
    sa.Column("performed_at", UtcDateTime(), nullable=False),
    sa.Column("kind", sa.String(50), nullable=False),
    sa.Column("duration_minutes", sa.Integer()),
    sa.Column("calories", sa.Integer()),
    sa.Index(None, "organization_id", "performed_at"),
    # workouts-summary: the org's rows already grouped by kind, read from the index alone
    # (migration 0006).
    sa.Index(
        None,
        "organization_id",
        "kind",
        "user_id",
        postgresql_include=["performed_at", "duration_minutes", "calories"],
    ),
)

# --- Postgres only: the workouts' pre-aggregated read model (migration 0012) -----------------
# Kept in step with ``workouts`` by statement-level triggers, which SQLite lacks; SQLite has
# neither the tables nor the triggers and its analytics read the workouts themselves. So these
# tables live in a metadata of their own: everything that builds or empties "every table"
# from ``metadata`` keeps working on both backends, and :func:`schema_metadata` adds them for
# the schema check on Postgres. Nothing writes them but the triggers.

postgres_only = sa.MetaData(naming_convention=NAMING_CONVENTION)

workout_day_totals = sa.Table(
    "workout_day_totals",
    postgres_only,
    sa.Column("organization_id", ID, primary_key=True),
    sa.Column("day", sa.Date(), primary_key=True),
    sa.Column("kind", sa.String(50), primary_key=True),
    sa.Column("workouts", sa.Integer(), nullable=False),
    sa.Column("minutes", sa.BigInteger(), nullable=False),
    sa.Column("timed", sa.Integer(), nullable=False),
    sa.Column("calories", sa.BigInteger(), nullable=False),
)

workout_member_years = sa.Table(
    "workout_member_years",
    postgres_only,
    sa.Column("organization_id", ID, primary_key=True),
    sa.Column("year", sa.Integer(), primary_key=True),
    sa.Column("kind", sa.String(50), primary_key=True),
    sa.Column("user_id", ID, primary_key=True),
    # Bit i (from the left) set: the member did the kind on day-of-year i + 1, UTC.
    sa.Column("days", BIT(366), nullable=False),
)


def schema_metadata(dialect_name: str) -> sa.MetaData:
    """Every table the migrations build on ``dialect_name``: :data:`metadata`, plus
    :data:`postgres_only` on Postgres."""
    if dialect_name != "postgresql":
        return metadata
    combined = sa.MetaData(naming_convention=NAMING_CONVENTION)
    for source in (metadata, postgres_only):
        for table in source.tables.values():
            table.to_metadata(combined)
    return combined


__all__ = [
    "NAMING_CONVENTION",
    "billing_events",
    "class_bookings",
    "class_sessions",
    "courses",
    "export_jobs",
    "idempotency_keys",
    "import_changes",
    "import_jobs",
    "import_provider_configs",
    "import_staging",
    "leads",
    "locations",
    "member_payments",
    "member_profiles",
    "memberships",
    "metadata",
    "organizations",
    "outbox",
    "plans",
    "platform_billing_transactions",
    "platform_subscriptions",
    "postgres_only",
    "schema_metadata",
    "users",
    "workout_day_totals",
    "workout_member_years",
    "workouts",
]

"""Domain objects with sensible defaults, for tests that need a few rows quickly.

Every builder takes keyword overrides; ids are fresh UUIDs unless given. Times default to
``T0`` (an aware UTC instant with microseconds, to prove round trips keep them).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from fitdata_core.events import DomainEvent
from fitdata_core.model.billing import (
    BillingTransaction,
    PlatformSubscription,
    SubscriptionStatus,
    TransactionKind,
    TransactionStatus,
)
from fitdata_core.model.catalog import Course, Lead, Location, Plan, PlanKind
from fitdata_core.model.jobs import (
    ExportJob,
    ExportStatus,
    ImportJob,
    ImportPhase,
    ImportProviderConfig,
    ImportSource,
    ImportStatus,
)
from fitdata_core.model.organizations import (
    MemberProfile,
    Membership,
    MembershipStatus,
    Organization,
    Role,
    User,
)
from fitdata_core.model.tiers import PlatformTier
from fitdata_core.money import Money
from fitdata_core.ports.infrastructure import JobMessage

T0 = datetime(2025, 3, 14, 9, 26, 53, 589793, tzinfo=UTC)


def new_id() -> str:
    return str(uuid.uuid4())


def at(minutes: float) -> datetime:
    """``T0`` plus ``minutes``."""
    return T0 + timedelta(minutes=minutes)


def organization(**kw: Any) -> Organization:
    values: dict[str, Any] = {
        "id": new_id(),
        "name": "Gym",
        "platform_tier": PlatformTier.LITE,
        "created_at": T0,
    }
    return Organization(**(values | kw))


def user(**kw: Any) -> User:
    uid = kw.pop("id", new_id())
    values: dict[str, Any] = {
        "id": uid,
        "email": f"user-{uid[:8]}@example.com",
        "first_name": "Dana",
        "last_name": "Levi",
        "phone": "+972501234567",
        "created_at": T0,
    }
    return User(**(values | kw))


def membership(org_id: str, user_id: str, **kw: Any) -> Membership:
    values: dict[str, Any] = {
        "id": new_id(),
        "organization_id": org_id,
        "user_id": user_id,
        "role": Role.MEMBER,
        "status": MembershipStatus.ACTIVE,
        "created_at": T0,
    }
    return Membership(**(values | kw))


def profile(org_id: str, user_id: str, **kw: Any) -> MemberProfile:
    values: dict[str, Any] = {
        "organization_id": org_id,
        "user_id": user_id,
        "birth_date": "1990-05-01",
        "gender": "female",
        "city": "Tel Aviv",
        "updated_at": T0,
    }
    return MemberProfile(**(values | kw))


def plan(org_id: str, **kw: Any) -> Plan:
    values: dict[str, Any] = {
        "id": new_id(),
        "organization_id": org_id,
        "name": "Monthly",
        "kind": PlanKind.MEMBERSHIP,
        "price": Money(Decimal("249.90")),
        "created_at": T0,
        "validity_days": 30,
    }
    return Plan(**(values | kw))


def location(org_id: str, **kw: Any) -> Location:
    values: dict[str, Any] = {
        "id": new_id(),
        "organization_id": org_id,
        "name": "Main hall",
        "created_at": T0,
        "address": "1 Herzl St",
    }
    return Location(**(values | kw))


def course(org_id: str, **kw: Any) -> Course:
    values: dict[str, Any] = {
        "id": new_id(),
        "organization_id": org_id,
        "name": "Yoga",
        "created_at": T0,
        "description": "Morning flow",
    }
    return Course(**(values | kw))


def lead(org_id: str, **kw: Any) -> Lead:
    values: dict[str, Any] = {
        "id": new_id(),
        "organization_id": org_id,
        "first_name": "Noa",
        "last_name": "Cohen",
        "email": "noa@example.com",
        "phone": None,
        "source": "website",
        "status": "new",
        "created_at": T0,
    }
    return Lead(**(values | kw))


def export_job(org_id: str, started_by: str, **kw: Any) -> ExportJob:
    values: dict[str, Any] = {
        "id": new_id(),
        "organization_id": org_id,
        "kind": "members",
        "status": ExportStatus.PENDING,
        "config": {"columns": ["email", "first_name"], "filters": {"roles": ["member"]}},
        "started_by": started_by,
        "created_at": T0,
    }
    return ExportJob(**(values | kw))


def import_job(org_id: str, started_by: str, **kw: Any) -> ImportJob:
    values: dict[str, Any] = {
        "id": new_id(),
        "organization_id": org_id,
        "source": ImportSource.CSV,
        "status": ImportStatus.PENDING,
        "phase": ImportPhase.QUEUED,
        "config": {"mapping": {"Email": "email"}, "file_key": "imports/a.csv"},
        "started_by": started_by,
        "created_at": T0,
    }
    return ImportJob(**(values | kw))


def finished_csv_job(
    job_id: str,
    *,
    completed_at: datetime | None,
    status: ImportStatus = ImportStatus.COMPLETED,
    source: ImportSource = ImportSource.CSV,
    key: str | None = None,
) -> ImportJob:
    """A confirmed CSV job of org ``org-1`` that ended at ``completed_at``, its file under
    ``key`` (default ``imports/org-1/<job_id>/source.csv``; ``source`` ARBOX: no file)."""
    config: dict[str, Any] = {"source": source.value, "confirmed": True}
    if source is ImportSource.CSV:
        stored = key or f"imports/org-1/{job_id}/source.csv"
        config["file"] = {"key": stored, "filename": "members.csv", "sheet": None}
    return ImportJob(
        id=job_id,
        organization_id="org-1",
        source=source,
        status=status,
        phase=ImportPhase.DONE,
        config=config,
        started_by="owner-1",
        created_at=(completed_at or T0) - timedelta(minutes=5),
        completed_at=completed_at,
    )


def provider_config(org_id: str, **kw: Any) -> ImportProviderConfig:
    values: dict[str, Any] = {
        "id": new_id(),
        "organization_id": org_id,
        "provider": "arbox",
        "credentials_encrypted": b"\x00\x01sealed\xff",
        "key_id": "k1",
        "is_active": True,
        "created_at": T0,
    }
    return ImportProviderConfig(**(values | kw))


def subscription(org_id: str, **kw: Any) -> PlatformSubscription:
    values: dict[str, Any] = {
        "id": new_id(),
        "organization_id": org_id,
        "tier": PlatformTier.PRO,
        "status": SubscriptionStatus.ACTIVE,
        "created_at": T0,
        "current_period_start": T0,
        "current_period_end": T0 + timedelta(days=30),
    }
    return PlatformSubscription(**(values | kw))


def transaction(org_id: str, **kw: Any) -> BillingTransaction:
    values: dict[str, Any] = {
        "id": new_id(),
        "organization_id": org_id,
        "kind": TransactionKind.CHECKOUT,
        "tier": PlatformTier.PRO,
        "amount": Money(Decimal("199.00")),
        "status": TransactionStatus.PENDING,
        "created_at": T0,
        "metadata": {"return_url": "https://app.example/billing", "attempt": 1},
    }
    return BillingTransaction(**(values | kw))


def event(aggregate_id: str, name: str = "subscription.activated", **kw: Any) -> DomainEvent:
    values: dict[str, Any] = {
        "name": name,
        "aggregate": "platform_subscription",
        "aggregate_id": aggregate_id,
        "occurred_at": T0,
        "data": {"tier": "pro"},
    }
    return DomainEvent(**(values | kw))


def job_message(actor: str = "run_export", **kw: Any) -> JobMessage:
    values: dict[str, Any] = {
        "id": new_id(),
        "actor": actor,
        "args": {"job_id": new_id(), "attempt": 1, "note": None},
        "created_at": T0,
    }
    return JobMessage(**(values | kw))

"""Aggregates and values of fitdata. All frozen; state changes return new objects."""

from fitdata_core.model.billing import (
    BillingTransaction,
    CancelReason,
    PlatformSubscription,
    StoredCard,
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
    MemberRow,
    Membership,
    MembershipStatus,
    Organization,
    Role,
    User,
)
from fitdata_core.model.tiers import Feature, PlatformTier

__all__ = [
    "BillingTransaction",
    "CancelReason",
    "Course",
    "ExportJob",
    "ExportStatus",
    "Feature",
    "ImportJob",
    "ImportPhase",
    "ImportProviderConfig",
    "ImportSource",
    "ImportStatus",
    "Lead",
    "Location",
    "MemberProfile",
    "MemberRow",
    "Membership",
    "MembershipStatus",
    "Organization",
    "Plan",
    "PlanKind",
    "PlatformSubscription",
    "PlatformTier",
    "Role",
    "StoredCard",
    "SubscriptionStatus",
    "TransactionKind",
    "TransactionStatus",
    "User",
]

"""SQL implementations of the repository ports, one class per port."""

from fitdata_adapters.db.repositories.base import SqlRepository, SqlSession
from fitdata_adapters.db.repositories.billing import (
    SqlBillingEventRepository,
    SqlBillingTransactionRepository,
    SqlSubscriptionRepository,
)
from fitdata_adapters.db.repositories.catalog import (
    SqlCourseRepository,
    SqlLeadRepository,
    SqlLocationRepository,
    SqlPlanRepository,
)
from fitdata_adapters.db.repositories.idempotency import SqlIdempotencyKeyRepository
from fitdata_adapters.db.repositories.jobs import (
    SqlExportJobRepository,
    SqlImportJobRepository,
    SqlImportProviderConfigRepository,
)
from fitdata_adapters.db.repositories.member_csv import SqlMemberCsvStream
from fitdata_adapters.db.repositories.member_json import SqlMemberJsonPages
from fitdata_adapters.db.repositories.organizations import (
    SqlMemberProfileRepository,
    SqlMembershipRepository,
    SqlOrganizationRepository,
    SqlUserRepository,
)
from fitdata_adapters.db.repositories.outbox import SqlOutboxRepository
from fitdata_adapters.db.repositories.secrets import SqlSealedSecretRepository

__all__ = [
    "SqlBillingEventRepository",
    "SqlBillingTransactionRepository",
    "SqlCourseRepository",
    "SqlExportJobRepository",
    "SqlIdempotencyKeyRepository",
    "SqlImportJobRepository",
    "SqlImportProviderConfigRepository",
    "SqlLeadRepository",
    "SqlLocationRepository",
    "SqlMemberCsvStream",
    "SqlMemberJsonPages",
    "SqlMemberProfileRepository",
    "SqlMembershipRepository",
    "SqlOrganizationRepository",
    "SqlOutboxRepository",
    "SqlPlanRepository",
    "SqlRepository",
    "SqlSealedSecretRepository",
    "SqlSession",
    "SqlSubscriptionRepository",
    "SqlUserRepository",
]

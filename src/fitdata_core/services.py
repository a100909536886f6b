"""The ports a use case may need, gathered once by the composition root.

Use cases are plain async functions taking ``Services`` first; tests build one from
in-memory adapters, production from ``fitdata_adapters.bootstrap``.
"""

from __future__ import annotations

import attrs

from fitdata_core.access import OrgAccess
from fitdata_core.policies import BillingPolicy, ExportPolicy, ImportPolicy
from fitdata_core.ports.clock import Clock, IdFactory
from fitdata_core.ports.import_files import ImportFiles
from fitdata_core.ports.infrastructure import (
    CredentialCipher,
    ErrorReporter,
    JobMessage,
    Mailer,
    ObjectStorage,
    RateLimiter,
)
from fitdata_core.ports.providers import MemberSource, PaymentGateway
from fitdata_core.ports.repositories import AnalyticsReader, UnitOfWorkFactory

__all__ = [
    "Actor",
    "Services",
]


@attrs.frozen
class Actor:
    """Who is calling: an authenticated user, possibly a platform administrator.

    ``org_access`` is the caller's standing in the organization the request is about, when
    authentication read it together with the user's row (an org-scoped API request: one
    statement instead of two). A read-only unit of work authorizes against it instead of
    reading it again (:func:`fitdata_core.usecases.common.authorize`): its reads are separate
    snapshots anyway, and this one is from the same request. A unit of work that writes
    always reads the membership again, in its own transaction.
    """

    user_id: str
    is_platform_admin: bool = False
    org_access: OrgAccess | None = attrs.field(default=None, eq=False, repr=False)


@attrs.frozen
class Services:
    """The ports and policies a use case may need, built once per process (``bootstrap``) or per
    test (``memory_services``)."""

    uow: UnitOfWorkFactory
    clock: Clock
    ids: IdFactory
    storage: ObjectStorage
    mailer: Mailer
    cipher: CredentialCipher
    rate_limiter: RateLimiter
    errors: ErrorReporter
    payment_gateway: PaymentGateway
    member_source: MemberSource
    analytics: AnalyticsReader
    import_files: ImportFiles
    # The settings use cases obey, typed; the defaults are the service's own.
    billing: BillingPolicy = attrs.field(factory=BillingPolicy)
    exports: ExportPolicy = attrs.field(factory=ExportPolicy)
    imports: ImportPolicy = attrs.field(factory=ImportPolicy)

    def job(self, actor: str, **args: str | int | None) -> JobMessage:
        """A job message for the outbox, stamped with a fresh id and the current time."""
        return JobMessage(id=self.ids.new_id(), actor=actor, args=args, created_at=self.clock.now())

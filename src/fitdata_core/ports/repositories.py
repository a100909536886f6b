"""Persistence ports: one repository per aggregate, gathered in a unit of work.

``async with uow:`` opens a transaction; leaving the block without ``await uow.commit()``
rolls everything back. Repositories return domain objects and never leak rows.
Methods named ``..._for_update`` take a row lock (``SELECT ... FOR UPDATE`` on Postgres)
held until the unit of work ends; that is how concurrent activations serialise.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import date, datetime
from enum import Enum, StrEnum
from types import TracebackType
from typing import Any, Generic, Protocol, Self, TypeVar

import attrs

from fitdata_core.access import OrgAccess
from fitdata_core.events import DomainEvent
from fitdata_core.model.billing import (
    BillingTransaction,
    PlatformSubscription,
    TransactionStatus,
)
from fitdata_core.model.catalog import Course, Lead, Location, Plan
from fitdata_core.model.jobs import ExportJob, ImportJob, ImportProviderConfig
from fitdata_core.model.organizations import (
    MemberProfile,
    MemberRow,
    Membership,
    MembershipStatus,
    Organization,
    Role,
    User,
)
from fitdata_core.ports.imports import ImportDataRepository
from fitdata_core.ports.infrastructure import Ciphertext, JobMessage

__all__ = [
    "MEMBER_ATTRIBUTES",
    "AnalyticsReader",
    "BillingEventRepository",
    "BillingTransactionRepository",
    "CourseRepository",
    "ExportJobRepository",
    "IdempotencyKeyRepository",
    "IdempotencyRecord",
    "ImportJobRepository",
    "ImportProviderConfigRepository",
    "JsonShape",
    "LeadRepository",
    "LocationRepository",
    "MemberCsvStream",
    "MemberFilter",
    "MemberJsonPages",
    "MemberProfileRepository",
    "MembershipRepository",
    "OrganizationRepository",
    "OutboxRepository",
    "Page",
    "PlacedEvent",
    "PlanRepository",
    "RenderedMember",
    "SealedSecret",
    "SealedSecretRepository",
    "SecretKind",
    "SubscriptionRepository",
    "T",
    "UnitOfWork",
    "UnitOfWorkFactory",
    "UserRepository",
    "member_attribute",
]

T = TypeVar("T")


@attrs.frozen
class Page(Generic[T]):
    """One page of a listing.

    ``total`` is the count of everything the listing matches, or ``None`` on a keyset page
    (one asked for ``after`` a key): counting a big list on every page would cost what keyset
    paging saves. ``offset`` is ``None`` on keyset pages too. ``next_cursor`` is the opaque
    cursor of the next page (see :mod:`fitdata_core.paging`), ``None`` on the last one.
    """

    items: Sequence[T]
    total: int | None
    limit: int
    offset: int | None
    next_cursor: str | None = None


@attrs.frozen
class PlacedEvent:
    """A recorded domain event with its place in its org's timeline: ``position`` grows with
    every event recorded, so "after this position" is the keyset of the timeline's pages."""

    position: int
    event: DomainEvent


MEMBER_ATTRIBUTES: frozenset[str] = frozenset(
    {
        *(
            f"membership.{name}"
            for name in ("id", "user_id", "role", "status", "created_at", "start_date", "end_date")
        ),
        *(f"user.{name}" for name in ("id", "email", "first_name", "last_name", "phone")),
        *(
            f"profile.{name}"
            for name in (
                "birth_date",
                "gender",
                "address",
                "city",
                "notes",
                "external_id",
                "zip_code",
                "additional_phone",
                "emergency_contact_name",
                "emergency_contact_phone",
                "external_source",
                "updated_at",
            )
        ),
    }
)
"""The ``MemberRow`` attribute paths :meth:`MembershipRepository.stream_member_values` reads."""


def member_attribute(row: MemberRow, path: str) -> object:
    """The value at ``path`` (``"user.first_name"``) of ``row``: an enum as its value, and
    ``None`` for a profile attribute of a member without a profile."""
    part, name = path.split(".", 1)
    owner = getattr(row, part)
    if owner is None:
        return None
    value = getattr(owner, name)
    return value.value if isinstance(value, Enum) else value


@attrs.frozen
class MemberFilter:
    """Which members a listing or export selects (by role and status; empty means all)."""

    roles: frozenset[Role] = frozenset()
    statuses: frozenset[MembershipStatus] = frozenset()


class OrganizationRepository(Protocol):
    """Organizations (gyms)."""

    async def add(self, org: Organization) -> None: ...
    async def get(self, org_id: str) -> Organization | None: ...
    async def get_for_update(self, org_id: str) -> Organization | None: ...
    async def get_many_for_update(self, org_ids: Sequence[str]) -> dict[str, Organization]:
        """:meth:`get_for_update` of several organizations in one round trip: the ones that
        exist, each once, keyed and ordered by id; an empty list reads nothing.

        The rows are locked in id order whatever the order asked, so two units of work that
        lock overlapping sets never wait on each other in a cycle."""
        ...

    async def update(self, org: Organization) -> None: ...


class UserRepository(Protocol):
    """Users, found by id or (normalised) email."""

    async def add(self, user: User) -> None:
        """Raises ``Conflict`` when the email is taken (case-insensitively)."""
        ...

    async def get(self, user_id: str) -> User | None: ...
    async def get_with_access(self, user_id: str, org_id: str) -> tuple[User | None, OrgAccess]:
        """:meth:`get` and the user's standing in ``org_id``
        (:meth:`MembershipRepository.get_with_org`) in one read: what an org-scoped request's
        authentication needs."""
        ...

    async def get_by_email(self, email: str) -> User | None: ...
    async def update(self, user: User) -> None: ...


class MembershipRepository(Protocol):
    """Memberships, and the member listings and streams built on them."""

    async def add(self, membership: Membership) -> None:
        """Raises ``Conflict`` when the user already belongs to the organization."""
        ...

    async def get(self, org_id: str, user_id: str) -> Membership | None: ...

    async def get_with_org(self, org_id: str, user_id: str) -> tuple[bool, Membership | None]:
        """Whether the organization exists, and :meth:`get`: what every authorization asks,
        in one round trip instead of two."""
        ...

    async def update(self, membership: Membership) -> None: ...

    async def list_members(
        self,
        org_id: str,
        member_filter: MemberFilter,
        *,
        limit: int,
        offset: int = 0,
        after: tuple[str, str] | None = None,
    ) -> Page[MemberRow]:
        """Memberships joined to users, left-joined to profiles, ordered by (normalised)
        email then membership id. With ``after`` (an ``(email, membership id)`` key) the page
        starts after that key, ``offset`` is ignored and ``total`` is not counted."""
        ...

    async def active_owner_emails_of(
        self, org_ids: Sequence[str], *, limit: int
    ) -> dict[str, list[str]]:
        """:meth:`active_owner_emails` of several organizations in one round trip: each
        organization that has active owners maps to at most ``limit`` of them, in the same
        order; one without any is left out."""
        ...

    async def active_owner_emails(self, org_id: str, *, limit: int) -> list[str]:
        """The email addresses of the organization's active owners, ordered by email, at most
        ``limit``: who billing mail goes to, without counting or loading whole members."""
        ...

    def stream_members(
        self, org_id: str, member_filter: MemberFilter, *, batch_size: int = 1000
    ) -> AsyncIterator[MemberRow]:
        """Every matching member, fetched in batches so memory stays flat."""
        ...

    def stream_member_values(
        self,
        org_id: str,
        member_filter: MemberFilter,
        attributes: Sequence[str],
        *,
        batch_size: int = 1000,
    ) -> AsyncIterator[Sequence[Sequence[object]]]:
        """The members of :meth:`stream_members`, in its order, as batches of value rows.

        Each row holds :func:`member_attribute` of the member for each of ``attributes``
        (paths from :data:`MEMBER_ATTRIBUTES`), without building domain objects: the bulk
        export reads a million members this way. At most ``batch_size`` rows are in memory.
        """
        ...


class MemberCsvStream(Protocol):
    """The bulk export's member rows, already written as CSV (its own engine: on Postgres the
    database writes the lines)."""

    def stream_member_csv(
        self,
        org_id: str,
        member_filter: MemberFilter,
        attributes: Sequence[str],
        *,
        batch_size: int = 1000,
    ) -> AsyncIterator[tuple[int, bytes]]:
        """The rows of :meth:`MembershipRepository.stream_member_values` already written as
        CSV: pieces of ``(row count, UTF-8 bytes)``, the bytes exactly
        :func:`~fitdata_core.rules.csv_format.encode_csv_rows` of those rows, encoded (no
        header, no BOM). A backend that can render CSV itself (Postgres) does, so a bulk
        export runs at the database's speed; the others encode the value rows.
        """
        ...


def _check_fields(shape: JsonShape, attribute: object, fields: tuple[Any, ...]) -> None:
    keys = [key for key, _ in fields]
    if len(set(keys)) != len(keys):
        raise ValueError(f"a JSON shape repeats a key: {keys}")
    for key, value in fields:
        if isinstance(value, str) and value not in MEMBER_ATTRIBUTES:
            raise ValueError(f"unknown member attribute {value!r} for key {key!r}")
        if isinstance(value, JsonShape):
            value.part  # noqa: B018 - raises for a nested shape over several parts


@attrs.frozen
class JsonShape:
    """A JSON object of a member's attributes: ``fields`` in order, each ``(key, attribute
    path)`` (a path of :data:`~fitdata_core.ports.MEMBER_ATTRIBUTES`, such as
    ``"user.email"``) or ``(key, nested shape)``. Hashable, so a store can build its
    statement once per shape."""

    fields: tuple[tuple[str, str | JsonShape], ...] = attrs.field(validator=_check_fields)

    @property
    def part(self) -> str:
        """The one part (``membership``, ``user``, ``profile``) every attribute of this
        shape belongs to, for a nested shape; ``ValueError`` when there is not one."""
        parts = {path.split(".", 1)[0] for _, path in self.fields if isinstance(path, str)}
        if len(parts) != 1 or any(isinstance(path, JsonShape) for _, path in self.fields):
            raise ValueError("a nested JSON shape names attributes of exactly one part")
        return parts.pop()


@attrs.frozen
class RenderedMember:
    """A member already written as a JSON object (:class:`MemberJsonPages`), with the key its
    list is ordered by: the normalised email, then the membership id."""

    json: str
    email: str
    membership_id: str


class MemberJsonPages(Protocol):
    """The member list's pages with each member already written as JSON (its own engine: on
    Postgres the database writes the objects)."""

    async def member_json_page(
        self,
        org_id: str,
        member_filter: MemberFilter,
        shape: JsonShape,
        *,
        limit: int,
        offset: int = 0,
        after: tuple[str, str] | None = None,
    ) -> Page[RenderedMember]:
        """:meth:`MembershipRepository.list_members`' page (same members, order, total and
        ``after``), each member written as ``shape`` names: the same JSON value as
        :func:`~fitdata_core.rules.member_json.render_member_json` of its row. A backend that
        can write JSON itself (Postgres) does, in the statement that reads the page."""
        ...


class MemberProfileRepository(Protocol):
    """Members' profile details per organization."""

    async def upsert(self, profile: MemberProfile) -> None: ...
    async def get(self, org_id: str, user_id: str) -> MemberProfile | None: ...


class PlanRepository(Protocol):
    """An organization's membership plans."""

    async def add(self, plan: Plan) -> None: ...
    async def get(self, org_id: str, plan_id: str) -> Plan | None: ...
    async def get_by_name(self, org_id: str, name: str) -> Plan | None: ...
    async def update(self, plan: Plan) -> None: ...
    async def list_for_org(self, org_id: str) -> list[Plan]: ...


class LocationRepository(Protocol):
    """An organization's locations."""

    async def add(self, location: Location) -> None: ...
    async def list_for_org(self, org_id: str) -> list[Location]: ...


class CourseRepository(Protocol):
    """An organization's courses."""

    async def add(self, course: Course) -> None: ...
    async def list_for_org(self, org_id: str) -> list[Course]: ...


class LeadRepository(Protocol):
    """An organization's leads."""

    async def add(self, lead: Lead) -> None: ...
    async def update(self, lead: Lead) -> None: ...
    async def get_by_email(self, org_id: str, email: str) -> Lead | None: ...
    async def list_for_org(self, org_id: str) -> list[Lead]: ...
    async def list_page(
        self,
        org_id: str,
        *,
        limit: int,
        offset: int = 0,
        after: tuple[datetime, str] | None = None,
    ) -> Page[Lead]:
        """Oldest first (``created_at``, then id). With ``after`` (a ``(created_at, id)``
        key) the page starts after that key, ``offset`` is ignored and ``total`` is not
        counted."""
        ...


class ExportJobRepository(Protocol):
    """Export jobs."""

    async def add(self, job: ExportJob) -> None: ...
    async def get(self, job_id: str) -> ExportJob | None: ...
    async def update(self, job: ExportJob) -> None: ...
    async def list_for_org(
        self,
        org_id: str,
        *,
        limit: int,
        offset: int = 0,
        after: tuple[datetime, str] | None = None,
    ) -> Page[ExportJob]:
        """Newest first (``created_at``, then id, descending). With ``after`` (a
        ``(created_at, id)`` key) the page starts after that key, ``offset`` is ignored and
        ``total`` is not counted."""
        ...

    async def list_stale(self, started_before: datetime, *, limit: int) -> list[ExportJob]:
        """In-progress jobs (of every org) started before ``started_before``, oldest first."""
        ...

    async def list_waiting(self, dispatched_before: datetime, *, limit: int) -> list[ExportJob]:
        """Pending jobs (of every org) whose last queue message was written before
        ``dispatched_before`` (``dispatched_at``, else ``created_at``), oldest first."""
        ...


class ImportJobRepository(Protocol):
    """Import jobs."""

    async def add(self, job: ImportJob) -> None:
        """Raises ``Conflict`` when the org already has an active (pending or in progress)
        import: at most one at a time, even under concurrent requests."""
        ...

    async def get(self, job_id: str) -> ImportJob | None: ...
    async def get_for_update(self, job_id: str) -> ImportJob | None: ...
    async def update(self, job: ImportJob) -> None: ...
    async def list_for_org(
        self,
        org_id: str,
        *,
        limit: int,
        offset: int = 0,
        after: tuple[datetime, str] | None = None,
    ) -> Page[ImportJob]:
        """Newest first (``created_at``, then id, descending). With ``after`` (a
        ``(created_at, id)`` key) the page starts after that key, ``offset`` is ignored and
        ``total`` is not counted."""
        ...

    async def find_active(self, org_id: str) -> list[ImportJob]: ...

    async def list_lease_ended(self, now: datetime, *, limit: int) -> list[ImportJob]:
        """Active jobs (of every org) whose lease ended by ``now`` (or that never had one),
        oldest lease first: the ones a take-over sweep wakes."""
        ...

    async def list_files_due(
        self,
        finished_before: datetime,
        *,
        limit: int,
        after: tuple[datetime, str] | None = None,
    ) -> list[ImportJob]:
        """CSV jobs (of every org) that finished (completed, failed, cancelled, undone)
        before ``finished_before`` and whose stored file is not recorded deleted
        (``config.fileDeletedAt``), the first finished first (``completed_at``, then id); with
        ``after`` (a ``(completed_at, id)`` key) the list starts after that key. The ones the
        import file sweep deletes the file of (see ``rules.import_retention``)."""
        ...


class ImportProviderConfigRepository(Protocol):
    """Per-organization provider settings for imports (credentials sealed by the cipher)."""

    async def add(self, config: ImportProviderConfig) -> None: ...
    async def get_active(self, org_id: str, provider: str) -> ImportProviderConfig | None: ...
    async def deactivate_all(self, org_id: str, provider: str) -> None: ...


class SecretKind(StrEnum):
    """The kinds of rows that hold a sealed secret."""

    PROVIDER_CREDENTIALS = "provider_credentials"
    CARD_TOKEN = "card_token"  # noqa: S105 - a kind of secret, not a secret


@attrs.frozen(repr=False)
class SealedSecret:
    """One stored secret, as key rotation sees it: where it lives (``kind``, ``row_id``),
    whose it is, and its sealed bytes. ``provider`` is set for provider credentials (their
    sealing context names it)."""

    kind: SecretKind
    row_id: str
    organization_id: str
    sealed: Ciphertext
    provider: str | None = None

    def __repr__(self) -> str:  # ciphertext, but it has no business in a log either
        return (
            f"SealedSecret(kind={self.kind.value!r}, row_id={self.row_id!r}, "
            f"key_id={self.sealed.key_id!r})"
        )


class SealedSecretRepository(Protocol):
    """Every stored secret of a kind (provider credentials, card tokens), by sealing key.

    The key-rotation use cases read and re-seal secrets here without knowing which table
    holds them. Inactive (replaced) provider credentials count too: they are still stored.
    """

    async def count_by_key(self, kind: SecretKind) -> dict[str, int]:
        """How many secrets of ``kind`` each key id seals."""
        ...

    async def list_not_sealed_by(
        self, kind: SecretKind, key_id: str, *, after: str | None, limit: int
    ) -> list[SealedSecret]:
        """Up to ``limit`` secrets of ``kind`` sealed by any key but ``key_id``, in row id
        order, starting after row id ``after`` (keyset paging, so a caller that skips a row
        it cannot re-seal still moves on)."""
        ...

    async def reseal(self, secret: SealedSecret, resealed: Ciphertext) -> bool:
        """Compare-and-set: store ``resealed`` in ``secret``'s row only if the row still holds
        ``secret.sealed`` (same key id and bytes). False when the row changed meanwhile (a
        newer value was written, or another rotation got there first) or is gone."""
        ...


class SubscriptionRepository(Protocol):
    """Platform subscriptions, and the claims renewal sweeps take on them."""

    async def get_by_org(self, org_id: str) -> PlatformSubscription | None: ...
    async def get_by_org_for_update(self, org_id: str) -> PlatformSubscription | None: ...
    async def get_many_by_org_for_update(
        self, org_ids: Sequence[str]
    ) -> dict[str, PlatformSubscription]:
        """:meth:`get_by_org_for_update` of several organizations in one round trip: the
        subscriptions of those that have one, keyed and ordered by organization id; an empty
        list reads nothing. Locked in organization id order whatever the order asked (see
        :meth:`OrganizationRepository.get_many_for_update`)."""
        ...

    async def save(self, subscription: PlatformSubscription) -> None:
        """Insert or update (one subscription per organization)."""
        ...

    async def save_many(self, subscriptions: Sequence[PlatformSubscription]) -> None:
        """:meth:`save` of each (at most one per organization), in one round trip; an empty
        list writes nothing. Like every write it belongs to the unit of work: all of it is
        undone if the unit of work ends without committing. The renewal claim is kept."""
        ...

    async def list_due(self, as_of: datetime, *, limit: int) -> list[PlatformSubscription]:
        """Non-cancelled subscriptions whose period ended by ``as_of``, oldest period end first.
        On Postgres rows locked by another sweeper are skipped (``FOR UPDATE SKIP LOCKED``)."""
        ...

    async def claim_due(
        self, as_of: datetime, *, limit: int, now: datetime, until: datetime
    ) -> list[PlatformSubscription]:
        """Claim up to ``limit`` due subscriptions (as :meth:`list_due`, same order) for one
        renewal sweeper until ``until``: those nobody claimed, or whose claim lapsed by
        ``now``. Others see the claim once the unit of work commits; on Postgres rows another
        sweeper is claiming at this moment are skipped, so concurrent claims are disjoint."""
        ...

    async def release_claims(self, org_ids: Sequence[str], *, until: datetime) -> None:
        """Drop the claims on these organizations' subscriptions that still end at ``until``
        (a claim that lapsed and was taken by another sweeper is left alone)."""
        ...


class BillingTransactionRepository(Protocol):
    """Billing transactions (payment attempts)."""

    async def add(self, txn: BillingTransaction) -> None: ...
    async def add_if_new(self, txn: BillingTransaction) -> bool:
        """Insert ``txn`` unless a transaction with its ``external_uniq_id`` exists: then write
        nothing and return False (in one statement, without aborting the unit of work). Any
        other clash raises ``Conflict`` as :meth:`add` does."""
        ...

    async def add_many_if_new(self, txns: Sequence[BillingTransaction]) -> set[str]:
        """:meth:`add_if_new` of every transaction in one round trip: the ids of those
        inserted (the others' ``external_uniq_id`` was taken, and nothing of them is written)."""
        ...

    async def get(self, txn_id: str) -> BillingTransaction | None: ...
    async def get_for_update(self, txn_id: str) -> BillingTransaction | None: ...
    async def get_many_for_update(self, txn_ids: Sequence[str]) -> dict[str, BillingTransaction]:
        """:meth:`get_for_update` of several transactions in one round trip: the ones that
        exist, each once, keyed and ordered by id; an empty list reads nothing. Locked in id
        order whatever the order asked (see :meth:`OrganizationRepository.get_many_for_update`)."""
        ...

    async def get_by_low_profile_id(self, low_profile_id: str) -> BillingTransaction | None: ...
    async def update(self, txn: BillingTransaction) -> None:
        """Write every field of ``txn`` to its stored row; a transaction that is not stored
        is not written (nothing is inserted)."""
        ...

    async def update_many(self, txns: Sequence[BillingTransaction]) -> None:
        """:meth:`update` of each, in one round trip; an empty list writes nothing, and
        transactions not in the list are untouched. Undone with the unit of work."""
        ...

    async def list_for_org(
        self,
        org_id: str,
        *,
        limit: int,
        offset: int = 0,
        after: tuple[datetime, str] | None = None,
    ) -> Page[BillingTransaction]:
        """Newest first (``created_at``, then id, descending). With ``after`` (a
        ``(created_at, id)`` key) the page starts after that key, ``offset`` is ignored and
        ``total`` is not counted."""
        ...

    async def list_by_status(
        self,
        status: TransactionStatus,
        *,
        org_id: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        limit: int = 100,
    ) -> list[BillingTransaction]: ...


class BillingEventRepository(Protocol):
    """The billing audit timeline: every domain event of an org's billing, in order."""

    async def add(self, org_id: str, event: DomainEvent) -> None: ...
    async def add_many(self, org_id: str, events: Sequence[DomainEvent]) -> None:
        """Append ``events`` in their order (one round trip however many there are)."""
        ...

    async def add_for_orgs(self, entries: Sequence[tuple[str, DomainEvent]]) -> None:
        """Append events of several organizations, each ``(org_id, event)``, in list order
        (one round trip however many there are)."""
        ...

    async def list_for_org(self, org_id: str, *, limit: int, offset: int) -> Page[DomainEvent]: ...
    async def list_placed(
        self, org_id: str, *, limit: int, offset: int = 0, after: int | None = None
    ) -> Page[PlacedEvent]:
        """The timeline in the order things were recorded, each event with its position. With
        ``after`` (a position) the page starts after it, ``offset`` is ignored and ``total``
        is not counted."""
        ...


class OutboxRepository(Protocol):
    """Jobs written in the same transaction as the rows they concern (transactional outbox)."""

    async def add(self, message: JobMessage) -> None: ...

    async def claim_batch(
        self, *, limit: int, now: datetime, lease_seconds: int
    ) -> list[JobMessage]:
        """Lease up to ``limit`` undelivered messages so no other relay sends them meanwhile."""
        ...

    async def mark_delivered(self, message_ids: Sequence[str], at: datetime) -> None: ...

    async def oldest_undelivered(self) -> datetime | None:
        """When the oldest message still waiting to be delivered was written; None when
        every message went out (a backlog means the queue or the relay is down)."""
        ...


class AnalyticsReader(Protocol):
    """Read-model queries behind the analytics tabs. Rows are plain dicts in column order."""

    async def rows(
        self, org_id: str, tab: str, *, start: date, end: date
    ) -> list[dict[str, Any]]: ...


@attrs.frozen
class IdempotencyRecord:
    """A request made with an ``Idempotency-Key`` in an organization, and once it succeeded,
    the answer to give its retries.

    ``fingerprint`` identifies the request (caller, route and body): a retry must match it.
    ``status_code`` and ``response`` stay ``None`` while the first request is at work.
    """

    organization_id: str
    key: str
    fingerprint: str
    created_at: datetime
    expires_at: datetime
    status_code: int | None = None
    response: bytes | None = None

    @property
    def completed(self) -> bool:
        """Whether the first request finished and its answer is stored."""
        return self.status_code is not None


class IdempotencyKeyRepository(Protocol):
    """Idempotency keys, unique per organization and key."""

    async def add(self, record: IdempotencyRecord) -> None:
        """Store a new claim. Raises ``Conflict`` when the organization already holds the key
        (on Postgres a concurrent claim waits for the first to commit, then conflicts)."""
        ...

    async def get(self, organization_id: str, key: str) -> IdempotencyRecord | None: ...

    async def complete(
        self, organization_id: str, key: str, *, status_code: int, response: bytes
    ) -> None:
        """Store the answer of the claim's request."""
        ...

    async def delete(self, organization_id: str, key: str, *, created_at: datetime) -> bool:
        """Remove the claim made at ``created_at`` (not a newer one under the same key);
        whether it was there."""
        ...

    async def delete_expired(self, organization_id: str, *, now: datetime) -> int:
        """Remove the organization's records whose ``expires_at`` has passed; how many."""
        ...


class UnitOfWork(Protocol):
    """One transaction and its repositories: ``async with`` rolls back unless committed."""

    @property
    def read_only(self) -> bool:
        """Whether this unit only reads (``read_only`` or ``separate_reads``)."""
        ...

    @property
    def organizations(self) -> OrganizationRepository: ...

    @property
    def users(self) -> UserRepository: ...

    @property
    def memberships(self) -> MembershipRepository: ...

    @property
    def member_csv(self) -> MemberCsvStream: ...

    @property
    def member_json(self) -> MemberJsonPages: ...

    @property
    def profiles(self) -> MemberProfileRepository: ...

    @property
    def plans(self) -> PlanRepository: ...

    @property
    def locations(self) -> LocationRepository: ...

    @property
    def courses(self) -> CourseRepository: ...

    @property
    def leads(self) -> LeadRepository: ...

    @property
    def export_jobs(self) -> ExportJobRepository: ...

    @property
    def import_jobs(self) -> ImportJobRepository: ...

    @property
    def provider_configs(self) -> ImportProviderConfigRepository: ...

    @property
    def imports(self) -> ImportDataRepository: ...

    @property
    def subscriptions(self) -> SubscriptionRepository: ...

    @property
    def sealed_secrets(self) -> SealedSecretRepository: ...

    @property
    def billing_transactions(self) -> BillingTransactionRepository: ...

    @property
    def billing_events(self) -> BillingEventRepository: ...

    @property
    def outbox(self) -> OutboxRepository: ...

    @property
    def idempotency_keys(self) -> IdempotencyKeyRepository: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None: ...

    async def rollback(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    """Makes a fresh :class:`UnitOfWork` per call.

    ``read_only=True`` is for use cases that only read (listings, export streams): such a
    unit of work must not write, and ``commit`` raises. In exchange it does not hold back
    writers while it is open (on SQLite it reads a snapshot instead of taking the write
    lock), so a long read never stalls the rest of the system.

    ``separate_reads=True`` (implies ``read_only``) is for a unit of work that only reads and
    needs no snapshot shared by its reads, such as the per-request token check and the
    member list (its authorization read, then its page with the total in one statement):
    each read may see what was committed when it started, as each statement of a read-only
    transaction does under Postgres's default READ COMMITTED. The SQL adapter then sends the
    reads with no ``BEGIN`` or ``ROLLBACK`` around them (two round trips fewer). A write
    raises, and so does what needs a transaction: a row lock, a streamed (server-side
    cursor) read, a transaction-scoped setting. Not for reads that must agree with each
    other (an export and its count, say): those keep ``read_only``.
    """

    def __call__(self, *, read_only: bool = False, separate_reads: bool = False) -> UnitOfWork: ...

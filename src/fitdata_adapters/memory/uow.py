"""An in-memory unit of work with the same contract as the SQL one.

Each unit of work works on a copy of the tables and writes them back on commit, so leaving
without commit rolls back. One lock per database serialises units of work, which gives
``..._for_update`` its meaning (and makes nesting a unit of work inside another a bug that
shows up at once rather than a silent lost update). A read-only unit of work takes no lock:
like a SQLite snapshot it reads the tables as they were when it began, writers go on
meanwhile, and its ``commit`` raises.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Self, TypeVar

import attrs

from fitdata_adapters.memory.imports import MemoryImportData
from fitdata_core.access import OrgAccess
from fitdata_core.errors import Conflict, FitdataError
from fitdata_core.events import DomainEvent
from fitdata_core.model.billing import (
    BillingTransaction,
    PlatformSubscription,
    SubscriptionStatus,
    TransactionStatus,
)
from fitdata_core.model.catalog import Course, Lead, Location, Plan
from fitdata_core.model.jobs import (
    ExportJob,
    ExportStatus,
    ImportJob,
    ImportProviderConfig,
    ImportSource,
)
from fitdata_core.model.organizations import (
    MemberProfile,
    MemberRow,
    Membership,
    MembershipStatus,
    Organization,
    Role,
    User,
    normalize_email,
)
from fitdata_core.ports.infrastructure import Ciphertext, JobMessage
from fitdata_core.ports.repositories import (
    MEMBER_ATTRIBUTES,
    IdempotencyRecord,
    JsonShape,
    MemberFilter,
    Page,
    PlacedEvent,
    RenderedMember,
    SealedSecret,
    SecretKind,
    member_attribute,
)
from fitdata_core.rules.csv_format import encode_csv_rows
from fitdata_core.rules.import_merge import RowChange
from fitdata_core.rules.import_retention import (
    FINISHED_IMPORT_STATUSES,
    file_deleted_at,
    stored_file_key,
)
from fitdata_core.rules.member_json import rendered_page

T = TypeVar("T")
K = TypeVar("K")


@attrs.define
class _OutboxEntry:
    message: JobMessage
    delivered_at: datetime | None = None
    lease_until: datetime | None = None


@attrs.define
class _Tables:
    organizations: dict[str, Organization] = attrs.field(factory=dict)
    users: dict[str, User] = attrs.field(factory=dict)
    memberships: dict[str, Membership] = attrs.field(factory=dict)
    profiles: dict[tuple[str, str], MemberProfile] = attrs.field(factory=dict)
    plans: dict[str, Plan] = attrs.field(factory=dict)
    locations: dict[str, Location] = attrs.field(factory=dict)
    courses: dict[str, Course] = attrs.field(factory=dict)
    leads: dict[str, Lead] = attrs.field(factory=dict)
    export_jobs: dict[str, ExportJob] = attrs.field(factory=dict)
    import_jobs: dict[str, ImportJob] = attrs.field(factory=dict)
    provider_configs: dict[str, ImportProviderConfig] = attrs.field(factory=dict)
    subscriptions: dict[str, PlatformSubscription] = attrs.field(factory=dict)
    #: Renewal claims: organization id -> claimed until.
    subscription_claims: dict[str, datetime] = attrs.field(factory=dict)
    transactions: dict[str, BillingTransaction] = attrs.field(factory=dict)
    billing_events: list[tuple[str, DomainEvent]] = attrs.field(factory=list)
    outbox: dict[str, _OutboxEntry] = attrs.field(factory=dict)
    #: Import staging: (job id, entity, seq) -> record (never mutated in place).
    import_staged: dict[tuple[str, str, int], dict[str, Any]] = attrs.field(factory=dict)
    #: Import changes for undo, per job, in the order made.
    import_changes: dict[str, tuple[RowChange, ...]] = attrs.field(factory=dict)
    idempotency_keys: dict[tuple[str, str], IdempotencyRecord] = attrs.field(factory=dict)

    def copy(self) -> _Tables:
        # Domain objects are frozen, so copying the containers is enough; outbox entries are
        # mutable bookkeeping and are copied deeply.
        fields = {f.name: copy.copy(getattr(self, f.name)) for f in attrs.fields(_Tables)}
        fields["outbox"] = {k: attrs.evolve(v) for k, v in self.outbox.items()}
        return _Tables(**fields)


@attrs.define
class MemoryDatabase:
    """The shared state that every memory unit of work reads and commits to."""

    tables: _Tables = attrs.field(factory=_Tables)
    lock: asyncio.Lock = attrs.field(factory=asyncio.Lock)


def _page(items: Sequence[T], limit: int, offset: int) -> Page[T]:
    return Page(
        items=list(items[offset : offset + limit]), total=len(items), limit=limit, offset=offset
    )


def _page_after(
    items: Sequence[T],
    limit: int,
    offset: int,
    after: K | None,
    sorts_after: Callable[[T, K], bool],
) -> Page[T]:
    """The page at ``offset`` with a total; or, with ``after`` (a keyset), the items that
    sort after it, without a total or an offset, as the SQL repositories answer."""
    if after is None:
        return _page(items, limit, offset)
    later = [item for item in items if sorts_after(item, after)]
    return Page(items=later[:limit], total=None, limit=limit, offset=None)


def _require_absent(table: dict[Any, Any], key: Any, what: str) -> None:
    if key in table:
        raise Conflict(f"{what} already exists.")


class _Repo:
    def __init__(self, uow: MemoryUnitOfWork) -> None:
        self._uow = uow

    @property
    def t(self) -> _Tables:
        return self._uow.tables


class _Organizations(_Repo):
    async def add(self, org: Organization) -> None:
        _require_absent(self.t.organizations, org.id, "organization")
        self.t.organizations[org.id] = org

    async def get(self, org_id: str) -> Organization | None:
        return self.t.organizations.get(org_id)

    async def get_for_update(self, org_id: str) -> Organization | None:
        return self.t.organizations.get(org_id)

    async def get_many_for_update(self, org_ids: Sequence[str]) -> dict[str, Organization]:
        found = self.t.organizations
        return {org_id: found[org_id] for org_id in sorted(set(org_ids)) if org_id in found}

    async def update(self, org: Organization) -> None:
        self.t.organizations[org.id] = org


class _Users(_Repo):
    async def add(self, user: User) -> None:
        _require_absent(self.t.users, user.id, "user")
        if await self.get_by_email(user.email) is not None:
            raise Conflict(f"A user with email {user.email_normalized} already exists.")
        self.t.users[user.id] = user

    async def get(self, user_id: str) -> User | None:
        return self.t.users.get(user_id)

    async def get_with_access(self, user_id: str, org_id: str) -> tuple[User | None, OrgAccess]:
        org_exists, membership = await self._uow.memberships.get_with_org(org_id, user_id)
        return self.t.users.get(user_id), OrgAccess(org_id, org_exists, membership)

    async def get_by_email(self, email: str) -> User | None:
        wanted = normalize_email(email)
        return next((u for u in self.t.users.values() if u.email_normalized == wanted), None)

    async def update(self, user: User) -> None:
        other = await self.get_by_email(user.email)
        if other is not None and other.id != user.id:
            raise Conflict(f"A user with email {user.email_normalized} already exists.")
        self.t.users[user.id] = user


class _Memberships(_Repo):
    async def add(self, membership: Membership) -> None:
        if await self.get(membership.organization_id, membership.user_id) is not None:
            raise Conflict("The user is already a member of this organization.")
        self.t.memberships[membership.id] = membership

    async def get(self, org_id: str, user_id: str) -> Membership | None:
        return next(
            (
                m
                for m in self.t.memberships.values()
                if m.organization_id == org_id and m.user_id == user_id
            ),
            None,
        )

    async def get_with_org(self, org_id: str, user_id: str) -> tuple[bool, Membership | None]:
        return org_id in self.t.organizations, await self.get(org_id, user_id)

    async def update(self, membership: Membership) -> None:
        self.t.memberships[membership.id] = membership

    async def active_owner_emails_of(
        self, org_ids: Sequence[str], *, limit: int
    ) -> dict[str, list[str]]:
        found = {org_id: await self.active_owner_emails(org_id, limit=limit) for org_id in org_ids}
        return {org_id: emails for org_id, emails in found.items() if emails}

    async def active_owner_emails(self, org_id: str, *, limit: int) -> list[str]:
        owners = MemberFilter(
            roles=frozenset({Role.OWNER}), statuses=frozenset({MembershipStatus.ACTIVE})
        )
        return [row.user.email for row in self._rows(org_id, owners)[:limit]]

    def _rows(self, org_id: str, member_filter: MemberFilter) -> list[MemberRow]:
        rows = [
            MemberRow(m, self.t.users[m.user_id], self.t.profiles.get((org_id, m.user_id)))
            for m in self.t.memberships.values()
            if m.organization_id == org_id
            and (not member_filter.roles or m.role in member_filter.roles)
            and (not member_filter.statuses or m.status in member_filter.statuses)
        ]
        return sorted(rows, key=lambda r: (r.user.email_normalized, r.membership.id))

    async def list_members(
        self,
        org_id: str,
        member_filter: MemberFilter,
        *,
        limit: int,
        offset: int = 0,
        after: tuple[str, str] | None = None,
    ) -> Page[MemberRow]:
        rows = self._rows(org_id, member_filter)
        if after is None:
            return _page(rows, limit, offset)
        later = [r for r in rows if (r.user.email_normalized, r.membership.id) > after]
        return Page(items=later[:limit], total=None, limit=limit, offset=None)

    async def stream_members(
        self, org_id: str, member_filter: MemberFilter, *, batch_size: int = 1000
    ) -> AsyncIterator[MemberRow]:
        for row in self._rows(org_id, member_filter):
            yield row

    async def stream_member_values(
        self,
        org_id: str,
        member_filter: MemberFilter,
        attributes: Sequence[str],
        *,
        batch_size: int = 1000,
    ) -> AsyncIterator[Sequence[Sequence[object]]]:
        unknown = set(attributes) - MEMBER_ATTRIBUTES
        if unknown:
            raise ValueError(f"unknown member attributes: {sorted(unknown)}")
        rows = self._rows(org_id, member_filter)
        for start in range(0, len(rows), batch_size):
            yield [
                tuple(member_attribute(row, path) for path in attributes)
                for row in rows[start : start + batch_size]
            ]


class _MemberCsv(_Repo):
    """The member CSV engine in memory: the value rows through the core's encoder."""

    async def stream_member_csv(
        self,
        org_id: str,
        member_filter: MemberFilter,
        attributes: Sequence[str],
        *,
        batch_size: int = 1000,
    ) -> AsyncIterator[tuple[int, bytes]]:
        async for batch in self._uow.memberships.stream_member_values(
            org_id, member_filter, attributes, batch_size=batch_size
        ):
            yield len(batch), encode_csv_rows(batch).encode("utf-8", "replace")


class _MemberJson(_Repo):
    """The member list's JSON pages in memory: the rows through the core's renderer."""

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
        page = await self._uow.memberships.list_members(
            org_id, member_filter, limit=limit, offset=offset, after=after
        )
        return rendered_page(page, shape)


class _Profiles(_Repo):
    async def upsert(self, profile: MemberProfile) -> None:
        self.t.profiles[(profile.organization_id, profile.user_id)] = profile

    async def get(self, org_id: str, user_id: str) -> MemberProfile | None:
        return self.t.profiles.get((org_id, user_id))


def _of_org(items: Iterable[T], org_id: str, key: Callable[[T], Any]) -> list[T]:
    return sorted((i for i in items if getattr(i, "organization_id", None) == org_id), key=key)


class _Plans(_Repo):
    async def add(self, plan: Plan) -> None:
        if await self.get_by_name(plan.organization_id, plan.name) is not None:
            raise Conflict(f'A plan named "{plan.name}" already exists.')
        self.t.plans[plan.id] = plan

    async def get(self, org_id: str, plan_id: str) -> Plan | None:
        plan = self.t.plans.get(plan_id)
        return plan if plan is not None and plan.organization_id == org_id else None

    async def get_by_name(self, org_id: str, name: str) -> Plan | None:
        return next(
            (p for p in self.t.plans.values() if p.organization_id == org_id and p.name == name),
            None,
        )

    async def update(self, plan: Plan) -> None:
        self.t.plans[plan.id] = plan

    async def list_for_org(self, org_id: str) -> list[Plan]:
        return _of_org(self.t.plans.values(), org_id, lambda p: (p.name, p.id))


class _Locations(_Repo):
    async def add(self, location: Location) -> None:
        self.t.locations[location.id] = location

    async def list_for_org(self, org_id: str) -> list[Location]:
        return _of_org(self.t.locations.values(), org_id, lambda x: (x.created_at, x.id))


class _Courses(_Repo):
    async def add(self, course: Course) -> None:
        self.t.courses[course.id] = course

    async def list_for_org(self, org_id: str) -> list[Course]:
        return _of_org(self.t.courses.values(), org_id, lambda x: (x.created_at, x.id))


class _Leads(_Repo):
    async def add(self, lead: Lead) -> None:
        self.t.leads[lead.id] = lead

    async def update(self, lead: Lead) -> None:
        self.t.leads[lead.id] = lead

    async def get_by_email(self, org_id: str, email: str) -> Lead | None:
        wanted = normalize_email(email)
        return next(
            (
                lead
                for lead in self.t.leads.values()
                if lead.organization_id == org_id
                and lead.email is not None
                and normalize_email(lead.email) == wanted
            ),
            None,
        )

    async def list_for_org(self, org_id: str) -> list[Lead]:
        return _of_org(self.t.leads.values(), org_id, lambda x: (x.created_at, x.id))

    async def list_page(
        self,
        org_id: str,
        *,
        limit: int,
        offset: int = 0,
        after: tuple[datetime, str] | None = None,
    ) -> Page[Lead]:
        leads = await self.list_for_org(org_id)
        return _page_after(leads, limit, offset, after, lambda x, key: (x.created_at, x.id) > key)


def _newest_first(items: Iterable[T]) -> list[T]:
    return sorted(items, key=lambda j: (getattr(j, "created_at"), getattr(j, "id")), reverse=True)  # noqa: B009


class _ExportJobs(_Repo):
    async def add(self, job: ExportJob) -> None:
        self.t.export_jobs[job.id] = job

    async def get(self, job_id: str) -> ExportJob | None:
        return self.t.export_jobs.get(job_id)

    async def update(self, job: ExportJob) -> None:
        self.t.export_jobs[job.id] = job

    async def list_for_org(
        self,
        org_id: str,
        *,
        limit: int,
        offset: int = 0,
        after: tuple[datetime, str] | None = None,
    ) -> Page[ExportJob]:
        jobs = _newest_first(j for j in self.t.export_jobs.values() if j.organization_id == org_id)
        if after is None:
            return _page(jobs, limit, offset)
        older = [j for j in jobs if (j.created_at, j.id) < after]
        return Page(items=older[:limit], total=None, limit=limit, offset=None)

    async def list_stale(self, started_before: datetime, *, limit: int) -> list[ExportJob]:
        stale = [
            j
            for j in self.t.export_jobs.values()
            if j.status is ExportStatus.IN_PROGRESS
            and j.started_at is not None
            and j.started_at < started_before
        ]
        return sorted(stale, key=lambda j: (j.started_at, j.id))[:limit]

    async def list_waiting(self, dispatched_before: datetime, *, limit: int) -> list[ExportJob]:
        waiting = [
            j
            for j in self.t.export_jobs.values()
            if j.status is ExportStatus.PENDING and j.last_dispatched_at < dispatched_before
        ]
        return sorted(waiting, key=lambda j: (j.last_dispatched_at, j.id))[:limit]


class _ImportJobs(_Repo):
    async def add(self, job: ImportJob) -> None:
        if job.is_active and await self.find_active(job.organization_id):
            raise Conflict("The organization already has an active import.")
        self.t.import_jobs[job.id] = job

    async def get(self, job_id: str) -> ImportJob | None:
        return self.t.import_jobs.get(job_id)

    async def get_for_update(self, job_id: str) -> ImportJob | None:
        return self.t.import_jobs.get(job_id)

    async def update(self, job: ImportJob) -> None:
        self.t.import_jobs[job.id] = job

    async def list_for_org(
        self,
        org_id: str,
        *,
        limit: int,
        offset: int = 0,
        after: tuple[datetime, str] | None = None,
    ) -> Page[ImportJob]:
        jobs = _newest_first(j for j in self.t.import_jobs.values() if j.organization_id == org_id)
        return _page_after(jobs, limit, offset, after, lambda j, key: (j.created_at, j.id) < key)

    async def find_active(self, org_id: str) -> list[ImportJob]:
        return _newest_first(
            j for j in self.t.import_jobs.values() if j.organization_id == org_id and j.is_active
        )

    async def list_lease_ended(self, now: datetime, *, limit: int) -> list[ImportJob]:
        ended = [
            j
            for j in self.t.import_jobs.values()
            if j.is_active and (j.lease_until is None or j.lease_until <= now)
        ]
        ended.sort(key=lambda j: (j.lease_until or j.created_at, j.id))
        return ended[:limit]

    async def list_files_due(
        self,
        finished_before: datetime,
        *,
        limit: int,
        after: tuple[datetime, str] | None = None,
    ) -> list[ImportJob]:
        due = [
            j
            for j in self.t.import_jobs.values()
            if j.source is ImportSource.CSV
            and j.status in FINISHED_IMPORT_STATUSES
            and j.completed_at is not None
            and j.completed_at < finished_before
            and stored_file_key(j) is not None
            and file_deleted_at(j) is None
            and (after is None or (j.completed_at, j.id) > after)
        ]
        due.sort(key=lambda j: (j.completed_at, j.id))
        return due[:limit]


class _ProviderConfigs(_Repo):
    async def add(self, config: ImportProviderConfig) -> None:
        self.t.provider_configs[config.id] = config

    async def get_active(self, org_id: str, provider: str) -> ImportProviderConfig | None:
        return next(
            (
                c
                for c in self.t.provider_configs.values()
                if c.organization_id == org_id and c.provider == provider and c.is_active
            ),
            None,
        )

    async def deactivate_all(self, org_id: str, provider: str) -> None:
        for key, c in list(self.t.provider_configs.items()):
            if c.organization_id == org_id and c.provider == provider and c.is_active:
                self.t.provider_configs[key] = c.deactivate()


class _Subscriptions(_Repo):
    async def get_by_org(self, org_id: str) -> PlatformSubscription | None:
        return self.t.subscriptions.get(org_id)

    async def get_by_org_for_update(self, org_id: str) -> PlatformSubscription | None:
        return self.t.subscriptions.get(org_id)

    async def get_many_by_org_for_update(
        self, org_ids: Sequence[str]
    ) -> dict[str, PlatformSubscription]:
        found = self.t.subscriptions
        return {org_id: found[org_id] for org_id in sorted(set(org_ids)) if org_id in found}

    async def save(self, subscription: PlatformSubscription) -> None:
        self.t.subscriptions[subscription.organization_id] = subscription

    async def save_many(self, subscriptions: Sequence[PlatformSubscription]) -> None:
        for subscription in subscriptions:
            await self.save(subscription)

    async def list_due(self, as_of: datetime, *, limit: int) -> list[PlatformSubscription]:
        due = [
            s
            for s in self.t.subscriptions.values()
            if s.status is not SubscriptionStatus.CANCELLED
            and s.current_period_end is not None
            and s.current_period_end <= as_of
        ]
        due.sort(key=lambda s: (s.current_period_end, s.id))
        return due[:limit]

    async def claim_due(
        self, as_of: datetime, *, limit: int, now: datetime, until: datetime
    ) -> list[PlatformSubscription]:
        # The database lock held by this unit of work makes the claim exclusive.
        claims = self.t.subscription_claims
        free = [
            s
            for s in await self.list_due(as_of, limit=len(self.t.subscriptions))
            if claims.get(s.organization_id) is None or claims[s.organization_id] <= now
        ][:limit]
        for sub in free:
            claims[sub.organization_id] = until
        return free

    async def release_claims(self, org_ids: Sequence[str], *, until: datetime) -> None:
        claims = self.t.subscription_claims
        for org_id in org_ids:
            if claims.get(org_id) == until:
                del claims[org_id]


class _IdempotencyKeys(_Repo):
    async def add(self, record: IdempotencyRecord) -> None:
        key = (record.organization_id, record.key)
        _require_absent(self.t.idempotency_keys, key, "idempotency key")
        self.t.idempotency_keys[key] = record

    async def get(self, organization_id: str, key: str) -> IdempotencyRecord | None:
        return self.t.idempotency_keys.get((organization_id, key))

    async def complete(
        self, organization_id: str, key: str, *, status_code: int, response: bytes
    ) -> None:
        found = self.t.idempotency_keys.get((organization_id, key))
        if found is not None:
            self.t.idempotency_keys[(organization_id, key)] = attrs.evolve(
                found, status_code=status_code, response=response
            )

    async def delete(self, organization_id: str, key: str, *, created_at: datetime) -> bool:
        found = self.t.idempotency_keys.get((organization_id, key))
        if found is None or found.created_at != created_at:
            return False
        del self.t.idempotency_keys[(organization_id, key)]
        return True

    async def delete_expired(self, organization_id: str, *, now: datetime) -> int:
        expired = [
            k
            for k, record in self.t.idempotency_keys.items()
            if k[0] == organization_id and record.expires_at <= now
        ]
        for k in expired:
            del self.t.idempotency_keys[k]
        return len(expired)


class _SealedSecrets(_Repo):
    def _all(self, kind: SecretKind) -> list[SealedSecret]:
        if kind is SecretKind.PROVIDER_CREDENTIALS:
            return [
                SealedSecret(
                    kind=kind,
                    row_id=c.id,
                    organization_id=c.organization_id,
                    sealed=Ciphertext(key_id=c.key_id, blob=c.credentials_encrypted),
                    provider=c.provider,
                )
                for c in self.t.provider_configs.values()
            ]
        return [
            SealedSecret(
                kind=kind,
                row_id=s.id,
                organization_id=s.organization_id,
                sealed=Ciphertext(key_id=s.card.key_id, blob=s.card.token_ciphertext),
            )
            for s in self.t.subscriptions.values()
            if s.card is not None
        ]

    async def count_by_key(self, kind: SecretKind) -> dict[str, int]:
        counts: dict[str, int] = {}
        for secret in self._all(kind):
            counts[secret.sealed.key_id] = counts.get(secret.sealed.key_id, 0) + 1
        return counts

    async def list_not_sealed_by(
        self, kind: SecretKind, key_id: str, *, after: str | None, limit: int
    ) -> list[SealedSecret]:
        found = sorted(
            (
                s
                for s in self._all(kind)
                if s.sealed.key_id != key_id and (after is None or s.row_id > after)
            ),
            key=lambda s: s.row_id,
        )
        return found[:limit]

    async def reseal(self, secret: SealedSecret, resealed: Ciphertext) -> bool:
        if secret.kind is SecretKind.PROVIDER_CREDENTIALS:
            config = self.t.provider_configs.get(secret.row_id)
            if config is None or (config.key_id, config.credentials_encrypted) != (
                secret.sealed.key_id,
                secret.sealed.blob,
            ):
                return False
            self.t.provider_configs[config.id] = attrs.evolve(
                config, key_id=resealed.key_id, credentials_encrypted=resealed.blob
            )
            return True
        sub = self.t.subscriptions.get(secret.organization_id)
        if (
            sub is None
            or sub.id != secret.row_id
            or sub.card is None
            or (sub.card.key_id, sub.card.token_ciphertext)
            != (secret.sealed.key_id, secret.sealed.blob)
        ):
            return False
        card = attrs.evolve(sub.card, key_id=resealed.key_id, token_ciphertext=resealed.blob)
        self.t.subscriptions[sub.organization_id] = attrs.evolve(sub, card=card)
        return True


class _Transactions(_Repo):
    async def add(self, txn: BillingTransaction) -> None:
        _require_absent(self.t.transactions, txn.id, "billing transaction")
        for other in self.t.transactions.values():
            if txn.low_profile_id and other.low_profile_id == txn.low_profile_id:
                raise Conflict("A transaction with this LowProfile id already exists.")
            if txn.external_uniq_id and other.external_uniq_id == txn.external_uniq_id:
                raise Conflict("A transaction with this external id already exists.")
        self.t.transactions[txn.id] = txn

    async def add_if_new(self, txn: BillingTransaction) -> bool:
        taken = txn.external_uniq_id is not None and any(
            other.external_uniq_id == txn.external_uniq_id for other in self.t.transactions.values()
        )
        if taken:
            return False
        await self.add(txn)
        return True

    async def add_many_if_new(self, txns: Sequence[BillingTransaction]) -> set[str]:
        return {txn.id for txn in txns if await self.add_if_new(txn)}

    async def get(self, txn_id: str) -> BillingTransaction | None:
        return self.t.transactions.get(txn_id)

    async def get_for_update(self, txn_id: str) -> BillingTransaction | None:
        return self.t.transactions.get(txn_id)

    async def get_many_for_update(self, txn_ids: Sequence[str]) -> dict[str, BillingTransaction]:
        return {i: self.t.transactions[i] for i in sorted(set(txn_ids)) if i in self.t.transactions}

    async def update_many(self, txns: Sequence[BillingTransaction]) -> None:
        for txn in txns:
            await self.update(txn)

    async def get_by_low_profile_id(self, low_profile_id: str) -> BillingTransaction | None:
        return next(
            (t for t in self.t.transactions.values() if t.low_profile_id == low_profile_id), None
        )

    async def update(self, txn: BillingTransaction) -> None:
        # As SQL's UPDATE: a transaction that was never added is not written.
        if txn.id in self.t.transactions:
            self.t.transactions[txn.id] = txn

    async def list_for_org(
        self,
        org_id: str,
        *,
        limit: int,
        offset: int = 0,
        after: tuple[datetime, str] | None = None,
    ) -> Page[BillingTransaction]:
        txns = _newest_first(t for t in self.t.transactions.values() if t.organization_id == org_id)
        return _page_after(txns, limit, offset, after, lambda t, key: (t.created_at, t.id) < key)

    async def list_by_status(
        self,
        status: TransactionStatus,
        *,
        org_id: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        limit: int = 100,
    ) -> list[BillingTransaction]:
        found = [
            t
            for t in self.t.transactions.values()
            if t.status is status
            and (org_id is None or t.organization_id == org_id)
            and (created_after is None or t.created_at > created_after)
            and (created_before is None or t.created_at < created_before)
        ]
        found.sort(key=lambda t: (t.created_at, t.id))
        return found[:limit]


class _BillingEvents(_Repo):
    async def add(self, org_id: str, event: DomainEvent) -> None:
        self.t.billing_events.append((org_id, event))

    async def add_many(self, org_id: str, events: Sequence[DomainEvent]) -> None:
        self.t.billing_events.extend((org_id, event) for event in events)

    async def add_for_orgs(self, entries: Sequence[tuple[str, DomainEvent]]) -> None:
        self.t.billing_events.extend(entries)

    async def list_for_org(self, org_id: str, *, limit: int, offset: int) -> Page[DomainEvent]:
        events = [e for o, e in self.t.billing_events if o == org_id]
        return _page(events, limit, offset)

    async def list_placed(
        self, org_id: str, *, limit: int, offset: int = 0, after: int | None = None
    ) -> Page[PlacedEvent]:
        # The place in the platform-wide list is the position, as the SQL row id is.
        placed = [
            PlacedEvent(position, event)
            for position, (o, event) in enumerate(self.t.billing_events, start=1)
            if o == org_id
        ]
        return _page_after(placed, limit, offset, after, lambda p, key: p.position > key)


class _Outbox(_Repo):
    async def add(self, message: JobMessage) -> None:
        _require_absent(self.t.outbox, message.id, "outbox message")
        self.t.outbox[message.id] = _OutboxEntry(message)

    async def claim_batch(
        self, *, limit: int, now: datetime, lease_seconds: int
    ) -> list[JobMessage]:
        ready = [
            e
            for e in self.t.outbox.values()
            if e.delivered_at is None and (e.lease_until is None or e.lease_until <= now)
        ]
        ready.sort(key=lambda e: (e.message.created_at, e.message.id))
        claimed = ready[:limit]
        for entry in claimed:
            entry.lease_until = now + timedelta(seconds=lease_seconds)
        return [e.message for e in claimed]

    async def mark_delivered(self, message_ids: Sequence[str], at: datetime) -> None:
        for message_id in message_ids:
            if message_id in self.t.outbox:
                self.t.outbox[message_id].delivered_at = at

    async def oldest_undelivered(self) -> datetime | None:
        waiting = [e.message.created_at for e in self.t.outbox.values() if e.delivered_at is None]
        return min(waiting, default=None)


class MemoryUnitOfWork:
    """Implements :class:`fitdata_core.ports.UnitOfWork` over a :class:`MemoryDatabase`."""

    def __init__(self, db: MemoryDatabase, *, read_only: bool = False) -> None:
        self._db = db
        self.read_only = read_only
        self.tables = db.tables
        self._active = False
        self.organizations = _Organizations(self)
        self.users = _Users(self)
        self.memberships = _Memberships(self)
        self.member_csv = _MemberCsv(self)
        self.member_json = _MemberJson(self)
        self.profiles = _Profiles(self)
        self.plans = _Plans(self)
        self.locations = _Locations(self)
        self.courses = _Courses(self)
        self.leads = _Leads(self)
        self.export_jobs = _ExportJobs(self)
        self.import_jobs = _ImportJobs(self)
        self.provider_configs = _ProviderConfigs(self)
        self.subscriptions = _Subscriptions(self)
        self.billing_transactions = _Transactions(self)
        self.billing_events = _BillingEvents(self)
        self.outbox = _Outbox(self)
        self.sealed_secrets = _SealedSecrets(self)
        self.imports = MemoryImportData(self)
        self.idempotency_keys = _IdempotencyKeys(self)

    async def __aenter__(self) -> Self:
        if self._active:
            raise FitdataError("A unit of work cannot be entered twice.")
        if not self.read_only:
            await self._db.lock.acquire()
        self._active = True
        self.tables = self._db.tables.copy()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.tables = self._db.tables  # drop whatever was not committed
        self._active = False
        if not self.read_only:
            self._db.lock.release()

    async def commit(self) -> None:
        if self.read_only:
            raise FitdataError("A read-only unit of work cannot commit.")
        self._db.tables = self.tables
        self.tables = self._db.tables.copy()

    async def rollback(self) -> None:
        self.tables = self._db.tables.copy()


class MemoryUnitOfWorkFactory:
    """Makes units of work over one shared :class:`MemoryDatabase`."""

    def __init__(self, db: MemoryDatabase | None = None) -> None:
        self.db = db or MemoryDatabase()

    def __call__(
        self, *, read_only: bool = False, separate_reads: bool = False
    ) -> MemoryUnitOfWork:
        # Reads of the shared tables cost no round trips: ``separate_reads`` is read-only.
        return MemoryUnitOfWork(self.db, read_only=read_only or separate_reads)

"""Organizations, users, memberships and member profiles."""

from __future__ import annotations

import functools
import operator
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import attrs
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from fitdata_adapters.db import tables as t
from fitdata_adapters.db.errors import translate_errors
from fitdata_adapters.db.repositories.base import SqlRepository, SqlSession
from fitdata_core.access import OrgAccess
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
from fitdata_core.model.tiers import PlatformTier
from fitdata_core.ports.repositories import MEMBER_ATTRIBUTES, MemberFilter, Page

# --- organizations -------------------------------------------------------------------------


def _org_values(org: Organization) -> dict[str, Any]:
    return {
        "id": org.id,
        "name": org.name,
        "platform_tier": org.platform_tier.value,
        "created_at": org.created_at,
    }


def _org(row: Mapping[str, Any]) -> Organization:
    return Organization(
        id=row["id"],
        name=row["name"],
        platform_tier=PlatformTier(row["platform_tier"]),
        created_at=row["created_at"],
    )


# Built once: every billing change locks and may update its organization.
_ORG_FOR_UPDATE = (
    sa.select(t.organizations)
    .where(t.organizations.c.id == sa.bindparam("org_id"))
    .with_for_update()
)
_ORGS_FOR_UPDATE = (
    sa.select(t.organizations)
    .where(t.organizations.c.id.in_(sa.bindparam("org_ids", expanding=True)))
    .order_by(t.organizations.c.id)
    .with_for_update()
)
_UPDATE_ORG = t.organizations.update().where(t.organizations.c.id == sa.bindparam("org_id"))


class SqlOrganizationRepository(SqlRepository):
    async def add(self, org: Organization) -> None:
        await self._db.execute(t.organizations.insert().values(_org_values(org)))

    async def get(self, org_id: str) -> Organization | None:
        row = await self._db.one_or_none(
            sa.select(t.organizations).where(t.organizations.c.id == org_id)
        )
        return None if row is None else _org(row)

    async def get_for_update(self, org_id: str) -> Organization | None:
        row = await self._db.one_or_none(_ORG_FOR_UPDATE, {"org_id": org_id})
        return None if row is None else _org(row)

    async def get_many_for_update(self, org_ids: Sequence[str]) -> dict[str, Organization]:
        if not org_ids:
            return {}
        rows = await self._db.all(_ORGS_FOR_UPDATE, {"org_ids": sorted(set(org_ids))})
        return {row["id"]: _org(row) for row in rows}

    async def update(self, org: Organization) -> None:
        await self._db.execute(_UPDATE_ORG, {**_org_values(org), "org_id": org.id})


# --- users ---------------------------------------------------------------------------------


def _user_values(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": normalize_email(user.email),
        "first_name": user.first_name,
        "last_name": user.last_name,
        "phone": user.phone,
        "is_platform_admin": user.is_platform_admin,
        "created_at": user.created_at,
        "tokens_valid_after": user.tokens_valid_after,
    }


def _user(row: Mapping[str, Any]) -> User:
    return User(
        id=row["id"],
        email=row["email"],
        first_name=row["first_name"],
        last_name=row["last_name"],
        phone=row["phone"],
        created_at=row["created_at"],
        is_platform_admin=bool(row["is_platform_admin"]),
        tokens_valid_after=row["tokens_valid_after"],
    )


_USER = sa.select(t.users).where(t.users.c.id == sa.bindparam("user_id"))


def _user_with_access() -> sa.Select[Any]:
    """The user's row, the organization's id if it exists, and the user's membership in it
    if any (its columns prefixed ``m_``): one indexed read per table."""
    u, o, m = t.users, t.organizations, t.memberships
    joined = u.outerjoin(o, o.c.id == sa.bindparam("org_id")).outerjoin(
        m, sa.and_(m.c.organization_id == o.c.id, m.c.user_id == u.c.id)
    )
    return (
        sa.select(*u.c, o.c.id.label("found_org_id"), *(c.label("m_" + c.name) for c in m.c))
        .select_from(joined)
        .where(u.c.id == sa.bindparam("user_id"))
    )


# Built once: every org-scoped API request's authentication asks it.
_USER_WITH_ACCESS = _user_with_access()
_M_PREFIXED = tuple("m_" + c.name for c in t.memberships.c)


class SqlUserRepository(SqlRepository):
    """Emails are stored normalised, so a user comes back with the lower-case email."""

    async def add(self, user: User) -> None:
        await self._db.execute(t.users.insert().values(_user_values(user)))

    async def get(self, user_id: str) -> User | None:
        row = await self._db.one_or_none(_USER, {"user_id": user_id})
        return None if row is None else _user(row)

    async def get_with_access(self, user_id: str, org_id: str) -> tuple[User | None, OrgAccess]:
        row = await self._db.one_or_none(_USER_WITH_ACCESS, {"user_id": user_id, "org_id": org_id})
        if row is None:  # no such user; the organization was not looked at
            return None, OrgAccess(org_id, org_exists=False, membership=None)
        membership = None
        if row["m_id"] is not None:
            membership = _membership({name[2:]: row[name] for name in _M_PREFIXED})
        return _user(row), OrgAccess(org_id, row["found_org_id"] is not None, membership)

    async def get_by_email(self, email: str) -> User | None:
        row = await self._db.one_or_none(
            sa.select(t.users).where(t.users.c.email == normalize_email(email))
        )
        return None if row is None else _user(row)

    async def update(self, user: User) -> None:
        await self._db.execute(
            t.users.update().where(t.users.c.id == user.id).values(_user_values(user))
        )


# --- memberships ---------------------------------------------------------------------------


def _membership_values(m: Membership) -> dict[str, Any]:
    return {
        "id": m.id,
        "organization_id": m.organization_id,
        "user_id": m.user_id,
        "role": m.role.value,
        "status": m.status.value,
        "plan_id": m.plan_id,
        "start_date": m.start_date,
        "end_date": m.end_date,
        "created_at": m.created_at,
    }


def _membership(row: Mapping[str, Any]) -> Membership:
    return Membership(
        id=row["id"],
        organization_id=row["organization_id"],
        user_id=row["user_id"],
        role=Role(row["role"]),
        status=MembershipStatus(row["status"]),
        created_at=row["created_at"],
        plan_id=row["plan_id"],
        start_date=row["start_date"],
        end_date=row["end_date"],
    )


_PROFILE_FIELDS = (
    "birth_date",
    "gender",
    "address",
    "city",
    "notes",
    "zip_code",
    "additional_phone",
    "emergency_contact_name",
    "emergency_contact_phone",
    "external_source",
    "external_id",
    "updated_at",
)


def _profile_values(p: MemberProfile) -> dict[str, Any]:
    values = {name: getattr(p, name) for name in _PROFILE_FIELDS}
    return {"organization_id": p.organization_id, "user_id": p.user_id, **values}


def _profile(row: Mapping[str, Any]) -> MemberProfile:
    return MemberProfile(
        organization_id=row["organization_id"],
        user_id=row["user_id"],
        **{name: row[name] for name in _PROFILE_FIELDS},
    )


# The members query selects three tables whose column names overlap; prefixes keep them apart.
_PREFIXES = (("m_", t.memberships), ("u_", t.users), ("p_", t.member_profiles))
_MEMBER_COLUMNS = [col.label(prefix + col.name) for prefix, table in _PREFIXES for col in table.c]


_M_NAMES = tuple(col.name for col in t.memberships.c)
_U_NAMES = tuple(col.name for col in t.users.c)
_P_NAMES = tuple(col.name for col in t.member_profiles.c)
_M_END = len(_M_NAMES)
_U_END = _M_END + len(_U_NAMES)


def _picker(names: tuple[str, ...], start: int, wanted: Sequence[str]) -> Any:
    """An ``itemgetter`` of the ``wanted`` columns of the table whose ``names`` start at
    ``start`` in a row of ``_MEMBER_COLUMNS``, in the order of ``wanted`` (a column that is
    not there fails at import)."""
    at = {name: start + i for i, name in enumerate(names)}
    return operator.itemgetter(*(at[name] for name in wanted))


# The fields each row gives, picked by position: a page builds 50 members, and three dicts per
# row (one per table, to read them by name) cost about as much again as the objects.
_MEMBERSHIP_FIELDS = (
    "id",
    "organization_id",
    "user_id",
    "role",
    "status",
    "created_at",
    "plan_id",
    "start_date",
    "end_date",
)
_USER_FIELDS = (
    "id",
    "email",
    "first_name",
    "last_name",
    "phone",
    "created_at",
    "is_platform_admin",
    "tokens_valid_after",
)
_MEMBERSHIP_AT = _picker(_M_NAMES, 0, _MEMBERSHIP_FIELDS)
_USER_AT = _picker(_U_NAMES, _M_END, _USER_FIELDS)
# In the order of MemberProfile's fields, which are all columns: built positionally.
_PROFILE_AT = _picker(_P_NAMES, _U_END, [f.name for f in attrs.fields(MemberProfile)])
_PROFILE_USER_ID = _U_END + _P_NAMES.index("user_id")  # NULL: the member has no profile


def _member_row_of(row: Sequence[Any]) -> MemberRow:
    """The :class:`MemberRow` of a positional row of ``_MEMBER_COLUMNS`` (the list and the
    stream). Columns after them (the list's total) are left alone."""
    m_id, org_id, m_user_id, role, status, m_created, plan_id, start, end = _MEMBERSHIP_AT(row)
    u_id, email, first_name, last_name, phone, u_created, admin, valid_after = _USER_AT(row)
    return MemberRow(
        membership=Membership(
            id=m_id,
            organization_id=org_id,
            user_id=m_user_id,
            role=Role(role),
            status=MembershipStatus(status),
            created_at=m_created,
            plan_id=plan_id,
            start_date=start,
            end_date=end,
        ),
        user=User(
            id=u_id,
            email=email,
            first_name=first_name,
            last_name=last_name,
            phone=phone,
            created_at=u_created,
            is_platform_admin=bool(admin),
            tokens_valid_after=valid_after,
        ),
        profile=None if row[_PROFILE_USER_ID] is None else MemberProfile(*_PROFILE_AT(row)),
    )


def _members_select(columns: Sequence[sa.ColumnElement[Any]] = ()) -> sa.Select[Any]:
    """``columns`` (all of each member's, by default) of memberships joined to users,
    left-joined to profiles."""
    m, u, p = t.memberships, t.users, t.member_profiles
    joined = m.join(u, u.c.id == m.c.user_id).outerjoin(
        p, sa.and_(p.c.organization_id == m.c.organization_id, p.c.user_id == m.c.user_id)
    )
    return sa.select(*(columns or _MEMBER_COLUMNS)).select_from(joined)


def members_query(org_id: str, member_filter: MemberFilter) -> sa.Select[Any]:
    """The members of an organization matching ``member_filter``: memberships joined to
    users, left-joined to profiles (shared with :mod:`.member_csv`)."""
    return _narrowed(_members_select(), org_id, *_filter_values(member_filter))


def _filter_values(member_filter: MemberFilter) -> tuple[list[str] | None, list[str] | None]:
    roles = sorted(r.value for r in member_filter.roles) or None
    statuses = sorted(s.value for s in member_filter.statuses) or None
    return roles, statuses


def _narrowed(query: sa.Select[Any], org_id: Any, roles: Any, statuses: Any) -> sa.Select[Any]:
    """``query`` (over memberships) narrowed to the organization, and to ``roles`` and
    ``statuses`` unless ``None``: values, or bound parameters for a statement built once."""
    m = t.memberships
    query = query.where(m.c.organization_id == org_id)
    if roles is not None:
        query = query.where(m.c.role.in_(roles))
    if statuses is not None:
        query = query.where(m.c.status.in_(statuses))
    return query


def members_count_query(org_id: str, member_filter: MemberFilter) -> sa.Select[Any]:
    """How many rows :func:`members_query` matches, counted on memberships alone.

    Exact, not an estimate: every membership has its user (``user_id`` is a non-null foreign
    key, so the inner join keeps each membership once) and at most one profile (the
    profile's key is ``(organization_id, user_id)``, so the left join adds no row), and the
    filter is on membership columns only. Counting one table lets Postgres answer from the
    ``(organization_id, role, status)`` index alone (an index-only scan) instead of joining
    the gym's users and profiles on every first page.
    """
    return _count_of(org_id, *_filter_values(member_filter))


def _count_of(org_id: Any, roles: Any, statuses: Any) -> sa.Select[Any]:
    return _narrowed(sa.select(sa.func.count()).select_from(t.memberships), org_id, roles, statuses)


def _page_ids(org_id: Any, roles: Any, statuses: Any) -> Any:
    """The membership ids of the page at ``:offset``, found on the narrow join of memberships
    and users alone: Postgres hashes and sorts ids and emails, then reads the wide rows
    (profiles, all columns) of the page's ``:limit`` members only. Walking the whole join up
    to the offset read every skipped member's profile too (~190 ms at 9,000 against ~40 ms,
    the count included)."""
    m, u = t.memberships, t.users
    query = sa.select(m.c.id).select_from(m.join(u, u.c.id == m.c.user_id))
    query = _narrowed(query, org_id, roles, statuses).order_by(*MEMBER_ORDER)
    return (
        query.limit(sa.bindparam("limit", type_=sa.Integer))
        .offset(sa.bindparam("offset", type_=sa.Integer))
        .scalar_subquery()
    )


_PageKind = str  # "first", "offset" or "after"


@functools.cache
def _member_page_statement(
    by_role: bool,
    by_status: bool,
    kind: _PageKind,
    columns: tuple[sa.ColumnElement[Any], ...] = (),
) -> sa.Select[Any]:
    """The statement of a page of this kind for filters of this shape, built once with bound
    parameters (``org_id``, ``roles``, ``statuses``, ``limit``, ``offset``, ``after_email``):
    building and keying it per request was about 0.3 ms of CPU. Twelve shapes per set of
    ``columns`` (each member's own columns by default; the JSON pages pass theirs)."""
    org_id: sa.BindParameter[str] = sa.bindparam(
        "org_id", type_=t.memberships.c.organization_id.type
    )
    # Typed as the columns they are compared with (so ``EXPLAIN`` can render them).
    roles: sa.BindParameter[str] | None = (
        sa.bindparam("roles", expanding=True, type_=sa.String()) if by_role else None
    )
    statuses: sa.BindParameter[str] | None = (
        sa.bindparam("statuses", expanding=True, type_=sa.String()) if by_status else None
    )
    query = _narrowed(_members_select(columns), org_id, roles, statuses)
    if kind == "after":
        after = _after_member(sa.bindparam("after_email", type_=t.users.c.email.type), "")
        return (
            query.where(after)
            .order_by(*MEMBER_ORDER)
            .limit(sa.bindparam("limit", type_=sa.Integer))
        )
    total = _count_of(org_id, roles, statuses).scalar_subquery().label("total")
    query = query.add_columns(total).order_by(*MEMBER_ORDER)
    if kind == "offset":
        return query.where(t.memberships.c.id.in_(_page_ids(org_id, roles, statuses)))
    # The first page walks the email index and stops after ``limit`` rows.
    return query.limit(sa.bindparam("limit", type_=sa.Integer))


def member_page(
    org_id: str,
    member_filter: MemberFilter,
    *,
    limit: int,
    offset: int = 0,
    after: tuple[str, str] | None = None,
    columns: tuple[sa.ColumnElement[Any], ...] = (),
) -> tuple[sa.Select[Any], dict[str, Any]]:
    """The statement of one page of :meth:`SqlMembershipRepository.list_members` and its
    parameters (selecting ``columns`` instead of each member's own when given).

    After a cursor: the rows after it, no total. Otherwise the rows plus a last column
    ``total`` (:func:`members_count_query` as a scalar subquery, which Postgres runs once
    per statement): a first or offset page costs one round trip, not two. The first page
    walks the email index and stops after ``limit`` rows; a page at an offset finds its ids
    on the narrow join first (:func:`_page_ids`).
    """
    roles, statuses = _filter_values(member_filter)
    kind = "after" if after is not None else "offset" if offset else "first"
    statement = _member_page_statement(roles is not None, statuses is not None, kind, columns)
    params: dict[str, Any] = {"org_id": org_id, "limit": limit, "offset": offset}
    if roles is not None:
        params["roles"] = roles
    if statuses is not None:
        params["statuses"] = statuses
    if after is not None:
        params["after_email"] = after[0]
    return statement, params


async def member_page_total(
    db: SqlSession,
    org_id: str,
    member_filter: MemberFilter,
    found: Sequence[Sequence[Any]],
    *,
    offset: int,
) -> int:
    """The total of a first or offset page from its rows (the last column of
    :func:`member_page`'s statement); a page past the end, with no row to carry it, counts."""
    if found:
        return int(found[0][-1])
    if not offset:
        return 0
    count = members_count_query(org_id, member_filter)
    return int((await db.execute(count)).scalar_one())


def member_page_query(
    org_id: str,
    member_filter: MemberFilter,
    *,
    limit: int,
    offset: int = 0,
    after: tuple[str, str] | None = None,
) -> sa.Select[Any]:
    """:func:`member_page` with its values bound in (for ``EXPLAIN``: bench/member_pages.py)."""
    statement, params = member_page(org_id, member_filter, limit=limit, offset=offset, after=after)
    return statement.params(params)


# The order every member listing and stream follows.
MEMBER_ORDER = (t.users.c.email, t.memberships.c.id)


def _after_member(email: Any, membership_id: str) -> sa.ColumnElement[bool]:
    """Rows sorting after ``(email, membership_id)`` in :data:`MEMBER_ORDER`.

    Emails are unique (``users.email``) and a user belongs to an organization once, so within
    one organization's list the email alone orders the rows and the id never breaks a tie:
    "after" is ``email > e``. That plain range is what lets Postgres walk the users' email
    index from the cursor (a row comparison across two tables could not be an index
    condition, and an ``OR`` on the id made the planner hash-join the whole tail instead).
    """
    del membership_id  # part of the cursor so the order stays total if emails ever repeat
    after: sa.ColumnElement[bool] = t.users.c.email > email
    return after


# MEMBER_ATTRIBUTES (the port's attribute paths) to the columns that hold them.
ATTRIBUTE_COLUMNS: dict[str, sa.ColumnElement[Any]] = {
    f"{part}.{name}": table.c[name]
    for part, table in (
        ("membership", t.memberships),
        ("user", t.users),
        ("profile", t.member_profiles),
    )
    for name in table.c.keys()  # noqa: SIM118 - a ColumnCollection, not a dict
    if f"{part}.{name}" in MEMBER_ATTRIBUTES
}


# Built once: billing looks the owners up on every activation and renewal.
_ACTIVE_OWNER_EMAILS = (
    sa.select(t.users.c.email)
    .select_from(t.memberships.join(t.users, t.users.c.id == t.memberships.c.user_id))
    .where(
        t.memberships.c.organization_id == sa.bindparam("org_id"),
        t.memberships.c.role == Role.OWNER.value,
        t.memberships.c.status == MembershipStatus.ACTIVE.value,
    )
    .order_by(*MEMBER_ORDER)
    .limit(sa.bindparam("limit"))
)


def _active_owner_emails_of() -> sa.Select[Any]:
    """Every listed organization's first ``limit`` active owners (the order of
    :data:`_ACTIVE_OWNER_EMAILS`), numbered per organization by a window: one statement for a
    whole batch of renewals instead of one per renewal. Built once, the ids expanded."""
    m = t.memberships
    ranked = (
        sa.select(
            m.c.organization_id,
            t.users.c.email,
            sa.func.row_number()
            .over(partition_by=m.c.organization_id, order_by=MEMBER_ORDER)
            .label("rank"),
        )
        .select_from(m.join(t.users, t.users.c.id == m.c.user_id))
        .where(
            m.c.organization_id.in_(sa.bindparam("org_ids", expanding=True)),
            m.c.role == Role.OWNER.value,
            m.c.status == MembershipStatus.ACTIVE.value,
        )
        .subquery()
    )
    return (
        sa.select(ranked.c.organization_id, ranked.c.email)
        .where(ranked.c.rank <= sa.bindparam("limit"))
        .order_by(ranked.c.organization_id, ranked.c.rank)
    )


_ACTIVE_OWNER_EMAILS_OF = _active_owner_emails_of()


def _membership_with_org() -> sa.Select[Any]:
    """The organization's id (if it exists) beside the user's membership in it (if any)."""
    o, m = t.organizations, t.memberships
    joined = o.outerjoin(
        m, sa.and_(m.c.organization_id == o.c.id, m.c.user_id == sa.bindparam("user_id"))
    )
    return (
        sa.select(o.c.id.label("found_org_id"), *m.c)
        .select_from(joined)
        .where(o.c.id == sa.bindparam("org_id"))
    )


# Built once: every authorized request asks it (and the token check reads the user).
_MEMBERSHIP_WITH_ORG = _membership_with_org()
_MEMBERSHIP = sa.select(t.memberships).where(
    t.memberships.c.organization_id == sa.bindparam("org_id"),
    t.memberships.c.user_id == sa.bindparam("user_id"),
)


class SqlMembershipRepository(SqlRepository):
    async def add(self, membership: Membership) -> None:
        await self._db.execute(t.memberships.insert().values(_membership_values(membership)))

    async def get(self, org_id: str, user_id: str) -> Membership | None:
        row = await self._db.one_or_none(_MEMBERSHIP, {"org_id": org_id, "user_id": user_id})
        return None if row is None else _membership(row)

    async def get_with_org(self, org_id: str, user_id: str) -> tuple[bool, Membership | None]:
        row = await self._db.one_or_none(
            _MEMBERSHIP_WITH_ORG, {"org_id": org_id, "user_id": user_id}
        )
        if row is None:
            return False, None
        return True, None if row["id"] is None else _membership(row)

    async def update(self, membership: Membership) -> None:
        await self._db.execute(
            t.memberships.update()
            .where(t.memberships.c.id == membership.id)
            .values(_membership_values(membership))
        )

    async def active_owner_emails_of(
        self, org_ids: Sequence[str], *, limit: int
    ) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        if not org_ids:
            return found
        rows = await self._db.execute(
            _ACTIVE_OWNER_EMAILS_OF, {"org_ids": list(org_ids), "limit": limit}
        )
        for row in rows:
            found.setdefault(row.organization_id, []).append(row.email)
        return found

    async def active_owner_emails(self, org_id: str, *, limit: int) -> list[str]:
        """One indexed join, no count and no profile columns (unlike :meth:`list_members`)."""
        rows = await self._db.execute(_ACTIVE_OWNER_EMAILS, {"org_id": org_id, "limit": limit})
        return list(rows.scalars())

    async def list_members(
        self,
        org_id: str,
        member_filter: MemberFilter,
        *,
        limit: int,
        offset: int = 0,
        after: tuple[str, str] | None = None,
    ) -> Page[MemberRow]:
        """One statement per page (:func:`member_page`), total included; only a page
        past the end, which has no row to carry the total, counts separately. Rows are
        converted by position (:func:`_member_row_of`), not by their prefixed names."""
        query, params = member_page(org_id, member_filter, limit=limit, offset=offset, after=after)
        if after is not None:
            rows = [_member_row_of(row) for row in await self._db.execute(query, params)]
            return Page(items=rows, total=None, limit=limit, offset=None)
        found = list(await self._db.execute(query, params))
        total = await member_page_total(self._db, org_id, member_filter, found, offset=offset)
        items = [_member_row_of(row) for row in found]
        return Page(items=items, total=total, limit=limit, offset=offset)

    async def stream_members(
        self, org_id: str, member_filter: MemberFilter, *, batch_size: int = 1000
    ) -> AsyncIterator[MemberRow]:
        """One ordered query read through a server-side cursor, ``batch_size`` rows at a time.

        Only one batch is in memory however many members there are, and the database joins
        and sorts once. (Keyset pages were tried first: every page re-ran the join and the
        sort of the whole organization, which made a million-row export quadratic.) The
        cursor lives in the unit of work's transaction, so the export sees one snapshot.
        """
        query = members_query(org_id, member_filter).order_by(*MEMBER_ORDER)
        with translate_errors():
            result = await self._db.conn.stream(query.execution_options(yield_per=batch_size))
            try:
                async for batch in result.partitions(batch_size):
                    for row in batch:
                        yield _member_row_of(row)
            finally:
                await result.close()

    async def stream_member_values(
        self,
        org_id: str,
        member_filter: MemberFilter,
        attributes: Sequence[str],
        *,
        batch_size: int = 1000,
    ) -> AsyncIterator[Sequence[Sequence[object]]]:
        """:meth:`stream_members`'s query selecting only ``attributes``, through a server-side
        cursor; each batch is the driver's rows as they are (no domain objects)."""
        unknown = set(attributes) - set(ATTRIBUTE_COLUMNS)
        if unknown:
            raise ValueError(f"unknown member attributes: {sorted(unknown)}")
        query = (
            members_query(org_id, member_filter)
            .with_only_columns(*(ATTRIBUTE_COLUMNS[path] for path in attributes))
            .order_by(*MEMBER_ORDER)
        )
        with translate_errors():
            result = await self._db.conn.stream(query.execution_options(yield_per=batch_size))
            try:
                async for batch in result.partitions(batch_size):
                    yield batch
            finally:
                await result.close()


# --- member profiles -----------------------------------------------------------------------


class SqlMemberProfileRepository(SqlRepository):
    async def upsert(self, profile: MemberProfile) -> None:
        values = _profile_values(profile)
        insert = (postgresql.insert if self._db.is_postgres else sqlite.insert)(t.member_profiles)
        statement = insert.values(values)
        statement = statement.on_conflict_do_update(
            index_elements=["organization_id", "user_id"],
            set_={name: statement.excluded[name] for name in _PROFILE_FIELDS},
        )
        await self._db.execute(statement)

    async def get(self, org_id: str, user_id: str) -> MemberProfile | None:
        p = t.member_profiles
        row = await self._db.one_or_none(
            sa.select(p).where(p.c.organization_id == org_id, p.c.user_id == user_id)
        )
        return None if row is None else _profile(row)

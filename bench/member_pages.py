"""Benchmark: what a member-list page costs on Postgres, first page vs deep by offset vs deep
by cursor, read from ``EXPLAIN (ANALYZE, BUFFERS)``.

What it does (see bench/README.md):

1. creates a throwaway database on ``--database-url``'s server, migrates it, and fills it
   with ``--orgs`` organizations: one of ``--members`` (10,000) members, half with a profile,
   and the others sharing ``--others`` more users, so the gym is one among several; then
   ``ANALYZE``;
2. runs the member list's own SQL (``member_page_query``, the statement ``list_members``
   runs: a page of 50 plus the one extra row the use case asks for, with the total in it)
   as the first page, at ``OFFSET 9000`` and after the cursor of the 9,000th member,
   ``--repeats`` times each;
3. prints per page the plan's shape, the shared buffers it touched and the median execution
   time; then drops the database.

Usage::

    uv run python bench/member_pages.py
    uv run python bench/member_pages.py --members 100000 --others 400000
"""

from __future__ import annotations

import argparse
import re
import statistics
import uuid

import psycopg
from sqlalchemy.dialects import postgresql

from fitdata_adapters.db.migrate import upgrade
from fitdata_adapters.db.repositories.organizations import member_page_query
from fitdata_core.ports.repositories import MemberFilter

PAGE = 51  # a page of 50 plus the row that tells whether there is a next page


def _seed(conn: psycopg.Connection, orgs: int, members: int, others: int) -> None:
    conn.execute(
        "INSERT INTO organizations SELECT 'org' || g, 'Gym ' || g, 'pro', now() "
        "FROM generate_series(0, %s) g",
        (orgs - 1,),
    )
    conn.execute(
        "INSERT INTO users (id, email, is_platform_admin, created_at) "
        "SELECT 'u' || g, 'user' || md5(g::text) || '@example.com', false, now() "
        "FROM generate_series(1, %s) g",
        (members + others,),
    )
    conn.execute(
        "INSERT INTO memberships SELECT 'm' || g, "
        "CASE WHEN g <= %(members)s THEN 'org0' "
        "ELSE 'org' || (1 + (g - %(members)s - 1) %% %(rest)s) END, "
        "'u' || g, 'member', 'active', NULL, now() FROM generate_series(1, %(total)s) g",
        {"members": members, "rest": max(orgs - 1, 1), "total": members + others},
    )
    conn.execute(
        "INSERT INTO member_profiles (organization_id, user_id, city, updated_at) "
        "SELECT 'org0', 'u' || g, 'Haifa', now() FROM generate_series(1, %s, 2) g",
        (members,),
    )
    conn.execute("ANALYZE")


def _sql(after: tuple[str, str] | None = None, offset: int = 0) -> str:
    query = member_page_query("org0", MemberFilter(), limit=PAGE, offset=offset, after=after)
    return str(query.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))


def _explain(conn: psycopg.Connection, sql: str, repeats: int) -> tuple[str, int, float]:
    """(the plan's scan nodes, shared buffers touched, median execution ms)."""
    times: list[float] = []
    buffers = 0
    shape = ""
    for _ in range(repeats):
        lines = [row[0] for row in conn.execute(f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {sql}")]
        times.append(float(re.search(r"Execution Time: ([\d.]+)", "\n".join(lines))[1]))  # type: ignore[index]
        top = next(line for line in lines if "Buffers:" in line)
        buffers = sum(int(n) for n in re.findall(r"(?:hit|read)=(\d+)", top))
        # The plan's nodes below Limit, e.g. "Index Scan using uq_users_email on users".
        shape = " > ".join(
            re.sub(r"\s*\(actual.*", "", line.strip().removeprefix("->  "))
            for line in lines[1:]
            if line.strip().startswith("->")
        )
    return shape, buffers, statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--orgs", type=int, default=10)
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--others", type=int, default=20_000)
    parser.add_argument("--deep", type=int, default=9_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    name = f"fitdata_bench_pages_{uuid.uuid4().hex[:8]}"
    server = args.database_url
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = server.rsplit("/", 1)[0] + f"/{name}"
    try:
        upgrade(url)
        with psycopg.connect(url, autocommit=True) as conn:
            _seed(conn, args.orgs, args.members, args.others)
            row = conn.execute(
                "SELECT u.email, m.id FROM memberships m JOIN users u ON u.id = m.user_id "
                "WHERE m.organization_id = 'org0' ORDER BY u.email, m.id OFFSET %s LIMIT 1",
                (args.deep - 1,),
            ).fetchone()
            assert row is not None
            print(
                f"member list pages on Postgres: a gym of {args.members:,} members among "
                f"{args.members + args.others:,} users, page of 50 (+1), "
                f"median of {args.repeats}"
            )
            for label, sql in (
                ("first page", _sql()),
                (f"offset {args.deep:,}", _sql(offset=args.deep)),
                (f"cursor after member {args.deep:,}", _sql(after=(row[0], row[1]))),
            ):
                shape, buffers, ms = _explain(conn, sql, args.repeats)
                print(f"  {label:28s} {ms:8.2f} ms  {buffers:6d} buffers  {shape}")
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()

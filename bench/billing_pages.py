"""Benchmark: what a page of the payment history costs on Postgres, first page vs deep by
offset vs deep by cursor, and the count an offset page adds, read from ``EXPLAIN (ANALYZE,
BUFFERS)``.

What it does (see bench/README.md):

1. creates a throwaway database on ``--database-url``'s server, migrates it, and fills
   ``platform_billing_transactions`` with ``--rows`` (100,000) transactions spread over
   ``--orgs`` (10) organizations, an hour apart; then ``ANALYZE``;
2. runs the list's own statements for one organization (its filter, newest-first order and
   keyset condition from the SQL repository; a page of 20 plus the one extra row the use case
   asks for) as the first page, at ``OFFSET 9000`` and after the cursor of its 9,000th
   transaction, and the count an offset page runs, ``--repeats`` times each;
3. prints per statement its plan's scan lines, the shared buffers it touched and the median
   execution time; then drops the database.

Usage::

    uv run python bench/billing_pages.py
    uv run python bench/billing_pages.py --rows 1000000
"""

from __future__ import annotations

import argparse
import statistics
import uuid
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from fitdata_adapters.db import tables as t
from fitdata_adapters.db.migrate import upgrade
from fitdata_adapters.db.repositories.base import older_than

PAGE = 21  # a page of 20 (the route's default) plus the row that tells there is a next one


def _sql(statement: sa.Select[Any]) -> str:
    return str(
        statement.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
    )


def _explain(conn: psycopg.Connection[Any], sql: str, repeats: int) -> tuple[list[str], float]:
    plan = [row[0] for row in conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)]
    times = []
    for _ in range(repeats):
        lines = [row[0] for row in conn.execute("EXPLAIN (ANALYZE) " + sql)]
        times.append(float(next(x for x in lines if x.startswith("Execution Time")).split()[2]))
    return plan, statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--orgs", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()

    name = f"fitdata_bench_billing_pages_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(args.database_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = args.database_url.rsplit("/", 1)[0] + f"/{name}"
    try:
        upgrade(url)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO organizations (id, name, platform_tier, created_at) "
                "SELECT 'org-' || g, 'Gym ' || g, 'pro', now() FROM generate_series(0, %s) g",
                (args.orgs - 1,),
            )
            conn.execute(
                "INSERT INTO platform_billing_transactions (id, organization_id, kind, tier, "
                "amount, currency, status, created_at, metadata) "
                "SELECT md5(g::text), 'org-' || (g %% %s), 'renewal', 'pro', 199, 'ILS', "
                "'completed', timestamptz '2020-01-01' + g * interval '1 hour', '{}'::jsonb "
                "FROM generate_series(1, %s) g",
                (args.orgs, args.rows),
            )
            conn.execute("ANALYZE")
            b = t.platform_billing_transactions
            org = "org-1"
            listed = sa.select(b).where(b.c.organization_id == org)
            order = (b.c.created_at.desc(), b.c.id.desc())
            key = conn.execute(
                "SELECT created_at, id FROM platform_billing_transactions "
                "WHERE organization_id = %s ORDER BY created_at DESC, id DESC OFFSET 8999 LIMIT 1",
                (org,),
            ).fetchone()
            assert key is not None, "fewer than 9,000 transactions in the org: raise --rows"
            statements = {
                "first page": listed.order_by(*order).limit(PAGE),
                "OFFSET 9000": listed.order_by(*order).limit(PAGE).offset(9000),
                "cursor after row 9,000": listed.where(older_than(b, key[0], key[1]))
                .order_by(*order)
                .limit(PAGE),
                "count (offset pages only)": sa.select(sa.func.count()).select_from(
                    listed.subquery()
                ),
            }
            print(f"payment history of one org among {args.orgs}, {args.rows:,} transactions")
            for label, statement in statements.items():
                plan, median = _explain(conn, _sql(statement), args.repeats)
                buffers = next((x.strip() for x in plan if "Buffers" in x), "")
                print(f"\n{label}: median {median:.3f} ms over {args.repeats} runs; {buffers}")
                for line in plan:
                    if "Scan" in line or "Sort" in line:
                        print("   " + line.strip()[:150])
    finally:
        with psycopg.connect(args.database_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')


if __name__ == "__main__":
    main()

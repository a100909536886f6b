"""The benchmarks stay runnable and keep their correctness checks, at a size CI can afford.

Speed targets are judged by the full runs (bench/README.md), never here: the machines are
shared and noisy. These runs prove the scripts work end to end and that their built-in checks
hold: every subscription charged exactly once; the export completes with flat memory.
"""

from __future__ import annotations

import pstats
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fitdata_adapters.db import tables
from fitdata_adapters.db.engine import create_sync_engine

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]


def _run(script: str, *args: str, timeout: float = 240) -> str:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=ROOT,
    )
    assert done.returncode == 0, f"{script} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_renewal_benchmark_charges_each_subscription_exactly_once(
    postgres_server_url: str,
) -> None:
    out = _run(
        "renewals.py",
        "--database-url",
        postgres_server_url,
        "--subscriptions",
        "120",
        "--levels",
        "8",
        "--serial-sample",
        "10",
        "--latency-ms",
        "10",
    )
    assert "concurrency   8: 120 renewed" in out
    assert out.count("each charged exactly once") == 2
    assert "charges/s" in out


def test_renewal_benchmark_compares_cost_per_renewal_with_another_commit(
    postgres_server_url: str,
) -> None:
    # HEAD as OLD: the point is that both sides run (one from a git archive) and are checked.
    out = _run(
        "renewals.py",
        "--database-url",
        postgres_server_url,
        "--subscriptions",
        "20",
        "--latency-ms",
        "5",
        "--compare",
        "HEAD",
        "--compare-rounds",
        "1",
        "--compare-concurrency",
        "4",
        timeout=420,
    )
    assert "OLD (HEAD):" in out
    assert "NEW (this checkout):" in out
    assert out.count("each charged exactly once") == 2
    assert "statements/renewal" in out
    assert "statements in" in out  # per-renewal figures on each side's line


def test_webhook_benchmark_activates_every_checkout_once(postgres_server_url: str) -> None:
    out = _run(
        "webhooks.py",
        "--database-url",
        postgres_server_url,
        "--rate",
        "10",
        "--seconds",
        "2",
        timeout=420,
    )
    assert "20 webhooks at" in out
    assert "all completed once" in out
    assert "p99" in out
    assert "CPU ms/webhook" in out


def test_webhook_benchmark_profiles_the_server_it_measures(
    postgres_server_url: str, tmp_path: Path
) -> None:
    profile = tmp_path / "serve.pstats"
    out = _run(
        "webhooks.py",
        "--database-url",
        postgres_server_url,
        "--rate",
        "10",
        "--seconds",
        "1",
        "--profile",
        str(profile),
        timeout=420,
    )
    assert "all completed once" in out
    profiled = pstats.Stats(str(profile)).stats  # type: ignore[attr-defined]  # untyped in typeshed
    handlers = {name for (path, _, name) in profiled if path.endswith("controllers/webhooks.py")}
    assert "cardcom" in handlers  # the webhook ran in the profiled process


def test_export_benchmark_measures_export_and_copy_side_by_side(
    postgres_server_url: str,
) -> None:
    out = _run(
        "exports.py", "--database-url", postgres_server_url, "--sizes", "1500", "--repeats", "1"
    )
    assert "export path" in out
    assert "COPY" in out
    # Both ceilings: the plain columns and the export's own SQL (the fair one).
    assert "COPY own SQL:" in out
    assert "of COPY of the export's own SQL (the fair ceiling)" in out
    assert "target memory (flat, < 200 MB at 1M rows): MET" in out


def test_api_benchmark_serves_every_row_without_errors(postgres_server_url: str) -> None:
    out = _run(
        "api.py",
        "--database-url",
        postgres_server_url,
        "--members",
        "30",
        "--concurrency",
        "4",
        "--requests",
        "20",
        "--analytics-requests",
        "3",
        "--duration",
        "20",
        "--startup-rounds",
        "1",
    )
    assert "seeded the demo gym: 37 people listed" in out
    for row in (
        "GET members?limit=50 ",
        "GET members?limit=50&offset=0 ",
        "GET analytics/workouts-summary ",
        "fitdata serve -> /readyz 200 (.pyc cached) ",
    ):
        assert row in out, row
    # Timed from cached bytecode whatever the shell says (this one may well set
    # PYTHONDONTWRITEBYTECODE): a first, untimed start writes the cache.
    assert "(first start, writes .pyc)" in out
    # Every request answered 200 with a full page: the script exits non-zero otherwise, and
    # each load row reports its requests and no errors.
    assert "   20    0 " in out
    assert "    3    0 " in out


def test_billing_pages_benchmark_reads_a_deep_cursor_page_from_the_index(
    postgres_server_url: str,
) -> None:
    out = _run(
        "billing_pages.py",
        "--database-url",
        postgres_server_url,
        "--rows",
        "18002",
        "--orgs",
        "2",
        "--repeats",
        "1",
    )
    assert "payment history of one org among 2, 18,002 transactions" in out
    for row in ("first page:", "OFFSET 9000:", "cursor after row 9,000:", "count (offset pages"):
        assert row in out, row
    cursor_page = out.split("cursor after row 9,000:")[1].split("count (offset pages")[0]
    assert "ix_platform_billing_transactions_organization_id_created_at_id" in cursor_page


def test_import_benchmark_runs_both_sources_and_a_re_import_writes_nothing(
    postgres_server_url: str,
) -> None:
    out = _run(
        "imports.py",
        "--database-url",
        postgres_server_url,
        "--sizes",
        "300",
        "--enrich-sizes",
        "",
        "--latency-ms",
        "0",
        "--csv-sizes",
        "2000",
    )
    assert out.count("completed in") == 4  # two Arbox runs, two CSV runs
    assert "'unchanged': 300" in out
    re_import = out.split("identical re-import")[-1]
    assert "rows written 0," in re_import  # the engine's CSV re-import
    assert "rows written 0;" in re_import  # the ceiling's
    assert "engine/ceiling" in out


def test_import_benchmark_repeats_the_csv_cases_and_prints_their_medians(
    postgres_server_url: str,
) -> None:
    out = _run(
        "imports.py",
        "--database-url",
        postgres_server_url,
        "--cases",
        "csv",
        "--csv-sizes",
        "2000",
        "--csv-repeats",
        "2",
    )
    assert out.count("completed in") == 4  # two repeats of a first import and a re-import
    runs = [line for line in out.splitlines() if "identical re-import: engine" in line]
    assert len(runs) == 2
    assert all("rows written 0," in line for line in runs)
    medians = [line for line in out.splitlines() if "medians of 2" in line]
    assert [m.split(":")[0].rsplit(",", 1)[1].strip() for m in medians] == [
        "first import",
        "identical re-import",
    ]
    assert all("engine/ceiling" in m and "each repeat:" in m for m in medians)


def test_workouts_summary_benchmark_times_both_queries_on_the_same_rows(clean_pg_url: str) -> None:
    created = datetime(2025, 1, 1, tzinfo=UTC)
    engine = create_sync_engine(clean_pg_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                tables.organizations.insert(),
                [
                    {"id": o, "name": o, "platform_tier": "lite", "created_at": created}
                    for o in ("busy", "quiet")
                ],
            )
            conn.execute(
                tables.users.insert(),
                [
                    {
                        "id": f"u{n}",
                        "email": f"u{n}@example.com",
                        "is_platform_admin": False,
                        "created_at": created,
                    }
                    for n in range(20)
                ],
            )
            start = datetime(2025, 11, 20, tzinfo=UTC)
            conn.execute(
                tables.workouts.insert(),
                [
                    {
                        "id": f"w{n}",
                        "organization_id": "quiet" if n % 5 == 0 else "busy",
                        "user_id": f"u{n % 20}",
                        "performed_at": start + timedelta(hours=7 * n),
                        "kind": ("run", "yoga", "swim")[n % 3],
                        "duration_minutes": None if n % 4 == 0 else 30,
                        "calories": 200,
                    }
                    for n in range(1_500)
                ],
            )
    finally:
        engine.dispose()

    out = _run("workouts_summary.py", clean_pg_url, "--rounds", "2", "--explain")
    assert "gym busy: 1200 workouts; 2 alternating rounds per range" in out
    # The script asserts that both return the same rows; each range prints both medians.
    assert out.count("read model median") == 3
    assert "--- workouts query ---" in out
    assert "--- read model ---" in out
    assert "workout_member_years" in out

"""Benchmark: the first Cardcom webhook (the activation) under an open-loop load.

What it does, all in one run (see bench/README.md):

1. creates a throwaway Postgres database (``fitdata_bench_<random>``) on the server given by
   ``--database-url``, migrates it, and drops it at the end;
2. starts the Cardcom sandbox as its own process, makes ``--rate`` x ``--seconds`` hosted
   pages and pays each with the test card (no webhook reaches us from the sandbox: its
   notification URL is a closed port), and seeds one pro-checkout organization per page: an
   owner, and the *pending* checkout transaction that names the page;
3. starts a real ``fitdata serve`` (embedded mode on that Postgres database, mail to the
   outbox folder, Cardcom = the sandbox) on a loopback port;
4. sends ``POST /webhooks/cardcom`` for every page on an open-loop schedule: request ``i``
   leaves at ``start + i / rate`` whether or not the earlier ones have answered (what Cardcom
   does), at most ``--max-in-flight`` at once, each with a 30 s timeout; a request's latency
   counts from its scheduled moment, so a server that falls behind shows it;
5. checks every answer was ``{"status": "completed"}`` and every organization is on pro with
   an active subscription (each activated once), and prints p50/p90/p99/max and the server's
   CPU per webhook (from ``/proc``); a request the generator gave up on (30 s timeout) counts
   as "unanswered" with a latency of the time it waited, and any other answer stops the bench;
6. with ``--compare REVISION``: does 2-5 twice per round, once with a server running the
   fitdata of REVISION (OLD) and once this checkout's (NEW), alternating, and prints them
   side by side;
7. with ``--profile FILE``: runs this checkout's server under cProfile on its CPU clock
   (``bench/profiled_serve.py``) and writes the pstats to FILE.

Usage::

    uv run python bench/webhooks.py                         # 50/s for 30 s, this checkout
    uv run python bench/webhooks.py --compare main --rounds 3
    uv run python bench/webhooks.py --rate 20 --seconds 5   # a quick look
    uv run python bench/webhooks.py --rate 30 --seconds 20 --profile /tmp/serve.pstats

Loopback only: the sandbox, the server and the load generator are all on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory

import attrs
import httpx
import sqlalchemy as sa

from fitdata_adapters.cardcom import CardcomGateway
from fitdata_adapters.crypto.keyring import KeyringCipher
from fitdata_adapters.db import tables as t
from fitdata_adapters.db.engine import create_sync_engine
from fitdata_adapters.logging import configure_logging
from fitdata_core.errors import ProviderError
from fitdata_core.money import Money
from fitdata_core.ports.providers import CheckoutRequest
from renewals import (  # the sibling benchmark: same throwaway database and sandbox
    API_NAME,
    DEFAULT_SERVER,
    TERMINAL,
    Sandbox,
    create_database,
    drop_database,
    old_code,
)

PRICE = Money(249)


@attrs.frozen
class Run:
    """One load run against one server."""

    side: str
    latencies_ms: list[float]
    statuses: dict[str, int]
    cpu_seconds: float
    achieved_rate: float

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


# --- seeding -------------------------------------------------------------------------------


async def paid_pages(base_url: str, txn_ids: list[str]) -> list[str]:
    """One hosted page per transaction id (its ReturnValue), each paid with the test card.
    Returns the LowProfile ids in the same order."""
    gateway = CardcomGateway(
        base_url=base_url,
        terminal_number=TERMINAL,
        api_name=API_NAME,
        webhook_url="http://127.0.0.1:9/unused",  # nobody listens: we send the webhooks
        success_url="http://127.0.0.1:9/ok",
        failed_url="http://127.0.0.1:9/failed",
    )
    slots = asyncio.Semaphore(16)
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as control:

        async def one(txn_id: str) -> str:
            # Seeding is not measured: on a loaded machine the sandbox sometimes drops a
            # connection, so a page is tried again (a page that never gets paid is harmless).
            for attempt in range(5):
                try:
                    async with slots:
                        page = await gateway.create_checkout(
                            CheckoutRequest(txn_id, PRICE, "fitdata Pro plan (benchmark)")
                        )
                        paid = await control.post(
                            f"/_sandbox/low-profiles/{page.low_profile_id}/pay"
                        )
                        paid.raise_for_status()
                        return page.low_profile_id
                except (ProviderError, httpx.HTTPError):
                    if attempt == 4:
                        raise
                    await asyncio.sleep(1 + attempt)
            raise AssertionError("unreachable")

        try:
            return await asyncio.gather(*(one(txn_id) for txn_id in txn_ids))
        finally:
            await gateway.aclose()


def seed(url: str, sandbox_url: str, count: int) -> list[str]:
    """``count`` lite organizations, each with an active owner and a pending pro checkout on
    a paid sandbox page. Returns the pages' LowProfile ids."""
    now = datetime.now(UTC)
    orgs, users, members, txns = [], [], [], []
    for number in range(count):
        org_id, user_id, txn_id = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
        # Two hours old: past the reconciler's look-back (an hour), which would otherwise
        # settle them from the server's own scheduler before the webhooks arrive, and far
        # from the week after which pending checkouts expire. The activation ignores age.
        created = now - timedelta(hours=2)
        orgs.append({"id": org_id, "name": f"Bench gym {number}", "platform_tier": "lite",
                     "created_at": created})  # fmt: skip
        users.append({"id": user_id, "email": f"owner-{user_id}@bench.example",
                      "first_name": "Owner", "last_name": str(number), "phone": None,
                      "is_platform_admin": False, "created_at": created,
                      "tokens_valid_after": None})  # fmt: skip
        members.append({"id": str(uuid.uuid4()), "organization_id": org_id, "user_id": user_id,
                        "role": "owner", "status": "active", "plan_id": None,
                        "created_at": created})  # fmt: skip
        txns.append({"id": txn_id, "organization_id": org_id, "kind": "checkout", "tier": "pro",
                     "amount": PRICE.amount, "currency": PRICE.currency, "status": "pending",
                     "created_at": created, "metadata": {"tier": "pro"}, "low_profile_id": None,
                     "external_uniq_id": None, "provider_transaction_id": None,
                     "completed_at": None, "failure_reason": None,
                     "alerted_at": None})  # fmt: skip
    pages = asyncio.run(paid_pages(sandbox_url, [txn["id"] for txn in txns]))
    for txn, page in zip(txns, pages, strict=True):
        txn["low_profile_id"] = page
    engine = create_sync_engine(url)
    try:
        with engine.begin() as conn:
            for table, rows in ((t.organizations, orgs), (t.users, users),
                                (t.memberships, members),
                                (t.platform_billing_transactions, txns)):  # fmt: skip
                for start in range(0, len(rows), 2000):
                    conn.execute(table.insert(), rows[start : start + 2000])
            conn.execute(sa.text("ANALYZE"))
    finally:
        engine.dispose()
    return pages


def verify_activated(url: str, count: int) -> None:
    engine = create_sync_engine(url)
    try:
        with engine.connect() as conn:
            active = conn.scalar(
                sa.text("SELECT count(*) FROM platform_subscriptions WHERE status = 'active'")
            )
            pro = conn.scalar(
                sa.text("SELECT count(*) FROM organizations WHERE platform_tier = 'pro'")
            )
    finally:
        engine.dispose()
    if active != count or pro != count:
        sys.exit(f"database check failed: {active} active subscriptions, {pro} pro orgs")


# --- the server ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Server:
    """``fitdata serve`` as a child process; ``code`` runs another commit's fitdata."""

    def __init__(
        self,
        url: str,
        sandbox_url: str,
        keys: str,
        data_dir: Path,
        code: Path | None,
        profile: Path | None = None,
    ) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "FITDATA_MODE": "embedded",
            "FITDATA_DATA_DIR": str(data_dir),
            "FITDATA_DATABASE_URL": url,
            "FITDATA_JWT_SECRET": "bench-secret-bench-secret-bench-secret-00",
            "FITDATA_PUBLIC_URL": self.base_url,
            "FITDATA_CARDCOM_BASE_URL": sandbox_url,
            "FITDATA_CARDCOM_TERMINAL_NUMBER": str(TERMINAL),
            "FITDATA_CARDCOM_API_NAME": API_NAME,
            "FITDATA_CREDENTIAL_KEYS": keys,
        }
        if code is not None:
            env["PYTHONPATH"] = str(code)  # before site-packages: wins over this checkout
        command = [sys.executable, "-m", "fitdata_adapters.cli", "serve", "--port", str(self.port)]
        if profile is not None:  # the same command under cProfile (bench/profiled_serve.py)
            command[1:3] = [str(Path(__file__).with_name("profiled_serve.py")), str(profile)]
        # Its stderr to a file (a pipe nobody reads could fill and stall it), shown if it
        # never gets ready: an OLD revision that predates the database's newest migration,
        # for one, refuses to start.
        log = Path(tempfile.mkdtemp(prefix="fitdata-bench-webhooks-")) / "serve.log"
        with log.open("wb") as stderr:
            self.process = subprocess.Popen(
                command, env=env, stdout=subprocess.DEVNULL, stderr=stderr
            )
        deadline = time.monotonic() + 180  # a loaded machine imports slowly
        while True:
            try:
                if httpx.get(f"{self.base_url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                tail = log.read_text(errors="replace")[-3000:]
                sys.exit(f"fitdata serve did not become ready; its log ({log}) ends:\n{tail}")
            time.sleep(0.25)

    def cpu_seconds(self) -> float:
        """User + system CPU of the server process so far (Linux ``/proc``)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# --- the load ------------------------------------------------------------------------------


async def open_loop(
    base_url: str, pages: list[str], *, rate: float, max_in_flight: int
) -> tuple[list[float], Counter[str], float]:
    """Send one webhook per page on the schedule ``start + i / rate``; latencies in ms from
    each request's scheduled moment. Returns latencies, answer counts and the achieved rate."""
    slots = asyncio.Semaphore(max_in_flight)
    latencies: list[float] = []
    answers: Counter[str] = Counter()
    limits = httpx.Limits(max_connections=max_in_flight, max_keepalive_connections=max_in_flight)
    async with httpx.AsyncClient(base_url=base_url, timeout=30, limits=limits) as client:

        async def one(page: str, due: float) -> None:
            async with slots:
                try:
                    answer = await client.post(
                        "/webhooks/cardcom",
                        json={"LowProfileId": page, "ResponseCode": 0},
                    )
                    status = (
                        str(answer.json().get("status"))
                        if answer.status_code == 200
                        else f"http {answer.status_code}"
                    )
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
            latencies.append((time.perf_counter() - due) * 1000)
            answers[status] += 1

        start = time.perf_counter() + 0.2
        tasks = []
        for i, page in enumerate(pages):
            due = start + i / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            tasks.append(asyncio.create_task(one(page, due)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
    return latencies, answers, len(pages) / elapsed


def run_once(
    side: str, server_url: str, sandbox_url: str, keys: str, tmp: Path, code: Path | None,
    args: argparse.Namespace,
) -> Run:  # fmt: skip
    count = round(args.rate * args.seconds)
    name, url = create_database(server_url)
    try:
        pages = seed(url, sandbox_url, count)
        profile = args.profile if code is None else None
        server = Server(url, sandbox_url, keys, tmp / f"data-{name}", code, profile)
        try:
            cpu_before = server.cpu_seconds()
            latencies, answers, achieved = asyncio.run(
                open_loop(server.base_url, pages, rate=args.rate, max_in_flight=args.max_in_flight)
            )
            cpu = server.cpu_seconds() - cpu_before
        finally:
            server.stop()
        # A request the load generator gave up on (its 30 s timeout, a refused connection) is
        # a result, not a bench failure: it is counted and shown. Any other answer is a bug.
        wrong = {k: v for k, v in answers.items() if k != "completed" and not k[0].isupper()}
        if wrong:
            sys.exit(f"{side}: unexpected answers {dict(answers)}")
        if answers["completed"] == count:
            verify_activated(url, count)
    finally:
        drop_database(server_url, name)
    run = Run(side, latencies, dict(answers), cpu, achieved)
    failed = count - answers["completed"]
    outcome = "all completed once" if not failed else f"{failed} NOT answered ({dict(answers)})"
    print(f"  {side}: {count} webhooks at {achieved:.1f}/s, {outcome}; "
          f"p50 {run.percentile(50):.0f} ms, p90 {run.percentile(90):.0f} ms, "
          f"p99 {run.percentile(99):.0f} ms, max {max(latencies):.0f} ms; "
          f"server CPU {1000 * cpu / count:.1f} ms per webhook")  # fmt: skip
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default=DEFAULT_SERVER,
        help="A Postgres server URL (a user that may CREATE DATABASE).",
    )
    parser.add_argument("--rate", type=float, default=50.0, help="Webhooks per second.")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--max-in-flight", type=int, default=256)
    parser.add_argument(
        "--compare",
        metavar="REVISION",
        help="Also run a server on REVISION's fitdata (OLD) beside this one.",
    )
    parser.add_argument("--rounds", type=int, default=1, help="Runs per side (medians shown).")
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="FILE",
        help="Run this checkout's server under cProfile (CPU clock) and write its pstats to "
        "FILE (the last run's). Its CPU figure then includes the profiler's overhead.",
    )
    args = parser.parse_args()
    keys = KeyringCipher.generate_spec("bench")
    configure_logging("WARNING")
    sandbox = Sandbox()
    runs: list[Run] = []
    try:
        with TemporaryDirectory() as tmp_name:
            tmp = Path(tmp_name)
            code = old_code(args.compare, tmp / "old") if args.compare else None
            sides: list[tuple[str, Path | None]] = [("NEW", None)]
            if code is not None:
                sides.insert(0, ("OLD", code))
            print(f"fitdata webhook benchmark: {args.rate:g}/s open loop for {args.seconds:g} s, "
                  "one fitdata serve on Postgres, Cardcom sandbox on loopback")  # fmt: skip
            for _ in range(args.rounds):
                for side, source in sides:
                    label = f"{side} ({args.compare if source else 'this checkout'})"
                    runs.append(
                        run_once(label, args.database_url, sandbox.base_url, keys, tmp, source,
                                 args)
                    )  # fmt: skip
    finally:
        sandbox.stop()
    print()
    print(f"{'':>26} | {'p50 ms':>7} | {'p90 ms':>7} | {'p99 ms':>7} | {'max ms':>7} | "
          f"{'CPU ms/webhook':>14} | {'unanswered':>10}")  # fmt: skip
    print("-" * 97)
    for label in dict.fromkeys(run.side for run in runs):
        mine = [run for run in runs if run.side == label]
        count = len(mine[0].latencies_ms)

        def median(values: list[float]) -> float:
            return statistics.median(values)

        print(f"{label:>26} | {median([r.percentile(50) for r in mine]):>7.0f} | "
              f"{median([r.percentile(90) for r in mine]):>7.0f} | "
              f"{median([r.percentile(99) for r in mine]):>7.0f} | "
              f"{median([max(r.latencies_ms) for r in mine]):>7.0f} | "
              f"{median([1000 * r.cpu_seconds / count for r in mine]):>14.1f} | "
              f"{median([count - r.statuses.get('completed', 0) for r in mine]):>10.0f}"
              )  # fmt: skip
    print(f"(medians of {args.rounds} run(s) per side; target p99 <= 100 ms)")


if __name__ == "__main__":
    main()

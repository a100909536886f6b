"""``fitdata billing ...`` against the same Postgres and Cardcom sandbox as the app."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from typing import Any

import attrs
import pytest
from billing_http_harness import API_NAME, CREDENTIAL_KEYS, JWT_SECRET, TERMINAL, GymUsers, Stack
from typer.testing import CliRunner

from fitdata_adapters.cardcom_sandbox import TOKEN_DECLINES_LATER_CARD
from fitdata_adapters.cli import app
from fitdata_core.model.billing import RETRY_SPACING

pytestmark = pytest.mark.integration


@attrs.frozen
class Ran:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def _environment(stack: Stack, **extra: str | None) -> dict[str, str | None]:
    env: dict[str, str | None] = {
        "FITDATA_DATA_DIR": str(stack.settings.data_dir),
        "FITDATA_MODE": "embedded",
        "FITDATA_DATABASE_URL": stack.database_url,
        "FITDATA_JWT_SECRET": JWT_SECRET,
        "FITDATA_PUBLIC_URL": stack.settings.public_url,
        "FITDATA_CARDCOM_BASE_URL": stack.settings.cardcom_base_url,
        "FITDATA_CARDCOM_TERMINAL_NUMBER": str(TERMINAL),
        "FITDATA_CARDCOM_API_NAME": API_NAME,
        "FITDATA_CREDENTIAL_KEYS": CREDENTIAL_KEYS,
        "FITDATA_LOG_LEVEL": "WARNING",
    }
    return env | extra


async def fitdata(stack: Stack, *args: str, **env: str | None) -> Ran:
    """Run the CLI in a worker thread (it runs its own event loop, as from a shell)."""

    def run() -> Ran:
        result = CliRunner().invoke(app, list(args), env=_environment(stack, **env))
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return Ran(result.exit_code, result.stdout, result.stderr)

    return await asyncio.to_thread(run)


async def test_cli_renew_charges_due_subscriptions_even_with_the_kill_switch_off(
    stack: Stack,
) -> None:
    gym = await stack.gym()
    await stack.activate(gym)
    period_end = datetime.fromisoformat((await stack.status(gym))["currentPeriodEnd"])
    at = (period_end + timedelta(hours=1)).isoformat()

    ran = await fitdata(
        stack,
        "billing", "renew", "--at", at, "--limit", "10", "--concurrency", "2", "--json",
        FITDATA_BILLING_SCHEDULE_ENABLED="false",
    )  # fmt: skip

    assert ran.exit_code == 0, ran.stderr
    assert ran.json()["renewed"] == 1
    assert ran.json()["sweep"] == "renewals"
    assert len(await stack.token_charges()) == 1
    assert (await stack.status(gym))["currentPeriodStart"] == period_end.isoformat().replace(
        "+00:00", "Z"
    )


async def test_cli_renew_plain_output_is_the_counts(stack: Stack) -> None:
    ran = await fitdata(stack, "billing", "renew", "--at", "2030-01-01T00:00:00Z")

    assert ran.exit_code == 0, ran.stderr
    assert ran.stdout.strip() == (
        "renewed=0 failed=0 cancelled_max_failures=0 expired_no_token=0 "
        "cancelled_scheduled=0 skipped=0 errors=0"
    )


async def test_cli_reconcile_settles_a_paid_checkout(stack: Stack) -> None:
    gym = await stack.gym()
    await stack.suppress_webhooks()
    session = await stack.checkout(gym)
    await stack.pay(session["lowProfileId"])
    at = (stack.clock.now() + timedelta(minutes=3)).isoformat()

    ran = await fitdata(stack, "billing", "reconcile", "--at", at, "--json")

    assert ran.exit_code == 0, ran.stderr
    assert ran.json()["completed"] == 1
    assert (await stack.status(gym))["tier"] == "pro"


async def test_cli_expire_stale_cancels_week_old_checkouts(stack: Stack) -> None:
    gym = await stack.gym()
    await stack.checkout(gym)
    at = (stack.clock.now() + timedelta(days=7, minutes=1)).isoformat()

    ran = await fitdata(stack, "billing", "expire-stale", "--at", at)

    assert ran.exit_code == 0, ran.stderr
    assert ran.stdout.strip() == "cancelled=1"
    assert [t["status"] for t in await stack.transactions(gym)] == ["cancelled"]


async def test_cli_force_cancel(stack: Stack) -> None:
    gym = await stack.gym()
    await stack.activate(gym)

    ran = await fitdata(stack, "billing", "force-cancel", "--org", gym.org_id, "--json")

    assert ran.exit_code == 0, ran.stderr
    assert ran.json()["tier"] == "lite"
    assert ran.json()["cancelReason"] == "admin-force-cancel"
    assert (await stack.status(gym))["status"] == "cancelled"


async def test_cli_refuses_bad_input_with_exit_2(stack: Stack) -> None:
    bad_time = await fitdata(stack, "billing", "renew", "--at", "next tuesday")
    bad_org = await fitdata(stack, "billing", "force-cancel", "--org", "gym-1")
    no_cardcom = await fitdata(stack, "billing", "reconcile", FITDATA_CARDCOM_BASE_URL=None)
    helped = await fitdata(stack, "billing", "renew", "--help")

    assert bad_time.exit_code == 2
    assert "--at must be an ISO-8601 date-time" in bad_time.stderr
    assert "'next tuesday'" in bad_time.stderr
    assert bad_org.exit_code == 2
    assert "--org must be an organization id" in bad_org.stderr
    assert no_cardcom.exit_code == 2
    assert "FITDATA_CARDCOM_BASE_URL" in no_cardcom.stderr
    assert "kill switch" in helped.stdout


# --- dunning played with --at (issue 7 item 2) -----------------------------------------------


async def _period_end(stack: Stack, gym: GymUsers) -> datetime:
    return datetime.fromisoformat((await stack.status(gym))["currentPeriodEnd"])


async def test_R3_played_with_at_on_successive_days_cancels_to_lite(stack: Stack) -> None:
    # QA row R3 on a running system: three daily sweeps, all run now, one after the other.
    gym = await stack.gym()
    await stack.activate(gym, card=TOKEN_DECLINES_LATER_CARD)
    end = await _period_end(stack, gym)

    counts: list[tuple[int, int, int]] = []
    next_attempts: list[str | None] = []
    for day in range(3):
        at = end + timedelta(days=day, hours=2)
        ran = await fitdata(stack, "billing", "renew", "--at", at.isoformat(), "--json")
        assert ran.exit_code == 0, ran.stderr
        report = ran.json()
        counts.append((report["failed"], report["cancelled_max_failures"], report["skipped"]))
        status = await stack.status(gym)
        next_attempts.append(status["nextPaymentAttemptAt"])
        if day < 2:
            assert (status["status"], status["failedPaymentCount"]) == ("past_due", day + 1)
            assert datetime.fromisoformat(str(status["nextPaymentAttemptAt"])) == at + RETRY_SPACING

    assert counts == [(1, 0, 0), (1, 0, 0), (0, 1, 0)]
    assert next_attempts[2] is None
    status = await stack.status(gym)
    assert (status["status"], status["tier"]) == ("cancelled", "lite")
    assert status["cancelReason"] == "max-failed-payments"
    assert status["failedPaymentCount"] == 3
    assert datetime.fromisoformat(status["cancellationEffectiveAt"]) == end + timedelta(
        days=2, hours=2
    )
    charges = await stack.token_charges()
    assert len(charges) == 3
    assert not any(c["Charged"] for c in charges)


async def test_two_sweeps_at_the_same_at_make_one_attempt(stack: Stack) -> None:
    gym = await stack.gym()
    await stack.activate(gym, card=TOKEN_DECLINES_LATER_CARD)
    at = (await _period_end(stack, gym) + timedelta(hours=2)).isoformat()

    first = await fitdata(stack, "billing", "renew", "--at", at, "--json")
    second = await fitdata(stack, "billing", "renew", "--at", at, "--json")

    assert (first.exit_code, second.exit_code) == (0, 0), second.stderr
    assert (first.json()["failed"], first.json()["skipped"]) == (1, 0)
    assert (second.json()["failed"], second.json()["skipped"]) == (0, 1)
    assert len(await stack.token_charges()) == 1
    status = await stack.status(gym)
    assert (status["status"], status["failedPaymentCount"]) == ("past_due", 1)

"""Issue 7 item 5 from the operator's side: ``fitdata token revoke`` and admin token limits."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from cli_support import run_cli

from fitdata_adapters.bootstrap import bootstrap
from fitdata_adapters.settings import Settings
from fitdata_adapters.tokens import verify_token
from fitdata_core.model.organizations import User
from support.fakes import NoPayments

pytestmark = pytest.mark.integration


def _stored_user(email: str) -> User:
    async def read() -> User:
        runtime = bootstrap(Settings.from_env(), payment_gateway=NoPayments())
        try:
            async with runtime.services.uow() as uow:
                user = await uow.users.get_by_email(email)
        finally:
            await runtime.aclose()
        assert user is not None
        return user

    return asyncio.run(read())


def _create_org(owner: str) -> None:
    outcome = run_cli(["org", "create", "--name", "Gym", "--owner-email", owner])
    assert outcome.exit_code == 0, outcome.stderr


def test_revoke_records_the_cutoff_and_drops_the_admin_flag_on_request() -> None:
    _create_org("ops@example.com")
    issued = run_cli(["token", "--email", "ops@example.com", "--platform-admin", "--json"])
    assert issued.exit_code == 0, issued.stderr
    assert _stored_user("ops@example.com").is_platform_admin is True  # granted by the CLI
    before = datetime.now(UTC)

    outcome = run_cli(["token", "revoke", "--email", "OPS@example.com", "--json"])

    assert outcome.exit_code == 0, outcome.stderr
    data = outcome.json()
    user = _stored_user("ops@example.com")
    assert user.tokens_valid_after is not None
    assert user.tokens_valid_after > before
    assert data == {
        "user_id": user.id,
        "email": "ops@example.com",
        "tokens_valid_after": user.tokens_valid_after.isoformat(),
        "platform_admin": True,
    }
    claims = verify_token(Settings.from_env().jwt_secret, issued.json()["token"])
    assert not user.accepts_token_issued_at(claims.issued_at)  # the issued token is dead

    plain = run_cli(["token", "revoke", "--email", "ops@example.com", "--drop-platform-admin"])
    assert plain.exit_code == 0, plain.stderr
    user = _stored_user("ops@example.com")
    assert plain.stdout.strip() == user.tokens_valid_after.isoformat()  # type: ignore[union-attr]
    assert user.is_platform_admin is False


def test_revoking_an_unknown_email_is_refused() -> None:
    _create_org("owner@example.com")
    outcome = run_cli(["token", "revoke", "--email", "nobody@example.com"])
    assert outcome.exit_code == 2
    assert "No user has the email nobody@example.com." in outcome.stderr


def test_a_platform_admin_token_lives_a_day_at_most() -> None:
    _create_org("ops@example.com")
    default = run_cli(["token", "--email", "ops@example.com", "--platform-admin", "--json"])
    assert default.exit_code == 0, default.stderr
    expires = datetime.fromisoformat(default.json()["expires_at"])
    assert 23.9 * 3600 < (expires - datetime.now(UTC)).total_seconds() <= 24 * 3600

    refused = run_cli(["token", "--email", "ops@example.com", "--platform-admin", "--days", "2"])
    assert refused.exit_code == 2
    assert "at most 24 hours" in refused.stderr
    assert refused.stdout == ""

    ordinary = run_cli(["token", "--email", "ops@example.com", "--days", "30", "--json"])
    assert ordinary.exit_code == 0, ordinary.stderr


def test_token_without_email_or_subcommand_is_refused() -> None:
    outcome = run_cli(["token"])
    assert outcome.exit_code == 2
    assert "--email" in outcome.stderr

"""The operator commands: what they print (scripts rely on it) and how they refuse."""

from __future__ import annotations

import uuid

import pytest
from cli_support import Outcome, run_cli

from fitdata_adapters.settings import Settings
from fitdata_adapters.tokens import verify_token

pytestmark = pytest.mark.integration


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def _create_org(name: str = "Gym Ha'Ir", owner: str = "Owner@Example.com") -> str:
    outcome = run_cli(["org", "create", "--name", name, "--owner-email", owner])
    assert outcome.exit_code == 0, outcome.stderr
    return outcome.stdout.strip()


def _assert_refused(outcome: Outcome, *needles: str) -> None:
    assert outcome.exit_code == 2
    assert outcome.stdout == ""
    lines = outcome.stderr.strip().splitlines()
    assert len(lines) == 1, outcome.stderr
    assert lines[0].startswith("fitdata: error: ")
    for needle in needles:
        assert needle in lines[0]
    assert "Traceback" not in outcome.stderr


def test_org_create_prints_the_new_id_alone() -> None:
    outcome = run_cli(["org", "create", "--name", "Gym", "--owner-email", "boss@example.com"])

    assert outcome.exit_code == 0
    assert outcome.stdout.endswith("\n")
    assert _is_uuid(outcome.stdout.strip())
    assert outcome.stdout.count("\n") == 1


def test_org_create_json_prints_one_object() -> None:
    outcome = run_cli(
        ["org", "create", "--name", " Gym ", "--owner-email", "Boss@Example.com", "--json"]
    )

    assert outcome.exit_code == 0
    data = outcome.json()
    assert _is_uuid(data["id"])
    assert data["name"] == "Gym"
    assert data["platform_tier"] == "lite"
    assert data["owner_email"] == "boss@example.com"


def test_member_add_prints_the_user_id_and_the_owner_is_found_by_email() -> None:
    org_id = _create_org()

    coach = run_cli(
        ["member", "add", "--org", org_id, "--email", "coach@example.com", "--role", "coach"]
    )
    # The owner was created with the org; adding them elsewhere reuses the same user.
    other_org = _create_org("Second gym", "someone@example.com")
    owner_again = run_cli(
        ["member", "add", "--org", other_org, "--email", "OWNER@example.com", "--role", "admin"]
    )

    assert coach.exit_code == 0
    assert _is_uuid(coach.stdout.strip())
    assert owner_again.exit_code == 0
    owner_token = run_cli(["token", "--email", "owner@example.com", "--json"]).json()
    assert owner_token["user_id"] == owner_again.stdout.strip()


def test_member_add_json_names_the_membership() -> None:
    org_id = _create_org()

    outcome = run_cli(
        [
            "member", "add", "--org", org_id, "--email", "Dana@Example.com",
            "--role", "MEMBER", "--status", "invited",
            "--first-name", "דנה", "--last-name", "לוי", "--phone", "052-1234567",
            "--json",
        ]
    )  # fmt: skip

    assert outcome.exit_code == 0, outcome.stderr
    data = outcome.json()
    assert _is_uuid(data["user_id"])
    assert data == {
        "user_id": data["user_id"],
        "org_id": org_id,
        "email": "dana@example.com",
        "role": "member",
        "status": "invited",
    }


def test_token_prints_a_token_that_verifies() -> None:
    org_id = _create_org()
    user_id = run_cli(
        ["member", "add", "--org", org_id, "--email", "a@example.com", "--role", "admin"]
    ).stdout.strip()

    outcome = run_cli(["token", "--email", "A@example.com"])

    assert outcome.exit_code == 0
    token = outcome.stdout.strip()
    assert outcome.stdout == token + "\n"
    claims = verify_token(Settings.from_env().jwt_secret, token)
    assert claims.user_id == user_id
    assert claims.is_platform_admin is False


def test_token_json_with_the_platform_admin_claim() -> None:
    _create_org(owner="ops@example.com")

    outcome = run_cli(["token", "--email", "ops@example.com", "--platform-admin", "--json"])

    assert outcome.exit_code == 0
    data = outcome.json()
    assert data["platform_admin"] is True
    assert data["email"] == "ops@example.com"
    claims = verify_token(Settings.from_env().jwt_secret, data["token"])
    assert claims.is_platform_admin is True
    assert claims.user_id == data["user_id"]


def test_migrate_prints_the_revision_and_is_idempotent() -> None:
    first = run_cli(["migrate"])
    second = run_cli(["migrate", "--json"])

    assert first.exit_code == 0
    assert second.exit_code == 0
    assert second.json() == {"revision": first.stdout.strip()}


def test_unknown_role_is_refused() -> None:
    org_id = _create_org()
    outcome = run_cli(
        ["member", "add", "--org", org_id, "--email", "x@example.com", "--role", "wizard"]
    )
    _assert_refused(outcome, "unknown role 'wizard'", "owner, admin, coach, member")


def test_unknown_status_is_refused() -> None:
    org_id = _create_org()
    outcome = run_cli(
        [
            "member", "add", "--org", org_id, "--email", "x@example.com",
            "--role", "member", "--status", "asleep",
        ]
    )  # fmt: skip
    _assert_refused(outcome, "unknown status 'asleep'")


def test_bad_email_is_refused() -> None:
    org_id = _create_org()
    outcome = run_cli(
        ["member", "add", "--org", org_id, "--email", "not-an-email", "--role", "coach"]
    )
    _assert_refused(outcome, "email is not a valid email address")


def test_bad_owner_email_is_refused() -> None:
    _assert_refused(
        run_cli(["org", "create", "--name", "Gym", "--owner-email", "nobody@"]), "email"
    )


def test_empty_org_name_is_refused() -> None:
    _assert_refused(
        run_cli(["org", "create", "--name", "  ", "--owner-email", "a@example.com"]), "name"
    )


def test_unknown_org_is_refused() -> None:
    outcome = run_cli(
        ["member", "add", "--org", "no-such-org", "--email", "x@example.com", "--role", "coach"]
    )
    _assert_refused(outcome, "no-such-org", "not found")


def test_adding_someone_twice_is_refused() -> None:
    org_id = _create_org()
    args = ["member", "add", "--org", org_id, "--email", "x@example.com", "--role", "coach"]
    assert run_cli(args).exit_code == 0
    _assert_refused(run_cli(args), "already a member")


def test_token_for_an_unknown_user_is_refused() -> None:
    _assert_refused(run_cli(["token", "--email", "ghost@example.com"]), "ghost@example.com")


def test_token_for_a_bad_email_is_refused() -> None:
    _assert_refused(run_cli(["token", "--email", "ghost"]), "email")


def test_bad_setting_is_refused_on_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FITDATA_RENEWAL_BATCH_LIMIT", "lots")
    _assert_refused(run_cli(["migrate"]), "FITDATA_RENEWAL_BATCH_LIMIT")


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["serve"],
        ["worker"],
        ["scheduler"],
        ["migrate"],
        ["org", "create"],
        ["member", "add"],
        ["token"],
        ["demo"],
        ["sandbox", "cardcom"],
    ],
)
def test_every_command_has_help(command: list[str]) -> None:
    outcome = run_cli([*command, "--help"])

    assert outcome.exit_code == 0
    assert "Usage:" in outcome.stdout

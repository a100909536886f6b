"""Storing, describing and resolving import-provider credentials (memory adapters)."""

from __future__ import annotations

import attrs
import pytest

from conftest import K2, Gym, with_keys
from fitdata_core.errors import CredentialsUnreadable, InvalidInput, PermissionDenied
from fitdata_core.ports.providers import SourceCredentials
from fitdata_core.usecases.imports.credentials import (
    MAX_API_KEY_LENGTH,
    MAX_EMAIL_LENGTH,
    MAX_PASSWORD_LENGTH,
    check_credentials,
    resolve_source_credentials,
)
from fitdata_core.usecases.imports.provider_config import (
    get_provider_config,
    save_provider_config,
)

API_KEY = "arbox-api-key-7f3a9c"
PASSWORD = "correct horse battery"


async def _rows(gym: Gym) -> list[tuple[str, bool, bytes]]:
    async with gym.svc.uow(read_only=True) as uow:
        configs = uow.tables.provider_configs.values()  # type: ignore[attr-defined]
        return sorted(
            ((c.key_id, c.is_active, c.credentials_encrypted) for c in configs),
            key=lambda row: row[1],
        )


async def test_owner_stores_sealed_credentials_and_the_old_row_is_deactivated(gym: Gym) -> None:
    first = await save_provider_config(
        gym.svc, gym.owner, gym.org_id, api_key=API_KEY, email=None, password=None
    )
    second = await save_provider_config(
        gym.svc,
        gym.admin,
        gym.org_id,
        api_key=None,
        email=" Coach@Arbox.io ",
        password=f"  {PASSWORD} ",
    )

    rows = await _rows(gym)
    assert [(key_id, active) for key_id, active, _ in rows] == [("k1", False), ("k1", True)]
    for _, _, blob in rows:
        for secret in (API_KEY.encode(), PASSWORD.encode(), b"Coach@Arbox.io"):
            assert secret not in blob
    assert (first.has_api_key, first.has_management_login) == (True, False)
    assert (second.has_api_key, second.has_management_login) == (False, True)
    assert second.key_id == "k1"
    assert second.created_at == gym.svc.clock.now()
    resolved = await resolve_source_credentials(gym.svc, gym.org_id, None)
    # Values are trimmed; the stored login is the latest one, and only it.
    assert resolved == SourceCredentials(api_key=None, email="Coach@Arbox.io", password=PASSWORD)


async def test_metadata_says_what_is_stored_and_never_a_value(gym: Gym) -> None:
    before = await get_provider_config(gym.svc, gym.owner, gym.org_id)
    await save_provider_config(
        gym.svc, gym.owner, gym.org_id, api_key=API_KEY, email="a@arbox.io", password=PASSWORD
    )
    after = await get_provider_config(gym.svc, gym.admin, gym.org_id)

    assert (before.has_credentials, before.has_api_key, before.readable) == (False, False, None)
    assert before.key_id is None
    assert before.created_at is None
    assert (after.provider, after.has_credentials, after.readable) == ("arbox", True, True)
    assert (after.has_api_key, after.has_management_login, after.key_id) == (True, True, "k1")
    shown = repr(attrs.asdict(after))
    assert API_KEY not in shown
    assert PASSWORD not in shown
    assert "a@arbox.io" not in shown


@pytest.mark.parametrize("who", ["coach", "member"])
async def test_only_owners_and_admins_store_or_read_credentials(gym: Gym, who: str) -> None:
    actor = getattr(gym, who)
    with pytest.raises(PermissionDenied):
        await save_provider_config(
            gym.svc, actor, gym.org_id, api_key=API_KEY, email=None, password=None
        )
    with pytest.raises(PermissionDenied):
        await get_provider_config(gym.svc, actor, gym.org_id)
    # The refusal comes before the body is looked at: a bad body is still a 403.
    with pytest.raises(PermissionDenied):
        await save_provider_config(
            gym.svc, actor, gym.org_id, api_key=None, email=None, password=None
        )
    assert await _rows(gym) == []


@pytest.mark.parametrize(
    ("api_key", "email", "password", "field", "words"),
    [
        (None, None, None, "apiKey", "Credentials are missing"),
        ("  ", "", " ", "apiKey", "Credentials are missing"),
        (None, "a@arbox.io", None, "password", "password is required with email"),
        (None, None, PASSWORD, "email", "email is required with password"),
        (API_KEY, "a@arbox.io", "  ", "password", "password is required"),
        (None, "not-an-email", PASSWORD, "email", "email address"),
        ("k" * (MAX_API_KEY_LENGTH + 1), None, None, "apiKey", f"at most {MAX_API_KEY_LENGTH}"),
        (None, "a" * MAX_EMAIL_LENGTH + "@x.io", PASSWORD, "email", f"{MAX_EMAIL_LENGTH}"),
        (None, "a@arbox.io", "p" * (MAX_PASSWORD_LENGTH + 1), "password", "at most"),
    ],
)
async def test_unusable_credentials_are_a_400_naming_the_field(
    gym: Gym, api_key: str | None, email: str | None, password: str | None, field: str, words: str
) -> None:
    with pytest.raises(InvalidInput) as excinfo:
        await save_provider_config(
            gym.svc, gym.owner, gym.org_id, api_key=api_key, email=email, password=password
        )
    assert excinfo.value.field == field
    assert words in excinfo.value.message
    for value in (api_key, email, password):
        if value and value.strip():
            assert value.strip() not in excinfo.value.message
    assert await _rows(gym) == []


def test_a_value_at_its_limit_is_accepted() -> None:
    creds = check_credentials("k" * MAX_API_KEY_LENGTH, None, None)
    assert creds.api_key == "k" * MAX_API_KEY_LENGTH


async def test_inline_credentials_win_whole_and_are_never_stored(gym: Gym) -> None:
    await save_provider_config(
        gym.svc, gym.owner, gym.org_id, api_key=None, email="a@arbox.io", password=PASSWORD
    )
    before = await _rows(gym)

    inline = await resolve_source_credentials(
        gym.svc, gym.org_id, SourceCredentials(api_key=f" {API_KEY} ")
    )
    blank_inline = await resolve_source_credentials(
        gym.svc, gym.org_id, SourceCredentials(api_key=" ", email="", password=None)
    )

    # Whole, not merged: the stored login does not join an inline API key.
    assert inline == SourceCredentials(api_key=API_KEY)
    # Blank inline values are no inline credentials: the stored ones are used.
    assert blank_inline == SourceCredentials(email="a@arbox.io", password=PASSWORD)
    assert await _rows(gym) == before


async def test_bad_inline_credentials_name_the_import_field(gym: Gym) -> None:
    with pytest.raises(InvalidInput) as excinfo:
        await resolve_source_credentials(gym.svc, gym.org_id, SourceCredentials(email="a@b.io"))
    assert excinfo.value.field == "arboxPassword"


async def test_no_credentials_anywhere_says_so(gym: Gym) -> None:
    with pytest.raises(InvalidInput) as excinfo:
        await resolve_source_credentials(gym.svc, gym.org_id, None)
    assert "No Arbox credentials" in excinfo.value.message
    assert excinfo.value.field == "arboxApiKey"


async def test_credentials_whose_key_is_gone_raise_a_clear_error_naming_it(gym: Gym) -> None:
    await save_provider_config(
        gym.svc, gym.owner, gym.org_id, api_key=API_KEY, email="a@arbox.io", password=PASSWORD
    )
    rotated_away = with_keys(gym.svc, K2)

    with pytest.raises(CredentialsUnreadable) as excinfo:
        await resolve_source_credentials(rotated_away, gym.org_id, None)
    view = await get_provider_config(rotated_away, gym.owner, gym.org_id)

    error = excinfo.value
    assert error.key_id == "k1"
    assert error.code == "CREDENTIALS_UNREADABLE"
    assert "'k1'" in error.message
    assert "Re-enter" in error.message
    assert "FITDATA_CREDENTIAL_KEYS" in error.message
    for secret in (API_KEY, PASSWORD, "a@arbox.io"):
        assert secret not in error.message
    assert (view.has_credentials, view.readable, view.key_id) == (True, False, "k1")
    assert view.has_api_key is None
    assert view.problem == error.message
    # Inline credentials still work when the stored ones cannot be opened.
    inline = SourceCredentials(api_key=API_KEY)
    assert await resolve_source_credentials(rotated_away, gym.org_id, inline) == inline


async def test_sealed_credentials_open_for_no_other_organization(gym: Gym) -> None:
    await save_provider_config(
        gym.svc, gym.owner, gym.org_id, api_key=API_KEY, email=None, password=None
    )
    async with gym.svc.uow() as uow:
        stored = await uow.provider_configs.get_active(gym.org_id, "arbox")
        assert stored is not None
        other = await uow.organizations.get(gym.org_id)
        assert other is not None
        moved = attrs.evolve(stored, id="moved", organization_id="another-org")
        await uow.organizations.add(attrs.evolve(other, id="another-org"))
        await uow.provider_configs.add(moved)
        await uow.commit()

    with pytest.raises(CredentialsUnreadable) as excinfo:
        await resolve_source_credentials(gym.svc, "another-org", None)
    assert "altered or sealed for another use" in excinfo.value.message

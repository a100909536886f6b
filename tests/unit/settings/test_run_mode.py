"""``FITDATA_MODE``: which mode a process is in, and what production refuses to do without."""

from __future__ import annotations

from pathlib import Path

import pytest

from fitdata_adapters.bootstrap import bootstrap
from fitdata_adapters.settings import RunMode, Settings
from fitdata_core.errors import ConfigurationError
from support.fakes import NoPayments

EVERY_PROVIDER = {
    "FITDATA_DATABASE_URL": "postgresql://fitdata:db-password@db.internal/fitdata",
    "FITDATA_REDIS_URL": "redis://:redis-password@redis.internal:6379/0",
    "FITDATA_CARDCOM_BASE_URL": "https://secure.cardcom.solutions",
    "FITDATA_SMTP_URL": "smtp://mailer:smtp-password@smtp.internal:587",
    "FITDATA_S3_BUCKET": "fitdata-exports",
    "FITDATA_S3_ENDPOINT_URL": "https://r2.example.com",
    "FITDATA_CREDENTIAL_KEYS": "k1:" + "A" * 43 + "=",
    "FITDATA_JWT_SECRET": "jwt-secret-long-enough-for-hs256-signing",
}
SECRETS = ("db-password", "redis-password", "smtp-password", "jwt-secret")


def settings(tmp_path: Path, **env: str) -> Settings:
    return Settings.from_env({"FITDATA_DATA_DIR": str(tmp_path / "var"), **env})


@pytest.mark.parametrize(
    ("env", "mode"),
    [
        ({}, RunMode.EMBEDDED),
        ({"FITDATA_DATABASE_URL": "postgresql://h/db"}, RunMode.PRODUCTION),
        ({"FITDATA_REDIS_URL": "redis://h:6379/0"}, RunMode.PRODUCTION),
        (
            {"FITDATA_DATABASE_URL": "postgresql://h/db", "FITDATA_MODE": "embedded"},
            RunMode.EMBEDDED,
        ),
        ({"FITDATA_MODE": "Production"}, RunMode.PRODUCTION),
        ({"FITDATA_MODE": " "}, RunMode.EMBEDDED),
    ],
)
def test_the_mode_is_explicit_or_follows_the_database_and_redis_settings(
    tmp_path: Path, env: dict[str, str], mode: RunMode
) -> None:
    assert settings(tmp_path, **env).mode is mode


def test_an_unknown_mode_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="FITDATA_MODE must be embedded or production"):
        settings(tmp_path, FITDATA_MODE="staging")


def test_production_names_every_missing_setting_and_keeps_no_key_file(tmp_path: Path) -> None:
    prod = settings(tmp_path, FITDATA_MODE="production")

    with pytest.raises(ConfigurationError) as raised:
        prod.require_production_ready()

    message = str(raised.value)
    for variable in (
        "FITDATA_DATABASE_URL",
        "FITDATA_REDIS_URL",
        "FITDATA_CARDCOM_BASE_URL",
        "FITDATA_SMTP_URL",
        "FITDATA_S3_BUCKET",
        "FITDATA_CREDENTIAL_KEYS",
        "FITDATA_JWT_SECRET",
    ):
        assert variable in message
    # No JWT secret was invented and written to a local file.
    assert prod.jwt_secret == ""
    assert not (tmp_path / "var" / "jwt-secret").exists()


def test_production_with_every_provider_is_ready(tmp_path: Path) -> None:
    prod = settings(tmp_path, **EVERY_PROVIDER)

    assert prod.mode is RunMode.PRODUCTION
    assert prod.missing_for_production() == []
    prod.require_production_ready()


def test_only_what_is_missing_is_named(tmp_path: Path) -> None:
    env = {k: v for k, v in EVERY_PROVIDER.items() if k != "FITDATA_SMTP_URL"}

    with pytest.raises(ConfigurationError) as raised:
        settings(tmp_path, **env).require_production_ready()

    assert "FITDATA_SMTP_URL" in str(raised.value)
    assert "FITDATA_S3_BUCKET" not in str(raised.value)


def test_embedded_mode_needs_nothing(tmp_path: Path) -> None:
    settings(tmp_path).require_production_ready()


def test_bootstrap_in_production_refuses_rather_than_build_a_stand_in(tmp_path: Path) -> None:
    prod = settings(tmp_path, FITDATA_DATABASE_URL="sqlite+aiosqlite://")

    with pytest.raises(ConfigurationError, match="FITDATA_CARDCOM_BASE_URL"):
        bootstrap(prod)
    # A caller that brings its own gateway needs no Cardcom URL, but still everything else.
    with pytest.raises(ConfigurationError) as raised:
        bootstrap(prod, payment_gateway=NoPayments())
    assert "FITDATA_CARDCOM_BASE_URL" not in str(raised.value)
    assert "FITDATA_SMTP_URL" in str(raised.value)
    # Nothing was built: no sandbox state, no outbox, no local key.
    assert not (tmp_path / "var").exists()


def test_the_connections_are_described_without_secrets(tmp_path: Path) -> None:
    lines = "\n".join(settings(tmp_path, **EVERY_PROVIDER).connections())

    assert "postgresql://***@db.internal/fitdata" in lines
    assert "Redis redis://***@redis.internal:6379/0" in lines
    assert "SMTP smtp://***@smtp.internal:587" in lines
    assert "S3 bucket fitdata-exports at https://r2.example.com" in lines
    assert "Cardcom https://secure.cardcom.solutions" in lines
    assert "Arbox https://arboxserver.arboxapp.com" in lines  # production: the real origin
    for secret in (*SECRETS, EVERY_PROVIDER["FITDATA_CREDENTIAL_KEYS"]):
        assert secret not in lines


def test_embedded_connections_name_the_local_stand_ins(tmp_path: Path) -> None:
    lines = "\n".join(settings(tmp_path).connections())

    assert "in-process worker" in lines
    assert "outbox folder" in lines
    assert "embedded Cardcom sandbox" in lines
    assert "local key file" in lines
    assert "embedded Arbox sandbox" in lines

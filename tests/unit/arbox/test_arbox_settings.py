"""FITDATA_ARBOX_BASE_URL is Arbox's origin only."""

from __future__ import annotations

from pathlib import Path

import pytest

from fitdata_adapters.settings import Settings
from fitdata_core.errors import ConfigurationError


def settings(tmp_path: Path, **env: str) -> Settings:
    return Settings.from_env(
        {"FITDATA_DATA_DIR": str(tmp_path), "FITDATA_JWT_SECRET": "x" * 40, **env}
    )


def test_default_origin(tmp_path: Path) -> None:
    assert settings(tmp_path).arbox_base_url == "https://arboxserver.arboxapp.com"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("http://127.0.0.1:8200/", "http://127.0.0.1:8200"),
        ("https://arbox.example", "https://arbox.example"),
    ],
)
def test_a_trailing_slash_is_ignored(tmp_path: Path, given: str, expected: str) -> None:
    assert settings(tmp_path, FITDATA_ARBOX_BASE_URL=given).arbox_base_url == expected


@pytest.mark.parametrize(
    "given",
    [
        "https://arboxserver.arboxapp.com/api/public",
        "arboxserver.arboxapp.com",
        "ftp://arbox.example",
        "https://user:pw@arbox.example",
        "https://arbox.example?x=1",
    ],
)
def test_anything_but_an_origin_is_refused(tmp_path: Path, given: str) -> None:
    with pytest.raises(ConfigurationError, match="FITDATA_ARBOX_BASE_URL must be an origin"):
        settings(tmp_path, FITDATA_ARBOX_BASE_URL=given)


def test_embedded_without_an_origin_uses_the_in_process_sandbox(tmp_path: Path) -> None:
    assert settings(tmp_path).uses_arbox_sandbox is True
    given = settings(tmp_path, FITDATA_ARBOX_BASE_URL="http://127.0.0.1:8200")
    assert given.uses_arbox_sandbox is False


def test_production_never_uses_the_sandbox(tmp_path: Path) -> None:
    production = settings(tmp_path, FITDATA_MODE="production")
    assert production.uses_arbox_sandbox is False
    assert production.arbox_base_url == "https://arboxserver.arboxapp.com"

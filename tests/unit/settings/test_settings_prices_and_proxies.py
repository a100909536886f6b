"""Settings read strictly: tier prices exactly as written (issue 7, item 12)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from fitdata_adapters.settings import Settings
from fitdata_core.errors import ConfigurationError
from fitdata_core.policies import BillingPolicy


def settings(tmp_path: Path, **env: str) -> Settings:
    return Settings.from_env(
        {"FITDATA_DATA_DIR": str(tmp_path), "FITDATA_JWT_SECRET": "s" * 40, **env}
    )


def test_tier_prices_are_read_exactly(tmp_path: Path) -> None:
    read = settings(tmp_path, FITDATA_PRICE_PRO="199.90", FITDATA_PRICE_ELITE="400")

    assert (read.price_pro, read.price_elite) == (Decimal("199.90"), Decimal("400"))


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("249.999", "has at most 2 decimal places"),
        ("1e-400", "must be a number written as digits 0-9"),
        ("1_000", "must be a number written as digits 0-9"),
        ("\u0662\u0664\u0669", "must be a number written as digits 0-9"),
        ("0", "must be positive"),
        ("-5", "must not be negative"),
    ],
)
def test_a_tier_price_that_is_not_exact_stops_the_settings(
    tmp_path: Path, raw: str, says: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        settings(tmp_path, FITDATA_PRICE_PRO=raw)

    assert caught.value.message.startswith("FITDATA_PRICE_PRO ")
    assert says in caught.value.message


@pytest.mark.parametrize("raw", ["249.999", Decimal("1E-400"), "1_000"])
def test_the_billing_config_refuses_a_price_it_would_have_to_round(raw: object) -> None:
    with pytest.raises(ConfigurationError, match="price"):
        BillingPolicy(price_pro=raw)  # type: ignore[arg-type]


def test_no_proxy_is_trusted_by_default(tmp_path: Path) -> None:
    assert settings(tmp_path).trusted_proxies == ()


def test_trusted_proxies_are_addresses_and_networks(tmp_path: Path) -> None:
    read = settings(tmp_path, FITDATA_TRUSTED_PROXIES=" 10.0.0.5, 172.16.0.0/12,,2001:db8::/32 ")

    assert [str(network) for network in read.trusted_proxies] == [
        "10.0.0.5/32",
        "172.16.0.0/12",
        "2001:db8::/32",
    ]


def test_a_trusted_proxy_that_is_not_an_address_stops_the_settings(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as caught:
        settings(tmp_path, FITDATA_TRUSTED_PROXIES="10.0.0.5, proxy.internal")

    assert caught.value.message.startswith("FITDATA_TRUSTED_PROXIES must be")
    assert "'proxy.internal'" in caught.value.message

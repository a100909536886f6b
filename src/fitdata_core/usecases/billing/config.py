"""Typed views of the billing settings in ``Services.config``, with their defaults."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from fitdata_core.errors import BusinessRuleViolation, ConfigurationError
from fitdata_core.model.tiers import PlatformTier
from fitdata_core.money import AmountError, Money, exact_amount

DEFAULT_PRICES = {PlatformTier.PRO: Decimal("249"), PlatformTier.ELITE: Decimal("449")}
DEFAULT_RENEWAL_BATCH_LIMIT = 100
DEFAULT_RENEWAL_CONCURRENCY = 8

# A second click on "upgrade" within this window gets the same payment page (S4).
CHECKOUT_REUSE_WINDOW = timedelta(minutes=10)
# The reconciler looks at checkouts younger than this (RC4); older ones wait for expiry.
RECONCILE_LOOKBACK = timedelta(minutes=60)
# A checkout still unpaid after this long is "hung" and alerts (RC2).
HANG_AFTER = timedelta(minutes=10)
# At most one hang alert per transaction within this window (RC3).
ALERT_DEDUPE_WINDOW = timedelta(minutes=60)
# Pending checkouts older than this are cancelled by the stale-pending sweep.
STALE_AFTER = timedelta(days=7)
# A pending renewal younger than this belongs to a sweeper that is still charging it; an
# older one was left by a crash and is repaired by looking the charge up.
RENEWAL_LEASE = timedelta(minutes=10)
RECONCILE_BATCH_LIMIT = 500
EXPIRE_BATCH_LIMIT = 1000

_PRICE_KEYS = {PlatformTier.PRO: "price_pro", PlatformTier.ELITE: "price_elite"}


def price_of(config: dict[str, Any], tier: PlatformTier) -> Money:
    """The monthly price of a paid tier, in ILS."""
    if tier.is_free:
        raise BusinessRuleViolation("Cannot create checkout for a free tier", code="FREE_TIER")
    key = _PRICE_KEYS[tier]
    raw = config.get(key, DEFAULT_PRICES[tier])
    try:
        # Exactly as configured: "249.999" is a mistake to report, not 250.00 to charge.
        amount = exact_amount(raw)
    except AmountError as exc:
        raise ConfigurationError(f"{key} (ILS) {exc}") from None
    if amount <= 0:
        raise ConfigurationError(f"{key} must be positive.")
    return Money(amount)


def renewal_batch_limit(config: dict[str, Any]) -> int:
    return int(config.get("renewal_batch_limit", DEFAULT_RENEWAL_BATCH_LIMIT))


def renewal_concurrency(config: dict[str, Any]) -> int:
    """How many renewal charges one sweep runs at once."""
    return int(config.get("renewal_concurrency", DEFAULT_RENEWAL_CONCURRENCY))


def schedule_enabled(config: dict[str, Any]) -> bool:
    """The kill switch for scheduled billing sweeps (one-off operator runs ignore it)."""
    value = config.get("billing_schedule_enabled", True)
    if isinstance(value, str):  # a raw environment value: "false" must mean off
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return bool(value)

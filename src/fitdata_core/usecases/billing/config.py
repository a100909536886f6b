"""The fixed windows and limits of platform billing (the configurable ones are in
:class:`fitdata_core.policies.BillingPolicy`)."""

from __future__ import annotations

from datetime import timedelta

__all__ = [
    "ALERT_DEDUPE_WINDOW",
    "CHECKOUT_REUSE_WINDOW",
    "EXPIRE_BATCH_LIMIT",
    "HANG_AFTER",
    "RECONCILE_BATCH_LIMIT",
    "RECONCILE_LOOKBACK",
    "RENEWAL_LEASE",
    "STALE_AFTER",
]

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

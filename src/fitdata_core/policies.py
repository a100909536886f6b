"""The settings use cases obey, as frozen typed values built once by the composition root.

A library caller builds them directly (every field has the service's default); the service
builds them from ``FITDATA_*`` settings in ``fitdata_adapters.bootstrap``. Values are checked
when the policy is built, so a bad price stops a process at start-up, not at the first
checkout.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import attrs

from fitdata_core.errors import BusinessRuleViolation, ConfigurationError
from fitdata_core.model.tiers import PlatformTier
from fitdata_core.money import AmountError, Money, exact_amount

__all__ = ["BillingPolicy", "ExportPolicy", "ImportPolicy"]


def _positive_price(_instance: Any, attribute: attrs.Attribute[Money], value: Money) -> None:
    if value.amount <= 0:
        raise ConfigurationError(f"{attribute.name} must be a positive number of ILS.")


def _at_least_one(_instance: Any, attribute: attrs.Attribute[int], value: int) -> None:
    if value < 1:
        raise ConfigurationError(f"{attribute.name} must be a positive whole number.")


def _at_least_a_day(
    _instance: Any, attribute: attrs.Attribute[timedelta], value: timedelta
) -> None:
    if value < timedelta(days=1):
        raise ConfigurationError(f"{attribute.name} must be at least one day.")


def _money(value: Money | Decimal | int | str) -> Money:
    if isinstance(value, Money):
        return value
    try:
        # Exactly as configured: "249.999" is a mistake to report, not 250.00 to charge.
        return Money(exact_amount(value))
    except AmountError as exc:
        raise ConfigurationError(f"A price must be a number of ILS: it {exc}") from None


def _without_trailing_slash(url: str) -> str:
    return url.rstrip("/")


@attrs.frozen
class BillingPolicy:
    """How platform billing runs: the monthly prices, the renewal sweep's size and width,
    the kill switch of scheduled sweeps, and the public URL that billing emails link to."""

    price_pro: Money = attrs.field(
        default=Money(Decimal("249")), converter=_money, validator=_positive_price
    )
    price_elite: Money = attrs.field(
        default=Money(Decimal("449")), converter=_money, validator=_positive_price
    )
    #: At most this many subscriptions per renewal run.
    renewal_batch_limit: int = attrs.field(default=100, validator=_at_least_one)
    #: How many renewal charges one sweep runs at once.
    renewal_concurrency: int = attrs.field(default=8, validator=_at_least_one)
    #: The kill switch of scheduled billing sweeps (an operator's one-off run ignores it).
    schedule_enabled: bool = True
    #: Where the API is reached; billing emails link to its settings page.
    public_url: str = attrs.field(default="", converter=_without_trailing_slash)

    def price_of(self, tier: PlatformTier) -> Money:
        """The monthly price of a paid tier (``BusinessRuleViolation`` for the free one)."""
        if tier.is_free:
            raise BusinessRuleViolation("Cannot create checkout for a free tier", code="FREE_TIER")
        return self.price_elite if tier is PlatformTier.ELITE else self.price_pro


@attrs.frozen
class ExportPolicy:
    """How exports run: the per-IP request limit and when a running export counts as lost."""

    #: Export requests per client IP per minute.
    rate_limit_per_minute: int = attrs.field(default=10, validator=_at_least_one)
    #: An export still in progress after this long is failed by the stale sweep.
    stale_after: timedelta = timedelta(hours=1)
    #: A pending export whose queue message went out this long ago is sent again.
    pending_resend_after: timedelta = timedelta(minutes=15)


def _batch_size(_instance: Any, attribute: attrs.Attribute[int], value: int) -> None:
    if not 1 <= value <= 1000:
        raise ConfigurationError(f"{attribute.name} must be a whole number from 1 to 1000.")


@attrs.frozen
class ImportPolicy:
    """How imports run: the batch size (at most 1,000 rows: one queue message never carries
    more), the lease a running job holds and renews, how much one queue message does before
    it hands the job to its continuation, the retries of a transient failure, enrichment's
    width, and the per-org limit of import requests."""

    #: Rows per batch (one transaction each); at most 1,000.
    batch_size: int = attrs.field(default=1000, validator=_batch_size)
    #: Source rows staged per step: pages are gathered until this many (one transaction for
    #: several small pages; a page is never split).
    stage_rows: int = attrs.field(default=2000, validator=_at_least_one)
    #: Rows per stage step of a CSV or Excel import: one page read from the stored file. A
    #: file has no request latency to amortise, so a step is as large as one transaction of
    #: staging comfortably holds (fewer job loads, checkpoints and round trips per row).
    file_page_rows: int = attrs.field(default=10_000, validator=_at_least_one)
    #: Rows per batch where the database applies staged members itself (Postgres): a step
    #: is still one transaction with its checkpoint, a few hundred milliseconds.
    set_batch_size: int = attrs.field(default=10_000, validator=_at_least_one)
    #: Apply the rows staged so far while the next page is checked and staged: the page's
    #: checks (this process's CPU) overlap the apply (the database's). Worth it where the
    #: database applies staged rows itself on its own cores (Postgres); where the apply is
    #: Python in this process too (SQLite), the two would only take turns.
    apply_while_staging: bool = True
    #: A running job's lease; another worker takes the job over once it ends unrenewed.
    lease: timedelta = timedelta(seconds=30)
    #: One queue message runs at most this many batches...
    slice_batches: int = attrs.field(default=25, validator=_at_least_one)
    #: ...or this long, then queues the job's continuation.
    slice_seconds: float = 20.0
    #: Waits before retrying a batch that failed for a transient reason.
    retry_delays: tuple[float, ...] = (0.5, 2.0, 5.0)
    #: Members enriched per batch, and detail requests in flight at once.
    enrich_batch: int = attrs.field(default=200, validator=_at_least_one)
    enrich_concurrency: int = attrs.field(default=16, validator=_at_least_one)
    #: Import requests per organization per minute.
    rate_limit_per_minute: int = attrs.field(default=10, validator=_at_least_one)
    #: The largest CSV or Excel file an upload takes over HTTP (the CLI has no cap).
    max_upload_bytes: int = attrs.field(default=5 * 1024 * 1024, validator=_at_least_one)
    #: How long an upload waits for its mapping to be confirmed before it is stale.
    preview_lease: timedelta = timedelta(hours=24)
    #: How long the stored file of a finished CSV import is kept (its rejects and retry read
    #: it); then the file sweep deletes it: it holds members' personal data.
    file_retention: timedelta = attrs.field(default=timedelta(days=30), validator=_at_least_a_day)

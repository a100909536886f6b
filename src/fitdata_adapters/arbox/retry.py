"""The one retry policy for Arbox calls, and which failures it retries.

Every Arbox call the adapter makes is a read (the login included: a second login is harmless),
so any transient failure may be repeated: 429, any 5xx, connection errors and timeouts. A 422
(Arbox's validation error) or any other 4xx is an answer, never retried. When Arbox says how
long to wait (``Retry-After``) the wait is at least that; when that wait would not fit in the
policy's total time, the call gives up at once rather than sleep past it.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from datetime import datetime
from email.utils import parsedate_to_datetime

import attrs
import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
)


class RetryableAnswer(Exception):
    """Arbox answered 429 or 5xx. Carries only the status and the asked-for wait."""

    def __init__(self, status: int, retry_after: float | None = None) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.retry_after = retry_after


def is_retryable_status(status: int) -> bool:
    return status == httpx.codes.TOO_MANY_REQUESTS or status >= 500


def transient_failure(exc: BaseException) -> bool:
    """429/5xx answers, timeouts and broken connections (not a malformed URL)."""
    if isinstance(exc, httpx.UnsupportedProtocol):
        return False
    return isinstance(exc, RetryableAnswer | httpx.TransportError)


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """``Retry-After`` in seconds: delta-seconds, or an HTTP date measured against the
    answer's own ``Date`` header (never this machine's clock); ``None`` when absent or
    unreadable."""
    raw = headers.get("retry-after")
    if raw is None:
        return None
    raw = raw.strip()
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    sent = headers.get("date")
    if sent is None:
        return None
    try:
        until: datetime = parsedate_to_datetime(raw)
        now: datetime = parsedate_to_datetime(sent)
    except (TypeError, ValueError):
        return None
    return max(0.0, (until - now).total_seconds())


@attrs.frozen
class RetryPolicy:
    """Exponential backoff with jitter, honouring ``Retry-After``, capped in attempts and in
    total time (the sleeps included)."""

    max_attempts: int = 5
    max_total_seconds: float = 60.0
    initial_wait: float = 0.5
    max_wait: float = 8.0
    jitter: float = 0.5

    def wait_seconds(self, attempt_number: int, failure: BaseException | None) -> float:
        """How long to wait after failed attempt ``attempt_number`` (1-based)."""
        backoff = min(self.max_wait, self.initial_wait * 2.0 ** (attempt_number - 1))
        if isinstance(failure, RetryableAnswer) and failure.retry_after is not None:
            # Never sooner than Arbox asked; the stop rule gives up if this is too long.
            backoff = failure.retry_after
        # Jitter spreads concurrent callers out so they do not come back in step.
        return backoff + random.uniform(0, self.jitter)  # noqa: S311 - not cryptographic

    def retrying(
        self,
        retry_on: Callable[[BaseException], bool] = transient_failure,
        *,
        before_sleep: Callable[[RetryCallState], None] | None = None,
    ) -> AsyncRetrying:
        """A fresh tenacity controller. After the last attempt the original exception is
        re-raised (``reraise=True``) for the caller to translate into a core error."""

        def wait(state: RetryCallState) -> float:
            failure = state.outcome.exception() if state.outcome else None
            return self.wait_seconds(state.attempt_number, failure)

        return AsyncRetrying(
            retry=retry_if_exception(retry_on),
            stop=stop_after_attempt(self.max_attempts) | stop_before_delay(self.max_total_seconds),
            wait=wait,
            before_sleep=before_sleep,
            reraise=True,
        )


DEFAULT_RETRY_POLICY = RetryPolicy()

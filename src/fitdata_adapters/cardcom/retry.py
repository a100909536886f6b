"""The one retry policy for Cardcom calls, and the rules for which failures are safe to retry.

A payment call may only be repeated when repeating it cannot charge twice. Reads are always
safe; the token charge is safe because every charge carries ``ExternalUniqTranId`` with
``ExternalUniqUniqTranIdResponse: true`` (Cardcom answers a repeat with the original result
instead of charging again); creating a hosted page is retried only when the request never left
this process.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs
import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential,
    wait_random,
)


class ServerFailure(Exception):
    """Cardcom answered with an HTTP 5xx; carries only the status (no body, no secrets)."""

    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


def request_never_sent(exc: BaseException) -> bool:
    """True when the request cannot have reached Cardcom (no connection was made)."""
    return isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)


def transient_failure(exc: BaseException) -> bool:
    """True for timeouts, broken connections and 5xx answers: worth another try if idempotent."""
    return isinstance(exc, httpx.TransportError | ServerFailure)


@attrs.frozen
class RetryPolicy:
    """Exponential backoff with jitter, capped both in attempts and in total time."""

    max_attempts: int = 4
    max_total_seconds: float = 30.0
    initial_wait: float = 0.25
    max_wait: float = 4.0
    jitter: float = 0.25

    def retrying(
        self,
        retry_on: Callable[[BaseException], bool],
        *,
        before_sleep: Callable[[RetryCallState], None] | None = None,
    ) -> AsyncRetrying:
        """A fresh tenacity controller that retries the exceptions ``retry_on`` accepts.

        After the last attempt the original exception is re-raised (``reraise=True``) so the
        caller translates it into a core error.
        """
        return AsyncRetrying(
            retry=retry_if_exception(retry_on),
            stop=stop_after_attempt(self.max_attempts) | stop_after_delay(self.max_total_seconds),
            # initial, 2x, 4x ... capped at max_wait, plus up to ``jitter`` seconds of noise.
            wait=wait_exponential(multiplier=self.initial_wait, max=self.max_wait)
            + wait_random(0, self.jitter),
            before_sleep=before_sleep,
            reraise=True,
        )


DEFAULT_RETRY_POLICY = RetryPolicy()

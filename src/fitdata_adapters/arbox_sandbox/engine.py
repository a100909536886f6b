"""The sandbox's state and behaviour, independent of HTTP; also the Python handle for tests.

Everything a test or a demo may set (``arbox-protocol.md``, last section) is a method here and
an endpoint under ``/_sandbox`` (see :mod:`~fitdata_adapters.arbox_sandbox.control`): the data
set, the API key and the login, latency per request, a queue of injected failures, and the
record of calls received. The server thread reads the state while a test thread changes it,
so every change takes one lock.
"""

from __future__ import annotations

import math
import secrets
import threading
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from fitdata_adapters.arbox_sandbox.dataset import DataSet, JsonObject, generate_dataset

#: Endpoint names, as failures and the call record name them.
LOGIN = "login"
PLANS = "membershipTypes"
USERS = "users"
USER = "users/{id}"
LEADS = "leads"
ACTIVE_REPORT = "activeMembersReport"
INACTIVE_REPORT = "inactiveMembersReport"
ENDPOINTS = frozenset({LOGIN, PLANS, USERS, USER, LEADS, ACTIVE_REPORT, INACTIVE_REPORT})

DEFAULT_PAGE_SIZE = 200
MAX_PAGE_SIZE = 500
#: The call record keeps this many calls (enough for 100,000 enrichment calls and more).
MAX_RECORDED_CALLS = 250_000


@attrs.frozen
class SandboxConfig:
    """The sandbox's starting point; ``reset`` returns to it.

    ``members``: generate that many members from ``seed`` (0: an empty source).
    """

    api_key: str = "arbox-sandbox-key"
    email: str = "owner@arbox-sandbox.example.com"
    password: str = "arbox-sandbox-password"  # noqa: S105 - the sandbox's own demo login
    members: int = 0
    seed: int = 1
    latency_ms: float = 0.0


@attrs.frozen
class Failure:
    """Answer ``status`` to the next ``remaining`` calls (of ``endpoint``, or any)."""

    status: int
    remaining: int = 1
    endpoint: str | None = None
    retry_after: float | None = None

    def to_json(self) -> JsonObject:
        return {
            "status": self.status,
            "remaining": self.remaining,
            "endpoint": self.endpoint,
            "retry_after": self.retry_after,
        }


@attrs.frozen
class CallRecord:
    """One API call received. Never holds a credential value, only whether it was good."""

    method: str
    endpoint: str
    path: str
    status: int
    page: int | None = None
    limit: int | None = None
    injected: bool = False
    #: When the request arrived (``time.monotonic()``, before the latency): two calls whose
    #: arrivals are closer than the latency were in flight at the same time.
    received_at: float = 0.0

    def to_json(self) -> JsonObject:
        return attrs.asdict(self)


class ArboxSandbox:
    """One fake Arbox account (both APIs) and its test controls."""

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        self._lock = threading.Lock()
        self._calls: deque[CallRecord] = deque(maxlen=MAX_RECORDED_CALLS)
        self._failures: list[Failure] = []
        self._tokens: set[str] = set()
        self.reset()

    # ------------------------------------------------------------------ settings

    def reset(self) -> None:
        """Back to the configuration: its data set and credentials, no latency, no failures,
        no sessions, no calls."""
        config = self.config
        with self._lock:
            self.data = (
                generate_dataset(config.members, seed=config.seed) if config.members else DataSet()
            )
            self.api_key: str | None = config.api_key
            self.email: str | None = config.email
            self.password: str | None = config.password
            self.latency_seconds = config.latency_ms / 1000
            self._failures.clear()
            self._tokens.clear()
            self._calls.clear()

    def set_data(
        self,
        *,
        plans: Sequence[JsonObject] | None = None,
        users: Sequence[JsonObject] | None = None,
        active_report: Sequence[JsonObject] | None = None,
        inactive_report: Sequence[JsonObject] | None = None,
        leads: Sequence[JsonObject] | None = None,
        details: Mapping[str, JsonObject] | None = None,
    ) -> DataSet:
        """Replace the given parts of the data set; the others stay."""
        changes: dict[str, Any] = {
            "plans": plans,
            "users": users,
            "active_report": active_report,
            "inactive_report": inactive_report,
            "leads": leads,
            "details": None if details is None else {str(k): v for k, v in details.items()},
        }
        with self._lock:
            self.data = attrs.evolve(
                self.data, **{key: value for key, value in changes.items() if value is not None}
            )
            return self.data

    def generate(self, members: int, *, seed: int = 1) -> DataSet:
        """Serve a generated data set of ``members`` members (see ``dataset``)."""
        data = generate_dataset(members, seed=seed) if members else DataSet()
        with self._lock:
            self.data = data
        return data

    def set_api_key(self, api_key: str | None) -> None:
        """The one Business API key accepted (``None``: none is)."""
        with self._lock:
            self.api_key = api_key

    def set_login(self, email: str | None, password: str | None) -> None:
        """The one Management login accepted; open sessions end."""
        with self._lock:
            self.email, self.password = email, password
            self._tokens.clear()

    def set_latency(self, ms: float) -> None:
        """Delay every API answer by ``ms`` milliseconds."""
        if ms < 0 or not math.isfinite(ms):
            raise ValueError("latency must be a non-negative number of milliseconds")
        self.latency_seconds = ms / 1000

    def fail_next(
        self,
        status: int,
        *,
        count: int = 1,
        endpoint: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        """Queue a failure: the next ``count`` calls (of ``endpoint``) answer ``status``,
        with ``Retry-After: retry_after`` when given (e.g. 429)."""
        if not 400 <= status <= 599:
            raise ValueError("status must be an HTTP error status (400-599)")
        if count < 1:
            raise ValueError("count must be positive")
        if endpoint is not None and endpoint not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {endpoint!r}; use one of {sorted(ENDPOINTS)}")
        if retry_after is not None and retry_after < 0:
            raise ValueError("retry_after must not be negative")
        with self._lock:
            self._failures.append(Failure(status, count, endpoint, retry_after))

    def clear_failures(self) -> None:
        with self._lock:
            self._failures.clear()

    @property
    def failures(self) -> list[Failure]:
        with self._lock:
            return list(self._failures)

    def expire_sessions(self) -> None:
        """End every Management session: the next call with an old token gets 401."""
        with self._lock:
            self._tokens.clear()

    @property
    def calls(self) -> list[CallRecord]:
        """Every API call received, oldest first."""
        with self._lock:
            return list(self._calls)

    def clear_calls(self) -> None:
        with self._lock:
            self._calls.clear()

    # ------------------------------------------------------------------ serving

    def take_failure(self, endpoint: str) -> Failure | None:
        """The first queued failure for ``endpoint``, consuming one of its uses."""
        with self._lock:
            for position, failure in enumerate(self._failures):
                if failure.endpoint in (None, endpoint):
                    if failure.remaining > 1:
                        self._failures[position] = attrs.evolve(
                            failure, remaining=failure.remaining - 1
                        )
                    else:
                        del self._failures[position]
                    return failure
        return None

    def record(self, call: CallRecord) -> None:
        with self._lock:
            self._calls.append(call)

    def api_key_ok(self, given: str | None) -> bool:
        expected = self.api_key
        if not expected or not given:
            return False
        return secrets.compare_digest(given.encode(), expected.encode())

    def login(self, email: Any, password: Any) -> str | None:
        """A new session token for the right login, else ``None``."""
        if not (isinstance(email, str) and isinstance(password, str)):
            return None
        with self._lock:
            if not (self.email and self.password):
                return None
            if email.strip().lower() != self.email.lower() or not secrets.compare_digest(
                password.encode(), self.password.encode()
            ):
                return None
            token = secrets.token_urlsafe(24)
            self._tokens.add(token)
            return token

    def token_ok(self, token: str | None) -> bool:
        with self._lock:
            return token is not None and token in self._tokens


def page_count(rows: int, limit: int) -> int:
    return math.ceil(rows / limit)

"""``MemberSource`` over Arbox's two APIs (httpx + tenacity).

Which API answers depends on the credentials (``arbox-protocol.md``):

- members: the Management API when an email and password are given (login, both reports
  fetched concurrently, merged by ``user_fk``, active wins), else the Business API ``users``
  list with the API key;
- plans, leads and member details: the Business API, which needs the API key. With only a
  Management login there are no plans and no leads to read (an empty answer, logged).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Mapping
from decimal import Decimal
from types import TracebackType
from typing import IO, Any, Self, TypeVar
from urllib.parse import quote

import httpx
import structlog
from tenacity import RetryCallState

from fitdata_adapters.arbox import wire
from fitdata_adapters.arbox.reports import ACTIVE, INACTIVE, ReportSpool
from fitdata_adapters.arbox.retry import (
    DEFAULT_RETRY_POLICY,
    RetryableAnswer,
    RetryPolicy,
    is_retryable_status,
    retry_after_seconds,
)
from fitdata_core.errors import InvalidInput, ProviderAuthError, ProviderError
from fitdata_core.ports.providers import (
    SourceCredentials,
    SourceLead,
    SourceMember,
    SourceMemberDetail,
    SourcePlan,
)

_log = structlog.get_logger("fitdata.arbox")

PROVIDER = wire.PROVIDER
#: What every refused credential tells the owner to do.
REENTER = "Re-enter the Arbox credentials in the import settings."
#: Rows per chunk when a report (a bare array) is handed out in pieces.
DEFAULT_REPORT_CHUNK = 1000

T = TypeVar("T")


class _Secrets:
    """The credential values of one call, to keep them out of anything we print."""

    def __init__(self, credentials: SourceCredentials, *extra: str) -> None:
        values = (credentials.api_key, credentials.password, credentials.email, *extra)
        self._values = [value for value in values if value]

    def add(self, value: str) -> None:
        self._values.append(value)

    def redact(self, text: str | None) -> str | None:
        if text is None:
            return None
        for value in self._values:
            text = text.replace(value, "<redacted>")
        return text


class _ManagementSession:
    """One Management API login shared by the calls of one listing.

    A 401 after a successful login means the session expired: the first caller to see it logs
    in once more (concurrent callers wait for that login and reuse it); a second expiry gives
    up with ``ProviderAuthError``.
    """

    def __init__(self, source: ArboxSource, credentials: SourceCredentials, secrets: _Secrets):
        self._source = source
        self._credentials = credentials
        self._secrets = secrets
        self._lock = asyncio.Lock()
        self._token: str | None = None
        self._generation = 0
        self._renewed = False

    async def token(self) -> tuple[str, int]:
        async with self._lock:
            if self._token is None:
                await self._login()
            assert self._token is not None
            return self._token, self._generation

    async def renew(self, generation: int, endpoint: str) -> None:
        """Log in again after ``generation``'s token was refused, unless another call has."""
        async with self._lock:
            if generation != self._generation:
                return  # a concurrent call already logged in again
            if self._renewed:
                raise ProviderAuthError(
                    PROVIDER,
                    f"Arbox ended the session again right after a new login (HTTP 401 on"
                    f" {endpoint}). {REENTER}",
                    status=401,
                )
            self._renewed = True
            _log.info("arbox.session_expired", endpoint=endpoint)
            await self._login()

    async def _login(self) -> None:
        email = self._credentials.email or ""
        password = self._credentials.password or ""
        body = await self._source._request(
            "POST",
            wire.PATH_LOGIN,
            endpoint="login",
            secrets=self._secrets,
            refused="Arbox refused the email and password",
            json_body=wire.login_body(email, password),
        )
        try:
            token = wire.read_token(body)
        except wire.WireError as exc:
            raise ProviderError(
                PROVIDER, f"login answered without a session token ({exc})"
            ) from exc
        self._secrets.add(token)
        self._token = token
        self._generation += 1


class ArboxSource:
    """Members, plans, leads and member details from Arbox.

    Safe to call concurrently: every call shares one ``httpx.AsyncClient`` whose pool holds
    at most ``max_connections`` connections, and keeps no other state between calls (a
    Management login lives for one listing). Retries follow one :class:`RetryPolicy`. Secrets
    (API key, password, session token) never appear in messages, logs or this object's repr.

    Pass ``http`` to share a client (it is then not closed here); otherwise the source owns
    one and :meth:`aclose` closes it.
    """

    def __init__(
        self,
        *,
        base_url: str = wire.DEFAULT_BASE_URL,
        http: httpx.AsyncClient | None = None,
        timeout: float = 30.0,
        retry_policy: RetryPolicy = DEFAULT_RETRY_POLICY,
        page_size: int = wire.DEFAULT_PAGE_SIZE,
        report_chunk_size: int = DEFAULT_REPORT_CHUNK,
        max_connections: int = 10,
    ) -> None:
        if not 1 <= page_size <= wire.MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {wire.MAX_PAGE_SIZE}")
        if report_chunk_size < 1:
            raise ValueError("report_chunk_size must be positive")
        self._base_url = base_url.rstrip("/")
        self._owns_http = http is None
        self._http = (
            http
            if http is not None
            else httpx.AsyncClient(
                timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
                limits=httpx.Limits(
                    max_connections=max_connections, max_keepalive_connections=max_connections
                ),
            )
        )
        self._retry_policy = retry_policy
        self._page_size = page_size
        self._report_chunk_size = report_chunk_size

    def __repr__(self) -> str:
        return f"ArboxSource(base_url={self._base_url!r})"

    async def aclose(self) -> None:
        """Close the HTTP client if this source created it."""
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # ------------------------------------------------------------------ MemberSource

    async def fetch_plans(self, credentials: SourceCredentials) -> list[SourcePlan]:
        """Every membership type (Business API); ``[]`` without an API key."""
        if not credentials.api_key:
            _log.info("arbox.plans_skipped", reason="no API key")
            return []
        plans: list[SourcePlan] = []
        async for page in self._pages(
            wire.PATH_MEMBERSHIP_TYPES,
            credentials,
            endpoint="membershipTypes",
            id_key=wire.PLAN_ID,
            limit=wire.MAX_PAGE_SIZE,
        ):
            for row in page:
                plan = wire.read_plan(row)
                if plan is None:
                    _log.warning("arbox.plan_without_name", external_id=row.get(wire.PLAN_ID))
                else:
                    plans.append(plan)
        return plans

    async def fetch_members(
        self, credentials: SourceCredentials
    ) -> AsyncIterator[list[SourceMember]]:
        """Every member, each once: both Management reports merged when a login is given
        (chunks of at most ``report_chunk_size``), else the Business API's pages."""
        if credentials.has_management_login:
            async for chunk in self._management_members(credentials):
                yield chunk
            return
        self._require_api_key(credentials, "members")
        async for page in self._pages(
            wire.PATH_USERS, credentials, endpoint="users", id_key=wire.USER_ID
        ):
            yield [wire.read_business_member(row) for row in page]

    async def fetch_leads(self, credentials: SourceCredentials) -> AsyncIterator[list[SourceLead]]:
        """Every lead (Business API pages); nothing without an API key."""
        if not credentials.api_key:
            _log.info("arbox.leads_skipped", reason="no API key")
            return
        async for page in self._pages(
            wire.PATH_LEADS, credentials, endpoint="leads", id_key=wire.USER_ID
        ):
            yield [wire.read_lead(row) for row in page]

    async def fetch_member_detail(
        self, credentials: SourceCredentials, external_id: str
    ) -> SourceMemberDetail | None:
        """``users/{id}`` (Business API); ``None`` when Arbox does not know the id."""
        self._require_api_key(credentials, "member details")
        external_id = external_id.strip()
        if not external_id:
            return None
        body = await self._request(
            "GET",
            wire.user_path(quote(external_id, safe="")),
            endpoint="users/{id}",
            secrets=_Secrets(credentials),
            refused="Arbox refused the API key",
            headers={wire.HEADER_API_KEY: credentials.api_key or ""},
            not_found_is_none=True,
        )
        if body is None:
            return None
        try:
            return wire.read_detail(external_id, wire.read_object(body))
        except wire.WireError as exc:
            raise ProviderError(
                PROVIDER, f"users/{{id}} answered an unexpected shape ({exc})"
            ) from exc

    # ------------------------------------------------------------------ listings

    @staticmethod
    def _require_api_key(credentials: SourceCredentials, what: str) -> None:
        if not credentials.api_key:
            raise InvalidInput(
                f"Arbox {what} need an API key (or, for members, an email and password).",
                field="apiKey",
            )

    async def _pages(
        self,
        path: str,
        credentials: SourceCredentials,
        *,
        endpoint: str,
        id_key: str,
        limit: int | None = None,
    ) -> AsyncIterator[list[Mapping[str, Any]]]:
        """The rows of a Business API list, one page at a time, each id once.

        Asks for ``?page=N&limit=L`` and stops after ``total_pages``, on a short or empty
        page, or when a full page brings no id not seen before (a server that ignores
        ``page`` must not loop us forever). ``next_page_url`` is never followed.
        """
        limit = limit or self._page_size
        secrets = _Secrets(credentials)
        headers = {wire.HEADER_API_KEY: credentials.api_key or ""}
        seen: set[str] = set()
        number = 1
        while True:
            body = await self._request(
                "GET",
                path,
                endpoint=endpoint,
                secrets=secrets,
                refused="Arbox refused the API key",
                headers=headers,
                params=wire.page_params(number, limit),
            )
            try:
                page = wire.read_page(body)
            except wire.WireError as exc:
                raise ProviderError(
                    PROVIDER, f"{endpoint} page {number} has an unexpected shape ({exc})"
                ) from exc
            fresh: list[Mapping[str, Any]] = []
            for row in page.rows:
                row_id = wire.identifier(row, id_key)
                if row_id:
                    if row_id in seen:
                        continue
                    seen.add(row_id)
                fresh.append(row)
            _log.debug(
                "arbox.page",
                endpoint=endpoint,
                page=number,
                rows=len(page.rows),
                total_pages=page.total_pages,
            )
            if fresh:
                yield fresh
            if len(page.rows) < limit:
                return
            if page.total_pages is not None and number >= page.total_pages:
                return
            if not fresh:
                _log.warning("arbox.paging_stalled", endpoint=endpoint, page=number)
                return
            number += 1

    async def _management_members(
        self, credentials: SourceCredentials
    ) -> AsyncIterator[list[SourceMember]]:
        """Log in, download both reports concurrently to disk, merge them there (active
        wins) and hand the members out in chunks: memory stays flat in the member count
        (:mod:`~fitdata_adapters.arbox.reports`)."""
        secrets = _Secrets(credentials)
        session = _ManagementSession(self, credentials, secrets)
        spool = ReportSpool()
        try:
            await session.token()  # log in once, before the two reports ask concurrently
            with spool.file(ACTIVE) as active, spool.file(INACTIVE) as inactive:
                await _both(
                    self._report(
                        session, secrets, wire.PATH_ACTIVE_REPORT, "activeMembersReport", active
                    ),
                    self._report(
                        session,
                        secrets,
                        wire.PATH_INACTIVE_REPORT,
                        "inactiveMembersReport",
                        inactive,
                    ),
                )
            try:
                counts = await asyncio.to_thread(spool.merge)
            except wire.WireError as exc:
                raise ProviderError(
                    PROVIDER, f"a members report has an unexpected shape ({exc})"
                ) from exc
            _log.info(
                "arbox.reports_merged",
                active_rows=counts.active_rows,
                inactive_rows=counts.inactive_rows,
                members=counts.members,
            )
            position = 0
            while True:
                chunk, position = await asyncio.to_thread(
                    spool.read, position, self._report_chunk_size
                )
                if not chunk:
                    return
                yield chunk
        finally:
            spool.close()

    async def _report(
        self,
        session: _ManagementSession,
        secrets: _Secrets,
        path: str,
        endpoint: str,
        sink: IO[bytes],
    ) -> None:
        """Stream one report's answer into ``sink`` (logging in again once if the session
        expired)."""
        while True:  # ends: renew() raises on the second expiry
            token, generation = await session.token()
            body = await self._request(
                "POST",
                path,
                endpoint=endpoint,
                secrets=secrets,
                refused="Arbox refused the session",
                headers={**wire.MANAGEMENT_HEADERS, wire.HEADER_TOKEN: token},
                json_body={},
                unauthorized_is_none=True,
                sink=sink,
            )
            if body is _UNAUTHORIZED:
                await session.renew(generation, endpoint)
                continue
            return

    # ------------------------------------------------------------------ transport

    async def _request(
        self,
        method: str,
        path: str,
        *,
        endpoint: str,
        secrets: _Secrets,
        refused: str,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, int] | None = None,
        json_body: Any = None,
        not_found_is_none: bool = False,
        unauthorized_is_none: bool = False,
        sink: IO[bytes] | None = None,
    ) -> Any:
        """One call with retries; returns the decoded JSON body, or with ``sink`` writes a
        successful answer's body there as it arrives and returns ``None`` (a retry starts the
        file again).

        401/403 raise ``ProviderAuthError`` (``refused`` says what was refused), or return
        ``_UNAUTHORIZED`` when ``unauthorized_is_none`` (the caller logs in again); 404 returns
        ``None`` when ``not_found_is_none``; 422 and other errors raise ``ProviderError``.
        """
        url = self._base_url + path
        content = None if json_body is None else json.dumps(json_body).encode()
        request_headers = {"Accept": "application/json", **(headers or {})}
        if content is not None:
            request_headers["Content-Type"] = "application/json"
        attempts = 0

        async def attempt() -> httpx.Response:
            nonlocal attempts
            attempts += 1
            started = time.perf_counter()
            if sink is None:
                response = await self._http.request(
                    method, url, content=content, headers=request_headers, params=params
                )
            else:
                response = await self._stream(
                    self._http.build_request(
                        method, url, content=content, headers=request_headers, params=params
                    ),
                    sink,
                )
            _log.debug(
                "arbox.call",
                endpoint=endpoint,
                page=(params or {}).get("page"),
                http_status=response.status_code,
                attempt=attempts,
                elapsed_ms=round((time.perf_counter() - started) * 1000, 1),
            )
            if is_retryable_status(response.status_code):
                raise RetryableAnswer(response.status_code, retry_after_seconds(response.headers))
            return response

        def before_sleep(state: RetryCallState) -> None:
            failure = state.outcome.exception() if state.outcome else None
            _log.warning(
                "arbox.retrying",
                endpoint=endpoint,
                attempt=state.attempt_number,
                reason=(
                    f"HTTP {failure.status}"
                    if isinstance(failure, RetryableAnswer)
                    else type(failure).__name__
                ),
                wait_seconds=round(state.upcoming_sleep, 2),
            )

        try:
            response: httpx.Response = await self._retry_policy.retrying(before_sleep=before_sleep)(
                attempt
            )
        except RetryableAnswer as exc:
            reason = "too many requests" if exc.status == 429 else "server error"
            asked = (
                f", and asked to wait {exc.retry_after:g} s more"
                if exc.retry_after is not None
                else ""
            )
            raise ProviderError(
                PROVIDER,
                f"{endpoint} answered HTTP {exc.status} ({reason}){asked}; gave up after"
                f" {_attempts(attempts)}. Try the import again later.",
                status=exc.status,
            ) from exc
        except httpx.TimeoutException as exc:
            raise ProviderError(
                PROVIDER, f"{endpoint} timed out; gave up after {_attempts(attempts)}"
            ) from exc
        except httpx.HTTPError as exc:
            raise ProviderError(
                PROVIDER,
                f"{endpoint} connection failed ({type(exc).__name__}); gave up after"
                f" {_attempts(attempts)}",
            ) from exc
        if sink is not None and response.is_success:
            return None
        return self._read(
            response, endpoint, secrets, refused, not_found_is_none, unauthorized_is_none
        )

    async def _stream(self, request: httpx.Request, sink: IO[bytes]) -> httpx.Response:
        """Send ``request``; a successful answer's body goes to ``sink`` (from its start),
        any other answer is read into the response as usual."""
        response = await self._http.send(request, stream=True)
        try:
            if response.is_success:
                sink.seek(0)
                sink.truncate()
                async for block in response.aiter_bytes():
                    sink.write(block)
                sink.flush()
            else:
                await response.aread()
        finally:
            await response.aclose()
        return response

    def _read(
        self,
        response: httpx.Response,
        endpoint: str,
        secrets: _Secrets,
        refused: str,
        not_found_is_none: bool,
        unauthorized_is_none: bool,
    ) -> Any:
        status = response.status_code
        try:
            body = json.loads(response.content, parse_float=Decimal) if response.content else None
        except ValueError:
            body = _NOT_JSON
        if status in (httpx.codes.UNAUTHORIZED, httpx.codes.FORBIDDEN):
            if unauthorized_is_none and status == httpx.codes.UNAUTHORIZED:
                return _UNAUTHORIZED
            raise ProviderAuthError(
                PROVIDER, f"{refused} (HTTP {status} on {endpoint}). {REENTER}", status=status
            )
        if status == httpx.codes.NOT_FOUND and not_found_is_none:
            return None
        if not 200 <= status < 300:
            detail = secrets.redact(wire.error_text(body))
            suffix = f": {detail}" if detail else ""
            if status == httpx.codes.UNPROCESSABLE_ENTITY:
                message = f"{endpoint} was refused as invalid (HTTP 422){suffix}"
            else:
                message = f"{endpoint} answered HTTP {status}{suffix}"
            raise ProviderError(PROVIDER, message, status=status)
        if body is _NOT_JSON or body is None:
            raise ProviderError(PROVIDER, f"{endpoint} answered with a body that is not JSON")
        return body


def _attempts(count: int) -> str:
    return "1 attempt" if count == 1 else f"{count} attempts"


class _Marker:
    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name


_UNAUTHORIZED: Any = _Marker("UNAUTHORIZED")
_NOT_JSON: Any = _Marker("NOT_JSON")


async def _both(first: Awaitable[T], second: Awaitable[T]) -> tuple[T, T]:
    """Run two calls concurrently; when one fails the other is cancelled."""
    tasks = [asyncio.ensure_future(first), asyncio.ensure_future(second)]
    try:
        a, b = await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    return a, b


__all__ = ["REENTER", "ArboxSource"]

"""Arbox's two APIs as ``arbox-protocol.md`` profiles them, with latency and injected failures
applied to every call and every call recorded."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Sequence
from http import HTTPStatus
from typing import Any

import attrs
from litestar import Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Stream

from fitdata_adapters.arbox_sandbox.dataset import DataSet, JsonObject
from fitdata_adapters.arbox_sandbox.deps import Sandbox
from fitdata_adapters.arbox_sandbox.engine import (
    ACTIVE_REPORT,
    DEFAULT_PAGE_SIZE,
    INACTIVE_REPORT,
    LEADS,
    LOGIN,
    MAX_PAGE_SIZE,
    PLANS,
    USER,
    USERS,
    ArboxSandbox,
    CallRecord,
    page_count,
)
from fitdata_adapters.arbox_sandbox.shapes import array_stream, error_body, json_response

BUSINESS = "/api/public/v3"
MANAGEMENT_REPORTS = "/api/manage/v2/reports"

Answer = Response[bytes] | Stream


class _Refusal(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _positive(request: Request[Any, Any, Any], name: str, default: int, maximum: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _Refusal(422, f"The {name} must be an integer.") from None
    if value < 1 or value > maximum:
        raise _Refusal(422, f"The {name} must be between 1 and {maximum}.")
    return value


async def _serve(
    sandbox: ArboxSandbox,
    request: Request[Any, Any, Any],
    endpoint: str,
    handle: Callable[[], Answer],
    *,
    paged: bool = False,
) -> Answer:
    """Latency, then an injected failure if one is queued, then the real answer."""
    received_at = time.monotonic()
    if sandbox.latency_seconds:
        await asyncio.sleep(sandbox.latency_seconds)
    page = request.query_params.get("page") if paged else None
    limit = request.query_params.get("limit") if paged else None
    record = CallRecord(
        method=request.method,
        endpoint=endpoint,
        path=request.url.path,
        status=0,
        page=int(page) if page and page.isdigit() else None,
        limit=int(limit) if limit and limit.isdigit() else None,
        received_at=received_at,
    )
    failure = sandbox.take_failure(endpoint)
    if failure is not None:
        headers = {}
        if failure.retry_after is not None:
            headers["Retry-After"] = f"{failure.retry_after:g}"
        sandbox.record(attrs.evolve(record, status=failure.status, injected=True))
        return json_response(
            failure.status, error_body(failure.status, HTTPStatus(failure.status).phrase), headers
        )
    try:
        answer = handle()
    except _Refusal as exc:
        answer = json_response(exc.status, error_body(exc.status, exc.message))
    sandbox.record(attrs.evolve(record, status=answer.status_code or 200))
    return answer


# ---------------------------------------------------------------------- Business API


def _check_key(sandbox: ArboxSandbox, request: Request[Any, Any, Any]) -> None:
    if not sandbox.api_key_ok(request.headers.get("api-key")):
        raise _Refusal(401, "Unauthorized: the api-key header is missing or wrong.")


def _list(
    sandbox: ArboxSandbox,
    request: Request[Any, Any, Any],
    rows_of: Callable[[DataSet], Sequence[JsonObject]],
) -> Answer:
    _check_key(sandbox, request)
    page = _positive(request, "page", 1, 10**9)
    limit = _positive(request, "limit", DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    rows = rows_of(sandbox.data)
    total_pages = page_count(len(rows), limit)
    data = list(rows[(page - 1) * limit : page * limit])
    # Arbox's next_page_url comes back as http:// without the query (providers.md §2.1);
    # the sandbox does the same so a client that follows it gets page 1 again.
    host = request.headers.get("host", "arboxserver.arboxapp.com")
    next_url = f"http://{host}{request.url.path}" if page < total_pages else None
    return json_response(
        200,
        {
            "statusCode": 200,
            "data": data,
            "extra": {
                "pagination": {
                    "total_pages": total_pages,
                    "next_page_url": next_url,
                    "results_per_page": limit,
                    "results_count": len(data),
                }
            },
        },
    )


@get(f"{BUSINESS}/membershipTypes")
async def membership_types(request: Request[Any, Any, Any], sandbox: Sandbox) -> Answer:
    """Plans, paged."""
    return await _serve(
        sandbox, request, PLANS, lambda: _list(sandbox, request, lambda d: d.plans), paged=True
    )


@get(f"{BUSINESS}/users")
async def users(request: Request[Any, Any, Any], sandbox: Sandbox) -> Answer:
    """Active members, paged."""
    return await _serve(
        sandbox, request, USERS, lambda: _list(sandbox, request, lambda d: d.users), paged=True
    )


@get(f"{BUSINESS}/leads")
async def leads(request: Request[Any, Any, Any], sandbox: Sandbox) -> Answer:
    """Leads, paged."""
    return await _serve(
        sandbox, request, LEADS, lambda: _list(sandbox, request, lambda d: d.leads), paged=True
    )


@get(f"{BUSINESS}/users/{{user_id:str}}")
async def user_detail(
    user_id: FromPath[str], request: Request[Any, Any, Any], sandbox: Sandbox
) -> Answer:
    """One member's detail; 404 for an unknown id."""

    def handle() -> Answer:
        _check_key(sandbox, request)
        detail = sandbox.data.details.get(user_id)
        if detail is None:
            raise _Refusal(404, "User not found.")
        return json_response(200, {"statusCode": 200, "data": detail})

    return await _serve(sandbox, request, USER, handle)


# ---------------------------------------------------------------------- Management API


async def _json_object(request: Request[Any, Any, Any]) -> dict[str, Any] | None:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


@post("/api/v2/login", status_code=200)
async def login(request: Request[Any, Any, Any], sandbox: Sandbox) -> Answer:
    """Email and password → ``{"token": ...}``; wrong ones → 401."""
    body = await _json_object(request)

    def handle() -> Answer:
        if body is None:
            raise _Refusal(422, "The body must be a JSON object with email and password.")
        token = sandbox.login(body.get("email"), body.get("password"))
        if token is None:
            return json_response(401, {"error": "Invalid email or password."})
        return json_response(200, {"token": token})

    return await _serve(sandbox, request, LOGIN, handle)


def _report(
    sandbox: ArboxSandbox,
    request: Request[Any, Any, Any],
    body: dict[str, Any] | None,
    rows_of: Callable[[DataSet], Sequence[JsonObject]],
) -> Answer:
    if not sandbox.token_ok(request.headers.get("token")):
        return json_response(401, {"error": "Unauthenticated."})
    if body is None:
        raise _Refusal(422, "The body must be a JSON object.")
    return array_stream(rows_of(sandbox.data))


@post(f"{MANAGEMENT_REPORTS}/activeMembersReport", status_code=200)
async def active_members_report(request: Request[Any, Any, Any], sandbox: Sandbox) -> Answer:
    """Active members: a bare array."""
    body = await _json_object(request)
    return await _serve(
        sandbox,
        request,
        ACTIVE_REPORT,
        lambda: _report(sandbox, request, body, lambda d: d.active_report),
    )


@post(f"{MANAGEMENT_REPORTS}/inactiveMembersReport", status_code=200)
async def inactive_members_report(request: Request[Any, Any, Any], sandbox: Sandbox) -> Answer:
    """Inactive members: a bare array."""
    body = await _json_object(request)
    return await _serve(
        sandbox,
        request,
        INACTIVE_REPORT,
        lambda: _report(sandbox, request, body, lambda d: d.inactive_report),
    )


API_HANDLERS = [
    membership_types,
    users,
    leads,
    user_detail,
    login,
    active_members_report,
    inactive_members_report,
]

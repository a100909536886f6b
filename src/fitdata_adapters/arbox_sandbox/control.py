"""Test controls under ``/_sandbox/`` (JSON). Not part of Arbox's protocol.

See :data:`CONTROLS` for the list (also served at ``GET /_sandbox``). Each has a Python
equivalent on :class:`~fitdata_adapters.arbox_sandbox.engine.ArboxSandbox`.
"""

from __future__ import annotations

import json
from typing import Any

from litestar import Request, Response, delete, get, post, put

from fitdata_adapters.arbox_sandbox.deps import Sandbox
from fitdata_adapters.arbox_sandbox.shapes import json_response

PREFIX = "/_sandbox"

#: Every control endpoint and what it takes.
CONTROLS = (
    "GET    /_sandbox: this list",
    "GET    /_sandbox/data: how many rows each data set holds",
    "PUT    /_sandbox/data: {plans?, users?, active_report?, inactive_report?, leads?,"
    " details? {user_id: {...}}} replaces the given data sets (Arbox field names)",
    "POST   /_sandbox/generate: {members, seed? 1} serves a generated data set",
    "PUT    /_sandbox/credentials: {api_key?, email?, password?} (null: none accepted)",
    "PUT    /_sandbox/latency: {ms} added to every API answer; 0 removes it",
    "POST   /_sandbox/failures: {status, count? 1, endpoint?, retry_after?} answer the next"
    " calls with status (endpoints: login, membershipTypes, users, users/{id}, leads,"
    " activeMembersReport, inactiveMembersReport)",
    "DELETE /_sandbox/failures: forget queued failures",
    "POST   /_sandbox/sessions/expire: end every Management session (next call gets 401)",
    "GET    /_sandbox/calls: every API call received; DELETE forgets them",
    "POST   /_sandbox/reset: back to the configured data set and credentials",
)

_DATA_KEYS = ("plans", "users", "active_report", "inactive_report", "leads")


class _ControlError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


async def _body(request: Request[Any, Any, Any]) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise _ControlError("body must be JSON") from None
    if not isinstance(data, dict):
        raise _ControlError("body must be a JSON object")
    return data


def _bad(exc: Exception) -> Response[bytes]:
    return json_response(400, {"error": getattr(exc, "message", None) or str(exc)})


def _number(data: dict[str, Any], key: str, *, required: bool = False) -> float | None:
    value = data.get(key)
    if value is None:
        if required:
            raise _ControlError(f"{key} is required")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise _ControlError(f"{key} must be a non-negative number")
    return float(value)


def _integer(data: dict[str, Any], key: str, default: int | None = None) -> int:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _ControlError(f"{key} must be a whole number")
    return value


@get(PREFIX)
async def index() -> Response[bytes]:
    """The control endpoints."""
    return json_response(200, {"controls": list(CONTROLS)})


@get(PREFIX + "/data")
async def data_counts(sandbox: Sandbox) -> Response[bytes]:
    """Row counts of the data sets served."""
    return json_response(200, sandbox.data.describe())


@put(PREFIX + "/data")
async def set_data(request: Request[Any, Any, Any], sandbox: Sandbox) -> Response[bytes]:
    """Replace the given data sets."""
    try:
        data = await _body(request)
        unknown = set(data) - {*_DATA_KEYS, "details"}
        if unknown:
            raise _ControlError(f"unknown data sets {sorted(unknown)}")
        changes: dict[str, Any] = {}
        for key in _DATA_KEYS:
            if key in data:
                rows = data[key]
                if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
                    raise _ControlError(f"{key} must be a list of objects")
                changes[key] = rows
        if "details" in data:
            details = data["details"]
            if not isinstance(details, dict) or not all(
                isinstance(v, dict) for v in details.values()
            ):
                raise _ControlError("details must be an object of objects keyed by user id")
            changes["details"] = details
    except _ControlError as exc:
        return _bad(exc)
    return json_response(200, sandbox.set_data(**changes).describe())


@post(PREFIX + "/generate", status_code=200)
async def generate(request: Request[Any, Any, Any], sandbox: Sandbox) -> Response[bytes]:
    """Serve ``members`` generated members (deterministic from ``seed``)."""
    try:
        data = await _body(request)
        members = _integer(data, "members")
        seed = _integer(data, "seed", 1)
        if members < 0:
            raise _ControlError("members must not be negative")
    except _ControlError as exc:
        return _bad(exc)
    return json_response(200, sandbox.generate(members, seed=seed).describe())


@put(PREFIX + "/credentials")
async def credentials(request: Request[Any, Any, Any], sandbox: Sandbox) -> Response[bytes]:
    """Change the API key and/or the login accepted."""
    try:
        data = await _body(request)
        for key in ("api_key", "email", "password"):
            if key in data and data[key] is not None and not isinstance(data[key], str):
                raise _ControlError(f"{key} must be a string or null")
    except _ControlError as exc:
        return _bad(exc)
    if "api_key" in data:
        sandbox.set_api_key(data["api_key"])
    if "email" in data or "password" in data:
        sandbox.set_login(data.get("email", sandbox.email), data.get("password", sandbox.password))
    return json_response(
        200,
        {
            "has_api_key": sandbox.api_key is not None,
            "has_login": bool(sandbox.email and sandbox.password),
        },
    )


@put(PREFIX + "/latency")
async def latency(request: Request[Any, Any, Any], sandbox: Sandbox) -> Response[bytes]:
    """Delay every API answer by ``ms``."""
    try:
        ms = _number(await _body(request), "ms", required=True)
    except _ControlError as exc:
        return _bad(exc)
    sandbox.set_latency(ms or 0.0)
    return json_response(200, {"latency_ms": sandbox.latency_seconds * 1000})


@post(PREFIX + "/failures")
async def add_failure(request: Request[Any, Any, Any], sandbox: Sandbox) -> Response[bytes]:
    """Queue a failure for the next call(s)."""
    try:
        data = await _body(request)
        endpoint = data.get("endpoint")
        if endpoint is not None and not isinstance(endpoint, str):
            raise _ControlError("endpoint must be a string")
        sandbox.fail_next(
            _integer(data, "status"),
            count=_integer(data, "count", 1),
            endpoint=endpoint,
            retry_after=_number(data, "retry_after"),
        )
    except (_ControlError, ValueError) as exc:
        return _bad(exc)
    return json_response(201, {"failures": [f.to_json() for f in sandbox.failures]})


@delete(PREFIX + "/failures", status_code=200)
async def clear_failures(sandbox: Sandbox) -> Response[bytes]:
    """Forget every queued failure."""
    sandbox.clear_failures()
    return json_response(200, {"failures": []})


@post(PREFIX + "/sessions/expire", status_code=200)
async def expire_sessions(sandbox: Sandbox) -> Response[bytes]:
    """End every Management session."""
    sandbox.expire_sessions()
    return json_response(200, {"expired": True})


@get(PREFIX + "/calls")
async def calls(sandbox: Sandbox) -> Response[bytes]:
    """Every API call received, in order."""
    return json_response(200, {"calls": [call.to_json() for call in sandbox.calls]})


@delete(PREFIX + "/calls", status_code=200)
async def clear_calls(sandbox: Sandbox) -> Response[bytes]:
    """Forget the calls received."""
    sandbox.clear_calls()
    return json_response(200, {"calls": []})


@post(PREFIX + "/reset", status_code=200)
async def reset(sandbox: Sandbox) -> Response[bytes]:
    """Back to the configured data set and credentials; no latency, failures or calls."""
    sandbox.reset()
    return json_response(200, {"reset": True})


CONTROL_HANDLERS = [
    index,
    data_counts,
    set_data,
    generate,
    credentials,
    latency,
    add_failure,
    clear_failures,
    expire_sessions,
    calls,
    clear_calls,
    reset,
]

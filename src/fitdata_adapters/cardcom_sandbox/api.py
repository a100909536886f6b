"""The v11 JSON endpoints, with the sandbox's latency and fault injection applied to each."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from litestar import Request, Response, post

from fitdata_adapters.cardcom_sandbox import codes
from fitdata_adapters.cardcom_sandbox.deps import Sandbox
from fitdata_adapters.cardcom_sandbox.engine import ApiAnswer
from fitdata_adapters.cardcom_sandbox.shapes import encode, error_info
from fitdata_adapters.cardcom_sandbox.store import CallRecord
from fitdata_adapters.cardcom_sandbox.validation import BadRequest

#: Endpoint keys as used by the control API (lower case; paths are case-insensitive).
CREATE = "lowprofile/create"
GET_LP_RESULT = "lowprofile/getlpresult"
TRANSACTION = "transactions/transaction"
FIND_TRANSACTION = "transactions/gettransactionbyexternaluniqtran"
ENDPOINTS = frozenset({CREATE, GET_LP_RESULT, TRANSACTION, FIND_TRANSACTION})

_SERVER_ERROR = {"Message": "An error has occurred."}


def _json(status: int, body: object) -> Response[bytes]:
    return Response(content=encode(body), status_code=status, media_type="application/json")


async def _serve(
    sandbox: Sandbox,
    request: Request[Any, Any, Any],
    endpoint: str,
    handle: Callable[[Any], ApiAnswer],
) -> Response[bytes]:
    state = sandbox.state
    latency = state.latency_for(endpoint)
    if latency:
        await asyncio.sleep(latency)
    fault = state.take_fault(endpoint)
    if fault is not None and fault.mode in ("error", "hang"):
        if fault.mode == "hang":
            await sandbox.pause(fault.hang_seconds)
        state.calls.append(CallRecord(endpoint, fault.status, None))
        return _json(fault.status, _SERVER_ERROR)
    try:
        raw = json.loads(await request.body(), parse_float=Decimal)
    except ValueError:
        status, body = 400, error_info(codes.INVALID_REQUEST, "The request body is not JSON.")
    else:
        try:
            status, body = handle(raw)
        except BadRequest as exc:
            status, body = 400, error_info(codes.INVALID_REQUEST, exc.description)
    state.calls.append(CallRecord(endpoint, status, body.get("ResponseCode")))
    if fault is not None:  # hang_after: the work is done, but the answer is "lost"
        await sandbox.pause(fault.hang_seconds)
    return _json(status, body)


@post("/api/v11/lowprofile/create")
async def create_low_profile(request: Request[Any, Any, Any], sandbox: Sandbox) -> Response[bytes]:
    """``LowProfile/Create``: open a hosted payment page."""
    base_url = str(request.base_url)
    return await _serve(
        sandbox, request, CREATE, lambda raw: sandbox.create_low_profile(raw, base_url=base_url)
    )


@post("/api/v11/lowprofile/getlpresult")
async def get_lp_result(request: Request[Any, Any, Any], sandbox: Sandbox) -> Response[bytes]:
    """``LowProfile/GetLpResult``: what happened on a hosted page."""
    return await _serve(sandbox, request, GET_LP_RESULT, sandbox.get_lp_result)


@post("/api/v11/transactions/transaction")
async def transaction(request: Request[Any, Any, Any], sandbox: Sandbox) -> Response[bytes]:
    """``Transactions/Transaction``: charge a token."""
    return await _serve(sandbox, request, TRANSACTION, sandbox.transaction)


@post("/api/v11/transactions/gettransactionbyexternaluniqtran")
async def find_transaction(request: Request[Any, Any, Any], sandbox: Sandbox) -> Response[bytes]:
    """``Transactions/GetTransactionByExternalUniqTran``: look a charge up by our id."""
    return await _serve(sandbox, request, FIND_TRANSACTION, sandbox.find_transaction)


API_HANDLERS = [create_low_profile, get_lp_result, transaction, find_transaction]

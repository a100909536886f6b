"""Where request handlers, guards and hooks find the runtime and the request id."""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection

from fitdata_adapters.bootstrap import Runtime
from fitdata_core.services import Services

__all__ = ["REQUEST_ID_KEY", "RUNTIME_KEY", "request_id_of", "runtime_of", "services_of"]

RUNTIME_KEY = "fitdata_runtime"  # in app.state
REQUEST_ID_KEY = "fitdata_request_id"  # in the ASGI scope's state


def runtime_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Runtime:
    """The :class:`Runtime` the app was built with."""
    runtime = connection.app.state.get(RUNTIME_KEY)
    if not isinstance(runtime, Runtime):  # pragma: no cover - create_app always sets it
        raise RuntimeError("the app was not built by fitdata_http.create_app")
    return runtime


def services_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Services | None:
    runtime = connection.app.state.get(RUNTIME_KEY)
    return runtime.services if isinstance(runtime, Runtime) else None


def request_id_of(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    value = connection.scope.get("state", {}).get(REQUEST_ID_KEY)
    return value if isinstance(value, str) else None

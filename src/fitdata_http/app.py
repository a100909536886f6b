"""The Litestar application factory.

``create_app(runtime)`` wires the runtime's :class:`~fitdata_core.services.Services` into
dependency injection, authentication, the tier guard, the one error mapper, request logging
and the OpenAPI document. Serve it with ``uvicorn --factory`` through a small wrapper that
builds the runtime (the CLI does this).
"""

from __future__ import annotations

from collections.abc import Sequence

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.types import ControllerRouterHandler

from fitdata_adapters.bootstrap import Runtime
from fitdata_adapters.lean_litestar import LeanLitestar
from fitdata_adapters.storage.local import LocalFolderStorage
from fitdata_core.services import Services
from fitdata_http.auth import authenticate_declared_actor, provide_actor
from fitdata_http.bodies import FitdataRequest
from fitdata_http.context import RUNTIME_KEY
from fitdata_http.contract import complete_document
from fitdata_http.controllers.admin import AdminBillingController
from fitdata_http.controllers.analytics import AnalyticsController
from fitdata_http.controllers.billing import BillingController
from fitdata_http.controllers.catalog import (
    CoursesController,
    LocationsController,
    PlansController,
)
from fitdata_http.controllers.checkout_return import CheckoutReturnController
from fitdata_http.controllers.csv_imports import CsvImportsController
from fitdata_http.controllers.exports import ExportsController
from fitdata_http.controllers.files import FilesController
from fitdata_http.controllers.health import HealthController
from fitdata_http.controllers.import_provider import ImportProviderController
from fitdata_http.controllers.imports import ImportsController, LeadsController
from fitdata_http.controllers.members import MembersController
from fitdata_http.controllers.webhooks import WebhooksController
from fitdata_http.errors import handle_exception
from fitdata_http.idempotency import IDEMPOTENCY_DEPENDENCY, provide_idempotency
from fitdata_http.openapi import openapi_config
from fitdata_http.params import provide_org_id
from fitdata_http.request_log import RequestLogMiddleware
from fitdata_http.shared_connection import SharedReadsMiddleware

__all__ = ["ROUTE_HANDLERS", "create_app"]

# Every feature's controllers. A new feature adds its controllers here.
ROUTE_HANDLERS: list[ControllerRouterHandler] = [
    HealthController,
    MembersController,
    PlansController,
    CoursesController,
    LocationsController,
    ExportsController,
    AnalyticsController,
    BillingController,
    WebhooksController,
    CheckoutReturnController,
    AdminBillingController,
    ImportProviderController,
    ImportsController,
    CsvImportsController,
    LeadsController,
]

# Request bodies larger than this are refused with 413 before a handler runs. Uploads that
# need more (CSV imports) set ``request_max_body_size`` on their own handler.
MAX_BODY_BYTES = 1024 * 1024


def create_app(
    runtime: Runtime,
    *,
    extra_route_handlers: Sequence[ControllerRouterHandler] = (),
    close_runtime_on_shutdown: bool = False,
) -> Litestar:
    """The fitdata API over ``runtime``.

    Dependencies every handler may declare: ``services: Services``, ``actor: Actor``
    (authenticates the request; 401 otherwise) and ``org_id: str`` (the validated ``orgId``
    path parameter). ``extra_route_handlers`` mounts more routes (plug-ins, tests).
    ``close_runtime_on_shutdown`` hands the runtime's lifetime to the app (for servers that
    build the runtime just for it).
    """
    services = runtime.services

    async def provide_services() -> Services:
        return services

    handlers = list(ROUTE_HANDLERS)
    if isinstance(services.storage, LocalFolderStorage):
        handlers.append(FilesController)
    handlers.extend(extra_route_handlers)

    app = LeanLitestar(
        route_handlers=handlers,
        dependencies={
            "services": Provide(provide_services),
            "actor": Provide(provide_actor),
            "org_id": Provide(provide_org_id),
            IDEMPOTENCY_DEPENDENCY: Provide(provide_idempotency),
        },
        # Authentication first, then the body (read by FitdataRequest when arguments are
        # gathered, after every guard): an anonymous caller never reaches the JSON parser.
        guards=[authenticate_declared_actor],
        request_class=FitdataRequest,
        exception_handlers={Exception: handle_exception},
        openapi_config=openapi_config(),
        state=State({RUNTIME_KEY: runtime}),
        on_shutdown=[runtime.aclose] if close_runtime_on_shutdown else [],
        request_max_body_size=MAX_BODY_BYTES,
        # Our own request log and error mapper replace Litestar's logging.
        logging_config=None,
        debug=False,
    )
    # Success envelopes and problem responses, for every route, before the document is served.
    complete_document(app)
    # Outermost layer, so unknown paths and mapped errors are logged with their final status;
    # inside it, one pooled connection for the request's reads.
    app.asgi_handler = RequestLogMiddleware(SharedReadsMiddleware(app.asgi_handler))
    return app

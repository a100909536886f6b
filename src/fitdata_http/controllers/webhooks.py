"""``POST /webhooks/cardcom``: Cardcom's payment notification (public, no token).

Cardcom v11 posts the ``LowProfileResult`` as JSON; legacy terminals post form fields
(``lowprofilecode`` / ``LowProfileCode``). Either way the body only says *which* hosted page to
look at: the result is pulled from Cardcom (``GetLpResult``) and nothing else in the post is
read, so a forged post can at most make us ask Cardcom about a real page.

Answers: ``200 {"status": <outcome>}`` for everything Cardcom should stop re-sending
(``completed``, ``already_processed``, ``deferred``, ``failed``, ``unknown``, ``ignored`` for a
body without a LowProfile id); ``503`` with ``Retry-After: 60`` when the payment could not be
settled now, because Cardcom itself could not be reached while verifying or our own database
or another dependency is down, so that Cardcom re-sends on its retry schedule.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

import attrs
from litestar import Controller, Request, Response, post
from litestar.background_tasks import BackgroundTask

from fitdata_adapters.cardcom import webhook_low_profile_id
from fitdata_adapters.logging import get_logger
from fitdata_core.errors import ProviderError, Unavailable
from fitdata_core.usecases import billing
from fitdata_core.usecases.billing import ActivationOutcome
from fitdata_core.usecases.billing.activation import AfterAnswer
from fitdata_http.bodies import decode_json_body, decode_text_body
from fitdata_http.contract import answers
from fitdata_http.deps import ServicesDep
from fitdata_http.errors import Problem, problem_for, problem_response, status_for
from fitdata_http.params import is_low_profile_id

__all__ = ["WEBHOOK_RETRY_AFTER_SECONDS", "WebhooksController", "read_webhook_fields"]

_log = get_logger("fitdata.http.webhooks")

# Outcomes worth a person's attention in the logs: the payment is not settled yet, or the
# post named a page we never issued.
_NOTEWORTHY = {ActivationOutcome.DEFERRED, ActivationOutcome.UNKNOWN, ActivationOutcome.IGNORED}

# Every 503 of the webhook asks for a minute, whatever failed: Cardcom re-sends on its own
# schedule (1, 2, 2, 16, 60 minutes, ...), so the header only documents that a retry is
# wanted, and a minute is Cardcom's first gap. The API's own FITDATA_RETRY_AFTER_SECONDS is
# tuned for interactive clients, not for a payment provider's notification queue.
WEBHOOK_RETRY_AFTER_SECONDS = 60


def read_webhook_fields(content_type: str, raw: bytes) -> Mapping[str, Any]:
    """The fields of a webhook body, JSON or form-encoded; ``{}`` for an empty body or a JSON
    value that is not an object (answered ``ignored``).

    Only used to find the LowProfile id. A body that cannot be read at all (invalid UTF-8,
    broken or absurdly nested JSON) is ``InvalidInput``, a 400: it was not Cardcom's.
    """
    if not raw.strip():
        return {}
    if "json" in content_type or raw.lstrip().startswith(b"{"):
        data = decode_json_body(raw)
        return data if isinstance(data, dict) else {}
    return dict(parse_qsl(decode_text_body(raw).strip(), keep_blank_values=False))


@attrs.frozen
class WebhookAck:
    """What Cardcom is told (no envelope): the notification's outcome."""

    status: ActivationOutcome


class WebhooksController(Controller):
    path = "/webhooks"
    tags = ["billing"]  # noqa: RUF012 - Litestar reads these as class attributes

    @post(
        "/cardcom",
        status_code=200,
        opt=answers(WebhookAck, shape="bare"),
        summary="Cardcom payment notification (public; verified with Cardcom, never trusted)",
    )
    async def cardcom(
        self, services: ServicesDep, request: Request[Any, Any, Any]
    ) -> Response[Any]:
        content_type = request.headers.get("content-type", "").lower()
        fields = dict(read_webhook_fields(content_type, await request.body()))
        # The legacy IndicatorUrl put the id in the query string; accept it there too.
        fields.update({k: v for k, v in request.query_params.items() if k not in fields})
        low_profile_id = webhook_low_profile_id(fields)
        if low_profile_id is not None and not is_low_profile_id(low_profile_id):
            # Not an id we could have issued (odd characters, too long): nothing to look up,
            # and nothing Cardcom should send again.
            shown = low_profile_id[:100].encode("unicode_escape").decode("ascii")
            _log.warning("cardcom_webhook", low_profile_id=shown, outcome="unknown")
            return Response(content={"status": ActivationOutcome.UNKNOWN.value}, status_code=200)
        # The receipt (its owners lookup included) is sent after the answer (a background
        # task): Cardcom waits only for the committed activation, not for the mail server.
        later: list[AfterAnswer] = []
        try:
            outcome = await billing.handle_webhook(services, low_profile_id, after_answer=later)
        except ProviderError as exc:
            _log.warning(
                "cardcom_webhook_verify_failed",
                low_profile_id=low_profile_id,
                error=type(exc).__name__,
                provider_status=exc.status,
            )
            problem = Problem(
                status_for(exc),
                "PROVIDER_ERROR",
                "Could not verify the payment with Cardcom; send the notification again.",
                headers={"Retry-After": str(WEBHOOK_RETRY_AFTER_SECONDS)},
            )
            return problem_response(problem)
        except Unavailable as exc:
            # Our own database (or another dependency) is down: the payment is still to be
            # settled, so Cardcom must send the notification again.
            _log.warning(
                "cardcom_webhook_unavailable",
                low_profile_id=low_profile_id,
                error=type(exc).__name__,
            )
            problem = attrs.evolve(
                problem_for(exc), headers={"Retry-After": str(WEBHOOK_RETRY_AFTER_SECONDS)}
            )
            return problem_response(problem)
        log = _log.warning if outcome in _NOTEWORTHY else _log.info
        log("cardcom_webhook", low_profile_id=low_profile_id, outcome=outcome.value)
        return Response(
            content={"status": outcome.value},
            status_code=200,
            background=BackgroundTask(_run_in_order, later) if later else None,
        )


async def _run_in_order(work: list[AfterAnswer]) -> None:
    for step in work:
        await step()

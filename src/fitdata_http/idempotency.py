"""``Idempotency-Key`` for the POST routes that start work or move money.

A route opts in with one parameter, ``idempotency: IdempotencyDep``, and runs its work
through it::

    @post("/checkout", responses=IDEMPOTENT_RESPONSES)
    async def checkout(self, ..., idempotency: IdempotencyDep) -> Envelope:
        body = read_body(data, ChosenTier)
        return await idempotency.run(lambda: start_checkout(...), Action.CHANGE_BILLING)

The dependency declares the optional ``Idempotency-Key`` header (so the OpenAPI document
lists it, with its limits, on every route that takes it). Without the header the work just
runs. With it, the first request claims the key in the organization and its successful
answer is stored; a retry with the same key, caller, route and body within 24 hours gets that
answer again (with ``Idempotent-Replayed: true``) and the work is not done twice; the same
key with anything different is ``422 IDEMPOTENCY_KEY_REUSED``; a retry while the first is
still running is ``409 IDEMPOTENCY_KEY_IN_USE``. The ``Action`` a route names is the right
its use case requires; it is checked again before an answer is replayed, so a caller who lost
the role or the membership since gets 403, never the stored answer. The rules live in
:mod:`fitdata_core.usecases.idempotency`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeAlias

import attrs
import msgspec
from litestar import Request, Response
from litestar.di import NamedDependency
from litestar.params import HeaderParameter

from fitdata_adapters.logging import get_logger
from fitdata_core.access import Action
from fitdata_core.ports.repositories import IdempotencyRecord
from fitdata_core.services import Actor, Services
from fitdata_core.usecases import idempotency as rules
from fitdata_http.envelope import Envelope

__all__ = [
    "IDEMPOTENCY_DEPENDENCY",
    "REPLAYED_HEADER",
    "Idempotency",
    "IdempotencyDep",
    "provide_idempotency",
]

IDEMPOTENCY_DEPENDENCY = "idempotency"
REPLAYED_HEADER = "Idempotent-Replayed"

_log = get_logger("fitdata.http.idempotency")

IdempotencyKeyHeader = Annotated[
    str | None,
    HeaderParameter(
        name=rules.IDEMPOTENCY_KEY_FIELD,
        required=False,
        min_length=1,
        max_length=rules.MAX_KEY_LENGTH,
        pattern=r"^[\x21-\x7e]+$",
        description=(
            "Makes a retry safe: a request sent again with the same key and body within 24 "
            "hours gets the first answer (with `Idempotent-Replayed: true`) and does nothing "
            "twice. The same key with a different request is 422 `IDEMPOTENCY_KEY_REUSED`; "
            "while the first is still running, 409 `IDEMPOTENCY_KEY_IN_USE`. Use a fresh "
            "UUID per new request."
        ),
    ),
]


def _fingerprint(actor: Actor, method: str, path: str, body: Any) -> str:
    """Who sent what where: the caller, the route and the body (as JSON with sorted keys, so
    spacing and key order do not make two equal bodies differ)."""
    canonical = msgspec.json.encode(body, order="sorted")
    digest = hashlib.sha256()
    for part in (actor.user_id.encode(), method.encode(), path.encode(), canonical):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


@attrs.frozen
class Idempotency:
    """What a handler runs its work through (see the module docstring)."""

    services: Services
    actor: Actor
    org_id: str
    key: str | None
    fingerprint: str

    async def run(self, work: Callable[[], Awaitable[Envelope]], action: Action) -> Envelope:
        """The work's answer; or, for a retry of a finished request, the first answer, once
        the caller is found still allowed to perform ``action`` (the right ``work`` needs)."""
        if self.key is None:
            return await work()
        claimed = await rules.claim(
            self.services, self.actor, self.org_id, self.key, self.fingerprint, action
        )
        if claimed.answer is not None:
            return Response(
                content=msgspec.json.decode(claimed.answer.body),
                status_code=claimed.answer.status_code,
                headers={REPLAYED_HEADER: "true"},
            )
        record = claimed.record
        assert record is not None  # a claim without an answer is ours
        try:
            response = await work()
        except BaseException:
            await self._release(record)
            raise
        answer = rules.StoredAnswer(
            response.status_code or 200, msgspec.json.encode(response.content)
        )
        await rules.remember(self.services, record, answer)
        return response

    async def _release(self, record: IdempotencyRecord) -> None:
        try:
            await rules.release(self.services, record)
        except Exception:
            # The work's own error is what the client must hear; the claim then lapses after
            # its lease (retries meanwhile are 409 IDEMPOTENCY_KEY_IN_USE).
            _log.warning("idempotency_release_failed", organization_id=self.org_id)


async def provide_idempotency(
    request: Request[Any, Any, Any],
    services: NamedDependency[Services],
    actor: NamedDependency[Actor],
    org_id: NamedDependency[str],
    idempotency_key: IdempotencyKeyHeader = None,
) -> Idempotency:
    """Litestar dependency behind ``idempotency: IdempotencyDep``."""
    key = None if idempotency_key is None else rules.parse_key(idempotency_key)
    body = await request.json() if key is not None else None
    return Idempotency(
        services=services,
        actor=actor,
        org_id=org_id,
        key=key,
        fingerprint=_fingerprint(actor, request.method, request.url.path, body),
    )


IdempotencyDep: TypeAlias = NamedDependency[Idempotency]

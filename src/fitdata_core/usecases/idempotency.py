"""Idempotent retries: a request sent again with the same ``Idempotency-Key`` gets the first
answer instead of doing the work twice.

The caller (the HTTP edge) brings a ``fingerprint`` of the request (who sent it, to which
route, with which body) and the :class:`~fitdata_core.access.Action` the route performs, and
runs::

    claimed = await claim(services, actor, org_id, key, fingerprint, action)
    if claimed.answer is not None:
        return claimed.answer              # a retry: the first request's answer
    try:
        answer = await do_the_work()
    except BaseException:
        await release(services, claimed.record)   # nothing was done: may be retried
        raise
    await remember(services, claimed.record, answer)

The claim is a row inserted and committed before the work starts, unique per organization
and key: of two concurrent requests with the same key exactly one inserts it (on Postgres the
second waits for the first's commit and then conflicts), so the work runs once. A request
that finds a claim still at work is refused with :class:`IdempotencyKeyInUse` (409; retry
shortly). A claim whose worker died is taken over once :data:`CLAIM_LEASE` has passed.
Records are kept :data:`RETENTION` (24 hours) and then forgotten.

Only successful answers are remembered: a request that failed (bad input, a refusal, an
outage) did nothing, so its claim is released and a retry runs it again.

The caller's right to ``action`` is checked on every claim, before anything is written or
replayed: a stored answer (a checkout's payment page, an export's job id) belongs to the
request that was allowed then, and a caller who has since lost the role or the membership
gets the refusal a fresh request would get (403; 404 once the organization is gone), not
the stored answer. It also keeps callers who may not act in an organization from holding
keys in it.
"""

from __future__ import annotations

import re
from datetime import timedelta

import attrs

from fitdata_core.access import Action
from fitdata_core.errors import (
    Conflict,
    IdempotencyKeyInUse,
    IdempotencyKeyReused,
    InvalidInput,
)
from fitdata_core.ports.repositories import IdempotencyRecord
from fitdata_core.services import Actor, Services
from fitdata_core.usecases.common import authorize

__all__ = [
    "CLAIM_LEASE",
    "IDEMPOTENCY_KEY_FIELD",
    "MAX_KEY_LENGTH",
    "RETENTION",
    "Claim",
    "StoredAnswer",
    "claim",
    "parse_key",
    "release",
    "remember",
]

#: How long a key and its answer are kept: retries within this window are answered again.
RETENTION = timedelta(hours=24)
#: How long a claim may stay unfinished before another request may take it over (its first
#: request's process died). Longer than any request runs (provider calls time out sooner).
CLAIM_LEASE = timedelta(minutes=5)
MAX_KEY_LENGTH = 255
IDEMPOTENCY_KEY_FIELD = "Idempotency-Key"
# Visible ASCII: what a header carries safely, and enough for UUIDs and any client's scheme.
_KEY = re.compile(r"[\x21-\x7e]+")


@attrs.frozen
class StoredAnswer:
    """The answer remembered for a key: status code and body bytes."""

    status_code: int
    body: bytes


@attrs.frozen
class Claim:
    """The outcome of :func:`claim`: either a stored ``answer`` to replay, or the new claim
    (``record``) whose work the caller now does."""

    answer: StoredAnswer | None = None
    record: IdempotencyRecord | None = None


def parse_key(value: str) -> str:
    """A client's ``Idempotency-Key``: 1 to 255 visible ASCII characters; 400 otherwise."""
    if not (1 <= len(value) <= MAX_KEY_LENGTH) or _KEY.fullmatch(value) is None:
        raise InvalidInput(
            f"{IDEMPOTENCY_KEY_FIELD} must be 1 to {MAX_KEY_LENGTH} visible ASCII characters "
            "(a UUID is a good choice).",
            field=IDEMPOTENCY_KEY_FIELD,
        )
    return value


async def _try_insert(services: Services, record: IdempotencyRecord) -> bool:
    """Insert the claim in its own transaction; False when the key is already held."""
    try:
        async with services.uow() as uow:
            await uow.idempotency_keys.delete_expired(record.organization_id, now=record.created_at)
            await uow.idempotency_keys.add(record)
            await uow.commit()
    except Conflict:
        return False
    return True


async def claim(
    services: Services,
    actor: Actor,
    org_id: str,
    key: str,
    fingerprint: str,
    action: Action,
) -> Claim:
    """Claim ``key`` in ``org_id`` for the request identified by ``fingerprint``, made by
    ``actor`` to perform ``action``.

    Returns the first answer when this is a retry of a finished request, else the new claim.
    Raises :class:`~fitdata_core.errors.PermissionDenied` (403) or
    :class:`~fitdata_core.errors.NotFound` (404) when ``actor`` may not perform ``action`` in
    ``org_id`` now (even if they could when the first answer was stored),
    :class:`IdempotencyKeyReused` (422) when the key was used for another request,
    :class:`IdempotencyKeyInUse` (409) while the first request is still at work.
    """
    async with services.uow(read_only=True) as uow:
        await authorize(uow, actor, org_id, action)
    # Two rounds: the second follows a takeover of an expired or abandoned claim, which a
    # concurrent request may win instead (then its claim is what we find).
    for _ in range(2):
        now = services.clock.now()
        record = IdempotencyRecord(
            organization_id=org_id,
            key=key,
            fingerprint=fingerprint,
            created_at=now,
            expires_at=now + RETENTION,
        )
        if await _try_insert(services, record):
            return Claim(record=record)
        async with services.uow(read_only=True) as uow:
            existing = await uow.idempotency_keys.get(org_id, key)
        if existing is None:
            continue  # released or expired meanwhile: claim it afresh
        if existing.expires_at <= now or (
            not existing.completed and existing.created_at + CLAIM_LEASE <= now
        ):
            await _forget(services, existing)
            continue
        if existing.fingerprint != fingerprint:
            raise IdempotencyKeyReused(
                f"This {IDEMPOTENCY_KEY_FIELD} was already used for a different request in "
                "the last 24 hours; send a new key for a new request."
            )
        if existing.status_code is None or existing.response is None:
            raise IdempotencyKeyInUse(
                f"A request with this {IDEMPOTENCY_KEY_FIELD} is still being processed; "
                "retry shortly to get its answer."
            )
        return Claim(answer=StoredAnswer(existing.status_code, existing.response))
    raise IdempotencyKeyInUse(
        f"A request with this {IDEMPOTENCY_KEY_FIELD} is being processed; retry shortly."
    )


async def _forget(services: Services, record: IdempotencyRecord) -> None:
    async with services.uow() as uow:
        await uow.idempotency_keys.delete(
            record.organization_id, record.key, created_at=record.created_at
        )
        await uow.commit()


async def remember(services: Services, record: IdempotencyRecord, answer: StoredAnswer) -> None:
    """Store the answer of the claimed request, for its retries."""
    async with services.uow() as uow:
        await uow.idempotency_keys.complete(
            record.organization_id, record.key, status_code=answer.status_code, response=answer.body
        )
        await uow.commit()


async def release(services: Services, record: IdempotencyRecord) -> None:
    """Give the claim up (its request failed and did nothing), so a retry runs it again."""
    await _forget(services, record)

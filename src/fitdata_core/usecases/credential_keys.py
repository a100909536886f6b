"""Key rotation for stored secrets: which keys are still in use, and re-sealing under the
current key (``fitdata keys status`` / ``fitdata keys rotate``).

Rotation walks each kind of secret in batches of rows not sealed by the current key, one
unit of work per batch, and re-seals each row with a compare-and-set on its key id and
bytes. So it is resumable (a rerun only sees what is left), safe to run twice at once, and
safe beside running services: a row written meanwhile is left alone (it holds a newer value)
and counted as ``changed_meanwhile``. A row that no configured key opens is counted as
unreadable under its key id and skipped; it stays as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import attrs

from fitdata_core.errors import InvalidInput
from fitdata_core.ports.infrastructure import Ciphertext
from fitdata_core.ports.repositories import SealedSecret, SecretKind
from fitdata_core.services import Services
from fitdata_core.usecases.billing.common import card_context
from fitdata_core.usecases.imports.credentials import credentials_context

__all__ = [
    "DEFAULT_ROTATION_BATCH",
    "KeyStatus",
    "KindRotation",
    "RotationReport",
    "key_status",
    "rotate_keys",
]

DEFAULT_ROTATION_BATCH: Final = 500

_CONTEXTS: dict[SecretKind, Callable[[SealedSecret], str]] = {
    SecretKind.PROVIDER_CREDENTIALS: lambda s: credentials_context(
        s.organization_id, s.provider or ""
    ),
    SecretKind.CARD_TOKEN: lambda s: card_context(s.organization_id),
}


@attrs.frozen
class KindRotation:
    """What one rotation did to one kind of secret."""

    rotated: int
    already_current: int
    changed_meanwhile: int
    unreadable: dict[str, int]  # key id -> rows no configured key opens


@attrs.frozen
class RotationReport:
    """What one ``keys rotate`` run did: the current key id and the counts per kind of
    secret (rotated, already current, changed meanwhile, unreadable by key id)."""

    current_key_id: str
    kinds: dict[SecretKind, KindRotation]

    @property
    def rotated(self) -> int:
        return sum(k.rotated for k in self.kinds.values())

    @property
    def already_current(self) -> int:
        return sum(k.already_current for k in self.kinds.values())

    @property
    def changed_meanwhile(self) -> int:
        return sum(k.changed_meanwhile for k in self.kinds.values())

    @property
    def unreadable(self) -> dict[str, int]:
        total: dict[str, int] = {}
        for kind in self.kinds.values():
            for key_id, count in kind.unreadable.items():
                total[key_id] = total.get(key_id, 0) + count
        return dict(sorted(total.items()))

    def as_dict(self) -> dict[str, Any]:
        return {
            "current_key_id": self.current_key_id,
            "rotated": self.rotated,
            "already_current": self.already_current,
            "changed_meanwhile": self.changed_meanwhile,
            "unreadable": self.unreadable,
            "kinds": {kind.value: attrs.asdict(k) for kind, k in self.kinds.items()},
        }


@attrs.frozen
class KeyStatus:
    """Which key ids still seal stored secrets, and what that means for the keyring."""

    current_key_id: str
    configured_key_ids: tuple[str, ...]
    in_use: dict[SecretKind, dict[str, int]]  # kind -> key id -> rows

    @property
    def key_ids_in_use(self) -> tuple[str, ...]:
        return tuple(sorted({key_id for counts in self.in_use.values() for key_id in counts}))

    @property
    def droppable(self) -> tuple[str, ...]:
        """Configured keys that seal nothing and are not current: they may leave the keyring."""
        used = set(self.key_ids_in_use)
        return tuple(
            k for k in self.configured_key_ids if k != self.current_key_id and k not in used
        )

    @property
    def missing(self) -> tuple[str, ...]:
        """Key ids that seal stored secrets but are not configured: those secrets are
        unreadable until the key comes back or the secrets are entered again."""
        return tuple(k for k in self.key_ids_in_use if k not in self.configured_key_ids)

    @property
    def needs_rotation(self) -> bool:
        return any(k != self.current_key_id for k in self.key_ids_in_use)

    def as_dict(self) -> dict[str, Any]:
        return {
            "current_key_id": self.current_key_id,
            "configured_key_ids": list(self.configured_key_ids),
            "in_use": {kind.value: counts for kind, counts in self.in_use.items()},
            "droppable": list(self.droppable),
            "missing": list(self.missing),
            "needs_rotation": self.needs_rotation,
        }


async def key_status(svc: Services) -> KeyStatus:
    """How many stored secrets of each kind each key id seals. An operator tool: no actor."""
    async with svc.uow(read_only=True) as uow:
        in_use = {
            kind: dict(sorted((await uow.sealed_secrets.count_by_key(kind)).items()))
            for kind in SecretKind
        }
    return KeyStatus(
        current_key_id=svc.cipher.current_key_id,
        configured_key_ids=tuple(svc.cipher.key_ids),
        in_use=in_use,
    )


async def _rotate_kind(svc: Services, kind: SecretKind, *, batch_size: int) -> KindRotation:
    current = svc.cipher.current_key_id
    context_of = _CONTEXTS[kind]
    async with svc.uow(read_only=True) as uow:
        already_current = (await uow.sealed_secrets.count_by_key(kind)).get(current, 0)
    rotated = changed = 0
    unreadable: dict[str, int] = {}
    after: str | None = None
    while True:
        async with svc.uow() as uow:
            batch = await uow.sealed_secrets.list_not_sealed_by(
                kind, current, after=after, limit=batch_size
            )
            if not batch:
                break
            for secret in batch:
                resealed = _resealed(svc, secret, context_of(secret))
                if resealed is None:
                    key_id = secret.sealed.key_id
                    unreadable[key_id] = unreadable.get(key_id, 0) + 1
                elif await uow.sealed_secrets.reseal(secret, resealed):
                    rotated += 1
                else:
                    changed += 1
            await uow.commit()
        after = batch[-1].row_id
    return KindRotation(
        rotated=rotated,
        already_current=already_current,
        changed_meanwhile=changed,
        unreadable=dict(sorted(unreadable.items())),
    )


def _resealed(svc: Services, secret: SealedSecret, context: str) -> Ciphertext | None:
    """``secret`` sealed under the current key, or None if no configured key opens it."""
    try:
        plaintext = svc.cipher.decrypt(secret.sealed, context=context)
    except InvalidInput:
        return None
    return svc.cipher.encrypt(plaintext, context=context)


async def rotate_keys(svc: Services, *, batch_size: int = DEFAULT_ROTATION_BATCH) -> RotationReport:
    """Re-seal every stored secret not sealed by the current key; the counts per kind.

    An operator tool (no actor). Once a rerun reports nothing unreadable and ``key_status``
    shows an old key sealing nothing, that key may leave the keyring.
    """
    if batch_size < 1:
        raise InvalidInput("batch_size must be at least 1.", field="batch_size")
    kinds = {kind: await _rotate_kind(svc, kind, batch_size=batch_size) for kind in SecretKind}
    return RotationReport(current_key_id=svc.cipher.current_key_id, kinds=kinds)

"""Issue 7 item 4: the requester's export right is checked again before a link is mailed.

The requester is suspended or demoted while the file is being written (inside the store's
``put_stream``), which is exactly the window in which the worker used to sign and mail anyway.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Awaitable, Callable
from typing import Any

import attrs
import pytest
from export_support import Gym

from fitdata_adapters.mail.memory import MemoryMailer
from fitdata_adapters.memory import MemoryErrorReporter
from fitdata_adapters.storage.memory import MemoryStorage
from fitdata_core.model.jobs import ExportStatus
from fitdata_core.model.organizations import MembershipStatus, Role
from fitdata_core.ports.infrastructure import StoredObject
from fitdata_core.services import Actor, Services
from fitdata_core.usecases.exports import (
    export_file_key,
    process_member_export,
    request_member_export,
)
from fitdata_core.usecases.exports.members import MESSAGE_RIGHT_LOST

IP = "203.0.113.9"


class StorageThatRunsWhileWriting:
    """Stores the object, then runs ``during`` before answering: the export is still running."""

    def __init__(self, inner: MemoryStorage, during: Callable[[], Awaitable[None]]) -> None:
        self.inner = inner
        self.during = during

    async def put_stream(
        self, key: str, chunks: AsyncIterable[bytes], *, content_type: str
    ) -> StoredObject:
        stored = await self.inner.put_stream(key, chunks, content_type=content_type)
        await self.during()
        return stored

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def _change_membership(svc: Services, org_id: str, actor: Actor, **changes: Any) -> None:
    async with svc.uow() as uow:
        membership = await uow.memberships.get(org_id, actor.user_id)
        assert membership is not None
        await uow.memberships.update(attrs.evolve(membership, **changes))
        await uow.commit()


@pytest.mark.parametrize(
    ("who", "changes"),
    [
        ("owner", {"status": MembershipStatus.SUSPENDED}),
        ("admin", {"status": MembershipStatus.CANCELLED}),
        ("admin", {"role": Role.COACH}),
        ("owner", {"role": Role.MEMBER}),
    ],
)
async def test_requester_who_loses_the_right_mid_export_gets_no_link_and_the_file_is_deleted(
    svc: Services,
    gym: Gym,
    storage: MemoryStorage,
    mailer: MemoryMailer,
    errors: MemoryErrorReporter,
    who: str,
    changes: dict[str, Any],
) -> None:
    requester: Actor = getattr(gym, who)

    async def lose_the_right() -> None:
        await _change_membership(svc, gym.org_id, requester, **changes)

    job_id = await request_member_export(svc, requester, gym.org_id, client_ip=IP)
    racing = attrs.evolve(svc, storage=StorageThatRunsWhileWriting(storage, lose_the_right))
    job = await process_member_export(racing, job_id=job_id)

    assert job is not None
    assert job.status is ExportStatus.FAILED
    assert job.error_message == MESSAGE_RIGHT_LOST
    assert job.file_key is None
    assert mailer.sent == []
    assert not await storage.exists(export_file_key(gym.org_id, job_id))
    async with svc.uow() as uow:
        assert await uow.export_jobs.get(job_id) == job
    assert any("lost the right" in r.message for r in errors.reports)


async def test_a_requester_who_keeps_the_right_still_gets_the_link(
    svc: Services, gym: Gym, storage: MemoryStorage, mailer: MemoryMailer
) -> None:
    async def someone_else_changes() -> None:  # another person's suspension changes nothing
        await _change_membership(svc, gym.org_id, gym.coach, status=MembershipStatus.SUSPENDED)

    job_id = await request_member_export(svc, gym.admin, gym.org_id, client_ip=IP)
    racing = attrs.evolve(svc, storage=StorageThatRunsWhileWriting(storage, someone_else_changes))
    job = await process_member_export(racing, job_id=job_id)

    assert job is not None
    assert job.status is ExportStatus.COMPLETED
    assert len(mailer.sent) == 1
    assert await storage.exists(export_file_key(gym.org_id, job_id))

"""An in-memory member source (a stand-in for Arbox) for tests, demos and benchmarks.

Set its data (``plans``, ``members``, ``leads``, ``details``), its page size, and failures to
inject: ``refuse_credentials`` (every call raises ``ProviderAuthError``, like a 401),
``fail_next`` (that many calls raise ``ProviderError``, like a 503 that outlived the
adapter's retries), and ``on_page`` (a hook called before each member page, e.g. to block
or kill a worker mid-import). ``calls`` counts the calls by kind.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

from fitdata_core.errors import ProviderAuthError, ProviderError
from fitdata_core.ports.providers import (
    SourceCredentials,
    SourceLead,
    SourceMember,
    SourceMemberDetail,
    SourcePlan,
)

PROVIDER = "arbox"


class MemoryMemberSource:
    """Implements :class:`fitdata_core.ports.providers.MemberSource` over lists."""

    def __init__(
        self,
        *,
        plans: Sequence[SourcePlan] = (),
        members: Sequence[SourceMember] = (),
        leads: Sequence[SourceLead] = (),
        details: Sequence[SourceMemberDetail] = (),
        page_size: int = 500,
        latency: float = 0.0,
    ) -> None:
        self.plans = list(plans)
        self.members = list(members)
        self.leads = list(leads)
        self.details = {d.external_id: d for d in details}
        self.page_size = page_size
        self.latency = latency
        self.refuse_credentials = False
        self.fail_next = 0
        self.on_page: Callable[[int], Awaitable[None]] | None = None
        self.calls: Counter[str] = Counter()
        self.seen_credentials: list[SourceCredentials] = []

    async def _call(self, kind: str, credentials: SourceCredentials) -> None:
        self.calls[kind] += 1
        self.seen_credentials.append(credentials)
        if self.latency:
            await asyncio.sleep(self.latency)
        if self.refuse_credentials:
            raise ProviderAuthError(PROVIDER, "401 Unauthorized", status=401)
        if self.fail_next > 0:
            self.fail_next -= 1
            raise ProviderError(PROVIDER, "503 Service Unavailable", status=503)

    async def fetch_plans(self, credentials: SourceCredentials) -> list[SourcePlan]:
        await self._call("plans", credentials)
        return list(self.plans)

    async def fetch_members(
        self, credentials: SourceCredentials
    ) -> AsyncIterator[list[SourceMember]]:
        for number, start in enumerate(range(0, len(self.members), self.page_size)):
            if self.on_page is not None:
                await self.on_page(number)
            await self._call("members", credentials)
            yield self.members[start : start + self.page_size]

    async def fetch_leads(self, credentials: SourceCredentials) -> AsyncIterator[list[SourceLead]]:
        for start in range(0, len(self.leads), self.page_size):
            await self._call("leads", credentials)
            yield self.leads[start : start + self.page_size]

    async def fetch_member_detail(
        self, credentials: SourceCredentials, external_id: str
    ) -> SourceMemberDetail | None:
        await self._call("detail", credentials)
        return self.details.get(external_id)


__all__ = ["MemoryMemberSource"]

"""The embedded mode's Arbox: the project's sandbox, started in process on first use.

With no ``FITDATA_ARBOX_BASE_URL`` an embedded process imports from this sandbox, serving
:data:`EMBEDDED_MEMBERS` generated members (seed :data:`EMBEDDED_SEED`: some in both reports,
one with a malformed email) under the sandbox's default credentials, which ``fitdata demo``
stores for the demo gym. The data set is deterministic, so every process (the server, a
worker, ``fitdata import arbox``) serves the same members from its own sandbox and no process
has to find another's port.

The server thread starts on the first call, not at start-up: most processes (every short
CLI command, most tests) never import, and a thread per process would be wasted.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from fitdata_adapters.arbox import ArboxSource
from fitdata_adapters.arbox_sandbox.engine import SandboxConfig
from fitdata_adapters.arbox_sandbox.server import SandboxThread
from fitdata_core.ports.providers import (
    SourceCredentials,
    SourceLead,
    SourceMember,
    SourceMemberDetail,
    SourcePlan,
)

EMBEDDED_MEMBERS = 1500
EMBEDDED_SEED = 1

#: What the embedded sandbox serves and accepts (its API key and login are the defaults).
EMBEDDED_CONFIG = SandboxConfig(members=EMBEDDED_MEMBERS, seed=EMBEDDED_SEED)


def embedded_credentials() -> SourceCredentials:
    """The API key and the Management login the embedded sandbox accepts (for the demo)."""
    return SourceCredentials(
        api_key=EMBEDDED_CONFIG.api_key,
        email=EMBEDDED_CONFIG.email,
        password=EMBEDDED_CONFIG.password,
    )


class EmbeddedArboxSource:
    """A :class:`~fitdata_core.ports.providers.MemberSource`: an :class:`ArboxSource`
    pointed at an in-process sandbox that starts on the first call."""

    def __init__(self, config: SandboxConfig = EMBEDDED_CONFIG) -> None:
        self._thread = SandboxThread(config)
        self._source: ArboxSource | None = None
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        state = self._thread.base_url if self._source is not None else "not started"
        return f"EmbeddedArboxSource({state})"

    @property
    def sandbox_thread(self) -> SandboxThread:
        """The sandbox's handle (tests inspect its calls or inject failures through it)."""
        return self._thread

    async def started(self) -> ArboxSource:
        """The source, starting the sandbox first if this is the first call."""
        async with self._lock:
            if self._source is None:
                # start() waits (briefly) for the server to accept connections: off the loop.
                await asyncio.to_thread(self._thread.start)
                self._source = ArboxSource(base_url=self._thread.base_url)
            return self._source

    async def aclose(self) -> None:
        """Close the client and stop the sandbox, if it was started."""
        if self._source is not None:
            await self._source.aclose()
            self._source = None
            await asyncio.to_thread(self._thread.stop)

    # ------------------------------------------------------------------ MemberSource

    async def fetch_plans(self, credentials: SourceCredentials) -> list[SourcePlan]:
        return await (await self.started()).fetch_plans(credentials)

    async def fetch_members(
        self, credentials: SourceCredentials
    ) -> AsyncIterator[list[SourceMember]]:
        source = await self.started()
        async for page in source.fetch_members(credentials):
            yield page

    async def fetch_leads(self, credentials: SourceCredentials) -> AsyncIterator[list[SourceLead]]:
        source = await self.started()
        async for page in source.fetch_leads(credentials):
            yield page

    async def fetch_member_detail(
        self, credentials: SourceCredentials, external_id: str
    ) -> SourceMemberDetail | None:
        return await (await self.started()).fetch_member_detail(credentials, external_id)

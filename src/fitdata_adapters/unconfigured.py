"""Stand-ins for ports whose real adapter belongs to a later feature.

They fail loudly with a clear error instead of pretending to work.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from typing import Any

from fitdata_core.errors import ProviderError, Unavailable
from fitdata_core.ports.providers import (
    SourceCredentials,
    SourceLead,
    SourceMember,
    SourceMemberDetail,
    SourcePlan,
)

_NOT_BUILT = "imports from Arbox are not available in this build"


class UnavailableMemberSource:
    async def fetch_plans(self, credentials: SourceCredentials) -> list[SourcePlan]:
        raise ProviderError("arbox", _NOT_BUILT)

    async def fetch_members(
        self, credentials: SourceCredentials
    ) -> AsyncIterator[list[SourceMember]]:
        raise ProviderError("arbox", _NOT_BUILT)
        yield []  # pragma: no cover - makes this an async generator

    async def fetch_leads(self, credentials: SourceCredentials) -> AsyncIterator[list[SourceLead]]:
        raise ProviderError("arbox", _NOT_BUILT)
        yield []  # pragma: no cover - makes this an async generator

    async def fetch_member_detail(
        self, credentials: SourceCredentials, external_id: str
    ) -> SourceMemberDetail | None:
        raise ProviderError("arbox", _NOT_BUILT)


class UnavailableAnalytics:
    async def rows(self, org_id: str, tab: str, *, start: date, end: date) -> list[dict[str, Any]]:
        raise Unavailable("Analytics are not available in this build.")

"""Arbox member-source adapter: the Business API (API key) and the Management API (login).

``ArboxSource`` implements ``fitdata_core.ports.providers.MemberSource`` exactly as
the Arbox protocol profile (docs/imports.md) fixes it; :mod:`~fitdata_adapters.arbox.wire`
holds every path and field name; ``RetryPolicy`` is the single tenacity policy.
"""

from fitdata_adapters.arbox.retry import DEFAULT_RETRY_POLICY, RetryPolicy
from fitdata_adapters.arbox.source import REENTER, ArboxSource
from fitdata_adapters.arbox.wire import DEFAULT_BASE_URL, MAX_PAGE_SIZE

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_RETRY_POLICY",
    "MAX_PAGE_SIZE",
    "REENTER",
    "ArboxSource",
    "RetryPolicy",
]

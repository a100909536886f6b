"""Domain events: facts a state change caused. Use cases persist or react to them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import attrs

__all__ = [
    "DomainEvent",
]


@attrs.frozen
class DomainEvent:
    """A fact that happened to an aggregate. ``data`` holds only plain, non-secret values."""

    name: str
    aggregate: str
    aggregate_id: str
    occurred_at: datetime
    data: dict[str, Any] = attrs.field(factory=dict)

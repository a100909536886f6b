"""Platform tiers and the features each one unlocks."""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "Feature",
    "PlatformTier",
    "features_of",
    "minimum_tier_for",
]


class PlatformTier(StrEnum):
    """The platform plan an organization is on: lite (free), pro, elite."""

    LITE = "lite"
    PRO = "pro"
    ELITE = "elite"

    @property
    def rank(self) -> int:
        return _RANK[self]

    @property
    def is_free(self) -> bool:
        return self is PlatformTier.LITE


_RANK = {PlatformTier.LITE: 0, PlatformTier.PRO: 1, PlatformTier.ELITE: 2}


class Feature(StrEnum):
    """A capability some platform tiers include."""

    MEMBERSHIP_PLANS = "membership_plans"
    CLASS_PACKS = "class_packs"
    COURSES = "courses"
    MULTIPLE_LOCATIONS = "multiple_locations"


# Each tier includes everything below it; this table says what each tier adds.
_TIER_ADDS: dict[PlatformTier, frozenset[Feature]] = {
    PlatformTier.LITE: frozenset({Feature.MEMBERSHIP_PLANS}),
    PlatformTier.PRO: frozenset({Feature.CLASS_PACKS, Feature.COURSES}),
    PlatformTier.ELITE: frozenset({Feature.MULTIPLE_LOCATIONS}),
}


def features_of(tier: PlatformTier) -> frozenset[Feature]:
    """Every feature the tier includes, cumulative over lower tiers."""
    return frozenset().union(*(adds for t, adds in _TIER_ADDS.items() if t.rank <= tier.rank))


def minimum_tier_for(feature: Feature) -> PlatformTier:
    """The cheapest tier that includes ``feature``."""
    return min((t for t in PlatformTier if feature in features_of(t)), key=lambda t: t.rank)

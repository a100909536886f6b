"""The tier -> feature table."""

from __future__ import annotations

import itertools

from fitdata_core.model.tiers import Feature, PlatformTier, features_of, minimum_tier_for


def test_lite_has_membership_plans_only() -> None:
    assert features_of(PlatformTier.LITE) == {Feature.MEMBERSHIP_PLANS}


def test_pro_adds_class_packs_and_courses() -> None:
    assert features_of(PlatformTier.PRO) == {
        Feature.MEMBERSHIP_PLANS,
        Feature.CLASS_PACKS,
        Feature.COURSES,
    }


def test_elite_adds_multiple_locations() -> None:
    assert features_of(PlatformTier.ELITE) == set(Feature)


def test_higher_tiers_include_lower_tiers() -> None:
    for low, high in itertools.combinations(sorted(PlatformTier, key=lambda t: t.rank), 2):
        assert features_of(low) <= features_of(high)


def test_minimum_tier_for_each_feature() -> None:
    assert minimum_tier_for(Feature.MEMBERSHIP_PLANS) is PlatformTier.LITE
    assert minimum_tier_for(Feature.CLASS_PACKS) is PlatformTier.PRO
    assert minimum_tier_for(Feature.MULTIPLE_LOCATIONS) is PlatformTier.ELITE

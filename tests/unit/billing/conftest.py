"""Billing use cases on the memory adapters, a fake gateway, a real cipher and mailer."""

from __future__ import annotations

import pytest

from support.billing import Gym, World, add_gym, make_world


@pytest.fixture
def world() -> World:
    return make_world()


@pytest.fixture
async def gym(world: World) -> Gym:
    return await add_gym(world.svc)

"""A gym with an owner, an admin, a coach and a member, on the memory adapters."""

from __future__ import annotations

import attrs
import pytest

from fitdata_adapters.crypto.keyring import KeyringCipher
from fitdata_adapters.memory import memory_services
from fitdata_core.model.organizations import Role
from fitdata_core.services import Actor, Services
from fitdata_core.usecases.organizations import NewMember, add_member, create_organization

K1 = KeyringCipher.generate_spec("k1")
K2 = KeyringCipher.generate_spec("k2")


@attrs.frozen
class Gym:
    svc: Services
    org_id: str
    owner: Actor
    admin: Actor
    coach: Actor
    member: Actor


def with_keys(svc: Services, spec: str) -> Services:
    """The same database (and everything else) seen through another keyring."""
    return attrs.evolve(svc, cipher=KeyringCipher.from_spec(spec))


@pytest.fixture
async def gym() -> Gym:
    svc = memory_services(cipher=KeyringCipher.from_spec(K1))
    org = await create_organization(svc, name="Jaffa Lifts", owner_email="owner@jaffa.io")
    async with svc.uow() as uow:
        owner = await uow.users.get_by_email("owner@jaffa.io")
    assert owner is not None
    people = {
        role: await add_member(svc, org_id=org.id, member=NewMember(f"{role}@jaffa.io", role))
        for role in (Role.ADMIN, Role.COACH, Role.MEMBER)
    }
    return Gym(
        svc=svc,
        org_id=org.id,
        owner=Actor(owner.id),
        admin=Actor(people[Role.ADMIN].id),
        coach=Actor(people[Role.COACH].id),
        member=Actor(people[Role.MEMBER].id),
    )

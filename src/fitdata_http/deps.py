"""The dependencies every handler may declare, as annotations.

``services: ServicesDep`` is the runtime's :class:`Services`; ``actor: ActorDep`` is the
authenticated caller (declaring it makes the route require a bearer token); ``org_id:
OrgIdDep`` is the ``orgId`` path parameter, validated as a UUID and normalised.
"""

from __future__ import annotations

from typing import TypeAlias

from litestar.di import NamedDependency

from fitdata_core.services import Actor, Services

__all__ = ["ActorDep", "OrgIdDep", "ServicesDep"]

ServicesDep: TypeAlias = NamedDependency[Services]
ActorDep: TypeAlias = NamedDependency[Actor]
OrgIdDep: TypeAlias = NamedDependency[str]

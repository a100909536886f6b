"""Plans, courses and locations of an organization.

Request bodies arrive as plain JSON objects (``data: dict[str, Any]``) and are structured
with :func:`~fitdata_http.params.read_body` into a small attrs class, so field errors come
back as 400s naming the camelCase field. Tier checks live in the use cases (courses, class
packs, a second location), so a library caller meets the same rules as an HTTP client.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

import attrs
from litestar import Controller, get, post
from litestar.openapi.spec import OpenAPIType, Schema

from fitdata_core.model.catalog import Course, Location, Plan, PlanKind
from fitdata_core.usecases import catalog
from fitdata_http.contract import answers
from fitdata_http.deps import ActorDep, OrgIdDep, ServicesDep
from fitdata_http.envelope import Envelope, created, ok
from fitdata_http.openapi import BEARER
from fitdata_http.params import ORG_PATH, read_body
from fitdata_http.schemas import json_body, limits

__all__ = [
    "CoursesController",
    "LocationsController",
    "NewCourse",
    "NewLocation",
    "NewPlan",
    "PlansController",
]


# Names are trimmed, then 1 to MAX_NAME_LENGTH characters: at least one non-blank one.
_NAME = limits(min_length=1, max_length=catalog.MAX_NAME_LENGTH, pattern=r"\S")


# A price as the money rules read it: text of digits with at most 2 significant decimals, or
# a JSON number, 0 to MAX_PRICE in cents.
_PRICE_TEXT = r"^0*[0-9]{1,10}(\.[0-9]{1,2}0*)?$"
_PRICE = limits(
    one_of=[
        Schema(type=OpenAPIType.STRING, pattern=_PRICE_TEXT),
        Schema(
            type=OpenAPIType.NUMBER,
            minimum=0,
            maximum=float(catalog.MAX_PRICE),
            multiple_of=0.01,
        ),
    ],
    description="A decimal number of ILS; a string keeps every digit.",
)


@attrs.frozen
class NewPlan:
    """``{name, kind: membership|class_pack, price, sessionCount?, validityDays?}``."""

    name: str = attrs.field(metadata=_NAME)
    kind: PlanKind
    price: Decimal = attrs.field(metadata=_PRICE)
    session_count: int | None = attrs.field(
        default=None, metadata=limits(minimum=1, maximum=catalog.MAX_SESSION_COUNT)
    )
    validity_days: int | None = attrs.field(
        default=None, metadata=limits(minimum=1, maximum=catalog.MAX_VALIDITY_DAYS)
    )


@attrs.frozen
class NewCourse:
    """``{name, description?}``."""

    name: str = attrs.field(metadata=_NAME)
    description: str | None = attrs.field(
        default=None, metadata=limits(max_length=catalog.MAX_DESCRIPTION_LENGTH)
    )


@attrs.frozen
class NewLocation:
    """``{name, address?}``."""

    name: str = attrs.field(metadata=_NAME)
    address: str | None = attrs.field(
        default=None, metadata=limits(max_length=catalog.MAX_ADDRESS_LENGTH)
    )


_NEW_PLAN = json_body(
    NewPlan,
    f"`price` is a number or numeric string in ILS, 0 to {catalog.MAX_PRICE} with at most 2 "
    f"decimals; a class pack needs `sessionCount` (1 to {catalog.MAX_SESSION_COUNT}) and the "
    f"class_packs feature; `validityDays` is 1 to {catalog.MAX_VALIDITY_DAYS}.",
    constraints={
        "all_of": [
            Schema(
                schema_if=Schema(
                    required=["kind"], properties={"kind": Schema(const=PlanKind.CLASS_PACK.value)}
                ),
                then=Schema(
                    required=["sessionCount"],
                    properties={"sessionCount": Schema(type=OpenAPIType.INTEGER)},
                ),
            )
        ]
    },
)
_NEW_COURSE = json_body(
    NewCourse,
    f"`name` up to {catalog.MAX_NAME_LENGTH} characters, `description` up to "
    f"{catalog.MAX_DESCRIPTION_LENGTH}.",
)
_NEW_LOCATION = json_body(
    NewLocation,
    f"`name` up to {catalog.MAX_NAME_LENGTH} characters, `address` up to "
    f"{catalog.MAX_ADDRESS_LENGTH}. A second location "
    "needs the multiple_locations feature.",
)


class PlansController(Controller):
    path = ORG_PATH + "/plans"
    tags = ["catalog"]  # noqa: RUF012 - Litestar reads these as class attributes
    security = BEARER

    @get("/", summary="List plans (any active member)", opt=answers(Plan, shape="list"))
    async def list_plans(
        self, services: ServicesDep, actor: ActorDep, org_id: OrgIdDep
    ) -> Envelope:
        return ok(await catalog.list_plans(services, actor, org_id))

    @post("/", summary="Create a plan (owner, admin)", opt=answers(Plan))
    async def create_plan(
        self,
        services: ServicesDep,
        actor: ActorDep,
        org_id: OrgIdDep,
        data: Annotated[dict[str, Any], _NEW_PLAN],
    ) -> Envelope:
        body = read_body(data, NewPlan)
        plan = await catalog.create_plan(
            services,
            actor,
            org_id,
            name=body.name,
            kind=body.kind,
            price=catalog.parse_price(body.price),
            session_count=body.session_count,
            validity_days=body.validity_days,
        )
        return created(plan)


class CoursesController(Controller):
    path = ORG_PATH + "/courses"
    tags = ["catalog"]  # noqa: RUF012 - Litestar reads these as class attributes
    security = BEARER

    @get(
        "/",
        summary="List courses (needs the courses feature)",
        opt=answers(Course, shape="list"),
    )
    async def list_courses(
        self, services: ServicesDep, actor: ActorDep, org_id: OrgIdDep
    ) -> Envelope:
        return ok(await catalog.list_courses(services, actor, org_id))

    @post(
        "/",
        summary="Create a course (owner, admin; needs the courses feature)",
        opt=answers(Course),
    )
    async def create_course(
        self,
        services: ServicesDep,
        actor: ActorDep,
        org_id: OrgIdDep,
        data: Annotated[dict[str, Any], _NEW_COURSE],
    ) -> Envelope:
        body = read_body(data, NewCourse)
        course = await catalog.create_course(
            services, actor, org_id, name=body.name, description=body.description
        )
        return created(course)


class LocationsController(Controller):
    path = ORG_PATH + "/locations"
    tags = ["catalog"]  # noqa: RUF012 - Litestar reads these as class attributes
    security = BEARER

    @get(
        "/",
        summary="List locations (any active member)",
        opt=answers(Location, shape="list"),
    )
    async def list_locations(
        self, services: ServicesDep, actor: ActorDep, org_id: OrgIdDep
    ) -> Envelope:
        return ok(await catalog.list_locations(services, actor, org_id))

    @post(
        "/",
        summary="Create a location (owner, admin; a second one needs multiple_locations)",
        opt=answers(Location),
    )
    async def create_location(
        self,
        services: ServicesDep,
        actor: ActorDep,
        org_id: OrgIdDep,
        data: Annotated[dict[str, Any], _NEW_LOCATION],
    ) -> Envelope:
        body = read_body(data, NewLocation)
        location = await catalog.create_location(
            services, actor, org_id, name=body.name, address=body.address
        )
        return created(location)

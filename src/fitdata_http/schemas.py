"""OpenAPI schemas for request bodies that are structured by the converter.

Litestar documents a ``dict[str, Any]`` body as a bare object; :func:`json_body` describes the
attrs class the handler structures it into instead, with the converter's camelCase names::

    data: Annotated[dict[str, Any], json_body(NewPlan, "A plan to create.")]
"""

from __future__ import annotations

import collections.abc
import dataclasses
import datetime as dt
import types
import typing
from collections.abc import Mapping
from decimal import Decimal
from enum import Enum
from typing import Any

import attrs
from litestar.openapi.spec import OpenAPIType, Schema
from litestar.params import BodyKwarg

from fitdata_adapters.converter import to_camel

__all__ = ["LIMITS", "json_body", "limits", "response_schema_of", "schema_of"]

LIMITS = "fitdata_openapi_limits"


def limits(**schema: Any) -> dict[str, Any]:
    """A body field's documented limits, as ``attrs.field(metadata=limits(max_length=200))``
    (keywords of :class:`~litestar.openapi.spec.Schema`), from the same constants the rules
    check, so the document and the check cannot drift apart."""
    return {LIMITS: schema}


def _limited(schema: Schema, extra: dict[str, Any] | None) -> Schema:
    """``schema`` with ``extra`` limits applied (to the non-null option of a nullable one)."""
    if not extra:
        return schema
    if "one_of" in extra:
        # The options spelled out whole (e.g. a decimal's text and number forms, limited
        # differently).
        return dataclasses.replace(schema, **extra)
    if schema.one_of:
        return Schema(
            one_of=[
                _limited(o, extra) if isinstance(o, Schema) and o.type != OpenAPIType.NULL else o
                for o in schema.one_of
            ]
        )
    if schema.type == OpenAPIType.ARRAY and isinstance(schema.items, Schema) and "items" in extra:
        # Limits on the items of a list: ``limits(items={"enum": [...]})``.
        extra = dict(extra)
        schema = dataclasses.replace(
            schema, items=dataclasses.replace(schema.items, **extra.pop("items"))
        )
    return dataclasses.replace(schema, **extra)


_SIMPLE: dict[Any, Schema] = {
    str: Schema(type=OpenAPIType.STRING),
    int: Schema(type=OpenAPIType.INTEGER),
    float: Schema(type=OpenAPIType.NUMBER),
    bool: Schema(type=OpenAPIType.BOOLEAN),
    Decimal: Schema(
        one_of=[Schema(type=OpenAPIType.STRING), Schema(type=OpenAPIType.NUMBER)],
        description="A decimal number; a string keeps every digit.",
    ),
    dt.datetime: Schema(type=OpenAPIType.STRING, format="date-time"),  # type: ignore[arg-type]
    dt.date: Schema(type=OpenAPIType.STRING, format="date"),  # type: ignore[arg-type]
}


def schema_of(tp: Any) -> Schema:
    """The JSON schema of a value the converter structures into ``tp``."""
    if tp in _SIMPLE:
        return _SIMPLE[tp]
    if isinstance(tp, type) and issubclass(tp, Enum):
        return Schema(type=OpenAPIType.STRING, enum=[member.value for member in tp])
    if isinstance(tp, type) and attrs.has(tp):
        return _object_schema(tp)
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        options = [schema_of(arg) for arg in args if arg is not type(None)]
        if type(None) in args:
            options.append(Schema(type=OpenAPIType.NULL))
        return options[0] if len(options) == 1 else Schema(one_of=options)
    if origin in (list, tuple, frozenset, set) and args:
        return Schema(type=OpenAPIType.ARRAY, items=schema_of(args[0]))
    if origin in (dict, collections.abc.Mapping) or tp is dict:
        return Schema(type=OpenAPIType.OBJECT)
    return Schema()


def response_schema_of(tp: Any) -> Schema:
    """The JSON schema of ``tp`` as the converter writes it in an answer: decimals are
    strings, every field of an attrs class is present (``null`` when absent)."""
    if tp is Decimal:
        return Schema(type=OpenAPIType.STRING, description="A decimal number, every digit kept.")
    if tp in _SIMPLE or tp is Any:
        return _SIMPLE.get(tp, Schema())
    if isinstance(tp, type) and issubclass(tp, Enum):
        return schema_of(tp)
    if isinstance(tp, type) and attrs.has(tp):
        hints = typing.get_type_hints(tp)
        names = [(to_camel(f.name), f.name) for f in attrs.fields(tp)]
        return Schema(
            type=OpenAPIType.OBJECT,
            properties={camel: response_schema_of(hints[name]) for camel, name in names},
            required=[camel for camel, _ in names],
            description=(tp.__doc__ or "").strip().splitlines()[0] if tp.__doc__ else None,
        )
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Literal:
        return Schema(type=OpenAPIType.STRING, enum=list(args))
    if origin in (typing.Union, types.UnionType):
        options: list[Schema] = []
        for arg in args:
            option = Schema(type=OpenAPIType.NULL) if arg is type(None) else response_schema_of(arg)
            # One option per JSON type (str and Decimal are both strings), so exactly one
            # matches, as oneOf requires.
            if option.type is None or all(o.type != option.type for o in options):
                options.append(option)
        return options[0] if len(options) == 1 else Schema(one_of=options)
    if origin in (list, tuple, frozenset, set) and args:
        return Schema(type=OpenAPIType.ARRAY, items=response_schema_of(args[0]))
    if origin in (dict, collections.abc.Mapping) and args:
        # A mapping from names the payload defines (e.g. an analytics row's column keys).
        return Schema(
            type=OpenAPIType.OBJECT,
            additional_properties=response_schema_of(args[-1]),
        )
    return Schema()


# Request strings never hold NUL characters: no column can store them, and the body reader
# refuses them (``params.read_body``). A field's own pattern is kept beside it.
_NO_NUL = "^[^\\u0000]*$"
_NOT_BLANK = r"\S"
_NOT_BLANK_NO_NUL = "^[^\\u0000]*[^\\s\\u0000][^\\u0000]*$"


def _without_nul(schema: Schema) -> Schema:
    """``schema`` with every request string in it refusing NUL characters."""
    if schema.one_of:
        return dataclasses.replace(
            schema, one_of=[_without_nul(o) if isinstance(o, Schema) else o for o in schema.one_of]
        )
    if schema.type == OpenAPIType.ARRAY and isinstance(schema.items, Schema):
        return dataclasses.replace(schema, items=_without_nul(schema.items))
    if schema.type != OpenAPIType.STRING or schema.enum or schema.format:
        return schema
    if schema.pattern is None:
        return dataclasses.replace(schema, pattern=_NO_NUL)
    if schema.pattern == _NOT_BLANK:
        return dataclasses.replace(schema, pattern=_NOT_BLANK_NO_NUL)
    return schema  # a pattern of its own (e.g. a character class) already leaves NUL out


def _object_schema(cls: type) -> Schema:
    hints = typing.get_type_hints(cls)
    properties: dict[str, Schema | Any] = {}
    required: list[str] = []
    for field in attrs.fields(cls):
        name = to_camel(field.name)
        properties[name] = _without_nul(
            _limited(schema_of(hints[field.name]), field.metadata.get(LIMITS))
        )
        if field.default is attrs.NOTHING:
            required.append(name)
    return Schema(
        type=OpenAPIType.OBJECT,
        properties=properties,
        required=required or None,
        additional_properties=False,
    )


def json_body(
    cls: type, description: str | None = None, *, constraints: Mapping[str, Any] | None = None
) -> BodyKwarg:
    """A body marker documenting ``cls`` (an attrs class) as the expected JSON object.

    ``constraints`` adds rules across fields (keywords of
    :class:`~litestar.openapi.spec.Schema`, e.g. ``any_of``), for bodies whose fields are
    required together or in alternatives.
    """
    schema = _object_schema(cls)
    return BodyKwarg(
        title=cls.__name__,
        description=description or (cls.__doc__ or "").strip() or None,
        schema_extra={
            "properties": schema.properties,
            "required": schema.required,
            "additional_properties": False,
            **(constraints or {}),
        },
    )

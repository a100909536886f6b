"""The one cattrs converter: domain objects to JSON-ready data and request data back.

Conventions (the HTTP API and every other JSON surface follow them):

* attrs classes become objects with camelCase keys (``session_count`` -> ``sessionCount``);
* datetimes are ISO-8601 in UTC with a ``Z`` suffix; naive datetimes are refused on input;
* ``Decimal`` is a string (``"249.00"``) so no float ever touches money;
  :class:`~fitdata_core.money.Money` is ``{"amount": "249.00", "currency": "ILS"}``;
* enums are their values;
* structuring is strict: a string is not an int, unknown keys are refused, and every failure
  is collected into :class:`InvalidFields` naming each field by its camelCase path.

Use :func:`unstructure` and :func:`structure` rather than the converter itself, so errors come
out as fitdata errors.
"""

from __future__ import annotations

import datetime as dt
import re
import typing
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from enum import Enum, IntEnum, StrEnum
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.cols import list_structure_factory
from cattrs.errors import (
    ClassValidationError,
    ForbiddenExtraKeysError,
    IterableValidationError,
)
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from fitdata_core.errors import InvalidInput
from fitdata_core.rules.member_json import json_time

T = TypeVar("T")

__all__ = [
    "FieldError",
    "InvalidFields",
    "converter",
    "datetime_out",
    "make_converter",
    "structure",
    "to_camel",
    "unstructure",
]


def to_camel(name: str) -> str:
    """``session_count`` -> ``sessionCount`` (leading underscores are dropped)."""
    head, *rest = name.lstrip("_").split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


@attrs.frozen
class FieldError:
    """One problem with one field of some input; ``field`` is a camelCase path (``a.b[0]``)."""

    field: str
    message: str


class InvalidFields(InvalidInput):
    """Input that could not be structured; ``errors`` lists every bad field."""

    default_code = "VALIDATION_FAILED"

    def __init__(self, errors: list[FieldError]) -> None:
        summary = "; ".join(f"{e.field}: {e.message}" if e.field else e.message for e in errors)
        super().__init__(
            f"Invalid input: {summary}", field=errors[0].field or None if errors else None
        )
        self.errors = errors


# -- unstructure hooks --------------------------------------------------------------------


datetime_out = json_time
"""A datetime as every JSON surface writes it: ISO-8601 in UTC with a ``Z``."""


def _date_out(value: dt.date) -> str:
    return value.isoformat()


# -- structure hooks (strict) ---------------------------------------------------------------


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float | Decimal):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _str_in(value: object, _: type) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be a string, got {_type_name(value)}")
    return value


def _int_in(value: object, _: type) -> int:
    # JSON has one number type: 3.0 is the integer 3 (as JSON Schema's "integer" says), 3.5 is
    # not a whole number.
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"must be a whole number, got {_type_name(value)}")
    return value


def _float_in(value: object, _: type) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValueError(f"must be a number, got {_type_name(value)}")
    return float(value)


def _bool_in(value: object, _: type) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"must be true or false, got {_type_name(value)}")
    return value


# A decimal written as text: ASCII digits, an optional leading minus and an optional fraction.
# No spaces, underscores, exponents or other scripts' digits, which Decimal() would accept.
_DECIMAL_TEXT = re.compile(r"-?[0-9]+(?:\.[0-9]+)?", re.ASCII)


def _decimal_in(value: object, _: type) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise ValueError(f"must be a number or a numeric string, got {_type_name(value)}")
    if isinstance(value, str) and not _DECIMAL_TEXT.fullmatch(value):
        raise ValueError(
            f"must be a number written with the digits 0-9 and an optional dot, got {value!r}"
        )
    try:
        # str() first so a JSON float like 19.9 becomes Decimal("19.9"), not its binary value.
        # (The HTTP layer decodes JSON numbers as Decimal already, at their exact value.)
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation as exc:  # pragma: no cover - the pattern and int/float ensure it
        raise ValueError(f"must be a number, got {value!r}") from exc
    if not number.is_finite():
        raise ValueError(f"must be a finite number, got {value!r}")
    return number


def _datetime_in(value: object, _: type) -> dt.datetime:
    if not isinstance(value, str):
        raise ValueError(f"must be an ISO-8601 date-time string, got {_type_name(value)}")
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"must be an ISO-8601 date-time, got {value!r}") from exc
    if parsed.tzinfo is None:
        raise ValueError(f"must include a timezone (e.g. a trailing Z), got {value!r}")
    return parsed.astimezone(dt.UTC)


def _date_in(value: object, _: type) -> dt.date:
    if not isinstance(value, str):
        raise ValueError(f"must be an ISO-8601 date string, got {_type_name(value)}")
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"must be an ISO-8601 date (YYYY-MM-DD), got {value!r}") from exc


def _enum_in(value: object, enum_cls: type[Enum]) -> Enum:
    try:
        return enum_cls(value)
    except ValueError:
        allowed = ", ".join(str(member.value) for member in enum_cls)
        shown = f'"{value}"' if isinstance(value, str) else _type_name(value)
        raise ValueError(f"{shown} is not one of: {allowed}") from None


def _enum_out(value: Enum) -> Any:
    return value.value


def _is_list(type_: Any) -> bool:
    return typing.get_origin(type_) is list or type_ is list


def _strict_list(type_: Any, conv: cattrs.Converter) -> Callable[[Any, Any], Any]:
    """cattrs would take any iterable for a list: a string as its characters, an object as its
    keys. A JSON list field takes a JSON array only."""
    inner = list_structure_factory(type_, conv)

    def structure(value: Any, target: Any) -> Any:
        if not isinstance(value, list):
            raise ValueError(f"must be an array, got {_type_name(value)}")
        return inner(value, target)

    return structure


def make_converter() -> cattrs.Converter:
    """A fresh converter with fitdata's conventions (see the module docstring)."""
    conv = cattrs.Converter(detailed_validation=True, forbid_extra_keys=True)

    conv.register_unstructure_hook(dt.datetime, datetime_out)
    conv.register_unstructure_hook(dt.date, _date_out)
    conv.register_unstructure_hook(Decimal, str)

    conv.register_structure_hook_factory(_is_list, _strict_list)
    conv.register_structure_hook(str, _str_in)
    conv.register_structure_hook(int, _int_in)
    conv.register_structure_hook(float, _float_in)
    conv.register_structure_hook(bool, _bool_in)
    conv.register_structure_hook(Decimal, _decimal_in)
    conv.register_structure_hook(dt.datetime, _datetime_in)
    conv.register_structure_hook(dt.date, _date_in)
    # Registered for the mixed-in bases too: a StrEnum is also a str, and cattrs dispatches by
    # MRO, where ``str`` comes before ``Enum``.
    for enum_base in (Enum, StrEnum, IntEnum):
        conv.register_unstructure_hook(enum_base, _enum_out)
        conv.register_structure_hook(enum_base, _enum_in)

    def camel_overrides(cls: type) -> dict[str, Any]:
        return {a.name: override(rename=to_camel(a.name)) for a in attrs.fields(cls)}

    def unstructure_attrs(cls: type) -> Callable[[Any], dict[str, Any]]:
        return make_dict_unstructure_fn(cls, conv, **camel_overrides(cls))

    def structure_attrs(cls: type) -> Callable[[Any, type], Any]:
        return make_dict_structure_fn(
            cls, conv, _cattrs_forbid_extra_keys=True, **camel_overrides(cls)
        )

    conv.register_unstructure_hook_factory(attrs.has, unstructure_attrs)
    conv.register_structure_hook_factory(attrs.has, structure_attrs)
    return conv


converter = make_converter()


def unstructure(value: Any) -> Any:
    """JSON-ready data (dicts, lists, strings, numbers, booleans, None) for ``value``."""
    return converter.unstructure(value)


def structure(data: Any, cls: type[T]) -> T:
    """Build ``cls`` from JSON data; :class:`InvalidFields` names every bad field."""
    if attrs.has(cls) and not isinstance(data, dict):
        raise InvalidFields([FieldError("", f"must be a JSON object, got {_type_name(data)}")])
    try:
        return converter.structure(data, cls)
    except (ClassValidationError, IterableValidationError) as exc:
        raise InvalidFields(_field_errors(exc, "")) from exc
    except (ValueError, TypeError, AttributeError) as exc:
        # The top-level value itself is wrong (e.g. an array where an object belongs).
        raise InvalidFields([FieldError("", _message(exc))]) from exc
    except ForbiddenExtraKeysError as exc:  # pragma: no cover - raised inside a group
        raise InvalidFields(_extra_key_errors(exc, "")) from exc


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _message(exc: BaseException) -> str:
    if isinstance(exc, KeyError):
        return "is required"
    if isinstance(exc, ValueError):
        return str(exc)
    if isinstance(exc, AttributeError):
        # cattrs reads ``.keys()`` of what should be an object.
        return "must be an object"
    if isinstance(exc, TypeError):
        return "has the wrong type"
    return "is not valid"


def _extra_key_errors(exc: ForbiddenExtraKeysError, path: str) -> list[FieldError]:
    return [
        FieldError(_join(path, key), "is not a known field") for key in sorted(exc.extra_fields)
    ]


def _field_errors(exc: BaseException, path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    if isinstance(exc, ClassValidationError):
        with_names, unnamed = exc.group_exceptions()
        for sub, attribute in with_names:
            errors.extend(_field_errors(sub, _join(path, to_camel(attribute.name))))
        for sub in unnamed:
            errors.extend(_field_errors(sub, path))
    elif isinstance(exc, IterableValidationError):
        with_index, unindexed = exc.group_exceptions()
        for item_exc, item in with_index:
            errors.extend(_field_errors(item_exc, f"{path}[{item.index}]"))
        for item_exc in unindexed:
            errors.extend(_field_errors(item_exc, path))
    elif isinstance(exc, ForbiddenExtraKeysError):
        errors.extend(_extra_key_errors(exc, path))
    elif isinstance(exc, BaseExceptionGroup):
        for member in exc.exceptions:
            errors.extend(_field_errors(member, path))
    else:
        errors.append(FieldError(path, _message(exc)))
    return errors

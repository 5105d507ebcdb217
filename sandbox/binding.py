"""Binding a JSON body to a request model, as Dinero binds it.

Binding is case-insensitive (`externalreference` binds to `ExternalReference`); an unknown
property is refused, as `additionalProperties: false` says. Every violation is collected under
the property's path (e.g. `ProductLines[1].Quantity`) rather than stopping at the first. The
bound result has every property of the model under its canonical name (None when absent),
numbers as `Decimal`, integers as `int`, uuids as `UUID`. Dinero's models are in `rules`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

Kind = Literal["string", "integer", "number", "boolean", "uuid", "array"]
Check = Callable[[Any], str | None]

_INT32 = 2**31 - 1
# Far beyond any real amount, and small enough that amount × quantity keeps its øre within
# Decimal's default 28 digits.
_NUMBER_LIMIT = Decimal(10) ** 12


@dataclass(frozen=True)
class Prop:
    kind: Kind
    nullable: bool = True
    min_length: int | None = None
    max_length: int | None = None
    int_max: int = _INT32
    items: Model | None = None
    check: Check | None = None


@dataclass(frozen=True)
class Model:
    name: str
    props: Mapping[str, Prop]
    required: frozenset[str] = field(default_factory=frozenset)
    # A rule across properties, run when each property is valid on its own; it may also
    # normalise them (a unit's spelling, a default line type).
    check: Callable[[dict[str, Any]], dict[str, str]] | None = None


def bind_object(model: Model, body: object, path: str, errors: dict[str, str]) -> dict[str, Any]:
    """`body` bound to `model`, each violation added to `errors` under its path (`path` is the
    prefix, e.g. `ProductLines[1].`)."""
    if not isinstance(body, dict):
        errors[path.rstrip(".") or "body"] = f"Expected a JSON object ({model.name})."
        return {}
    canonical = {name.lower(): name for name in model.props}
    given: dict[str, object] = {}
    for key, value in body.items():
        name = canonical.get(key.lower())
        where = f"{path}{key}"
        if name is None:
            errors[where] = f"Unknown property {key!r} on {model.name}."
        elif name in given:
            errors[where] = f"Property {name!r} is given more than once."
        else:
            given[name] = value

    bound: dict[str, Any] = {}
    failed_before = len(errors)
    for name, prop in model.props.items():
        where = f"{path}{name}"
        value = given.get(name)
        if value is None:
            if name in model.required or (name in given and not prop.nullable):
                errors[where] = f"{name} is required."
            bound[name] = None
            continue
        bound[name] = _bind_value(prop, value, where, errors)
    if model.check and len(errors) == failed_before:
        for key, message in model.check(bound).items():
            errors[f"{path}{key}"] = message
    return bound


def _bind_value(prop: Prop, value: object, where: str, errors: dict[str, str]) -> Any:
    bound: Any
    if prop.kind == "boolean":
        if not isinstance(value, bool):
            errors[where] = "Expected true or false."
            return None
        bound = value
    elif prop.kind in ("integer", "number"):
        number = _as_decimal(value)
        if number is None:
            errors[where] = "Expected a number."
            return None
        if prop.kind == "number":
            if abs(number) >= _NUMBER_LIMIT:
                errors[where] = "The number is out of range."
                return None
            bound = number
        elif number != number.to_integral_value() or abs(number) > prop.int_max:
            errors[where] = "Expected a whole number."
            return None
        else:
            bound = int(number)
    elif prop.kind in ("string", "uuid"):
        if not isinstance(value, str):
            errors[where] = "Expected a string."
            return None
        if prop.min_length is not None and len(value) < prop.min_length:
            errors[where] = f"Must be at least {prop.min_length} characters."
            return None
        if prop.max_length is not None and len(value) > prop.max_length:
            errors[where] = f"Must be at most {prop.max_length} characters."
            return None
        if prop.kind == "uuid":
            try:
                bound = UUID(value)
            except ValueError:
                errors[where] = f"{value!r} is not a valid guid."
                return None
        else:
            bound = value
    else:
        if not isinstance(value, list):
            errors[where] = "Expected an array."
            return None
        assert prop.items is not None
        if prop.min_length is not None and len(value) < prop.min_length:
            errors[where] = f"Must have at least {prop.min_length} item(s)."
            return None
        bound = [
            bind_object(prop.items, item, f"{where}[{index}].", errors)
            for index, item in enumerate(value)
        ]
    if prop.check is not None:
        problem = prop.check(bound)
        if problem:
            errors[where] = problem
            return None
    return bound


def _as_decimal(value: object) -> Decimal | None:
    # bool is an int in Python but not a number in JSON.
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, Decimal) and value.is_finite():
        return value
    return None

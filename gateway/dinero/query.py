"""Dinero's `queryFilter`: `Field eq 'value'` or `Field contains 'value'`, joined by `;`.

Values come from shop data (e-mails, VAT numbers, order references), so they are always
quoted, with a `'` inside a value doubled as Dinero documents. Field names are ours and must be
plain identifiers: anything else would let a value-like string change the filter's meaning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal
from uuid import UUID

Operator = Literal["eq", "contains"]

_FIELD: Final = re.compile(r"[A-Za-z][A-Za-z0-9]*")


@dataclass(frozen=True)
class Condition:
    field: str
    operator: Operator
    value: str

    def __post_init__(self) -> None:
        if not _FIELD.fullmatch(self.field):
            raise ValueError(f"not a Dinero field name: {self.field!r}")
        if self.operator not in ("eq", "contains"):
            raise ValueError(f"unknown queryFilter operator: {self.operator!r}")

    def __str__(self) -> str:
        return f"{self.field} {self.operator} '{quote(self.value)}'"


def quote(value: str) -> str:
    """The text between the quotes: every `'` doubled."""
    return value.replace("'", "''")


def _text(value: str | bool | int | UUID) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def eq(field: str, value: str | bool | int | UUID) -> Condition:
    return Condition(field, "eq", _text(value))


def contains(field: str, value: str) -> Condition:
    return Condition(field, "contains", value)


def query_filter(*conditions: Condition) -> str:
    """All conditions must hold (Dinero AND-joins them)."""
    if not conditions:
        raise ValueError("a queryFilter needs at least one condition")
    return ";".join(str(condition) for condition in conditions)

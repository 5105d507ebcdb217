"""Shopify's search syntax for `orders(query:)`, the part reconcile uses: terms joined by
spaces or `AND`, each `field:value` or `field:<op>value` with `>`, `>=`, `<`, `<=`, values
optionally quoted ('…' or "…"). Dates compare as instants; a date without a time is midnight
UTC. A term on a field the sandbox does not know is ignored, as Shopify ignores an unknown
filter (it answers all orders rather than an error)."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

_TERM: Final = re.compile(
    r"""(?P<field>[a-z_]+):(?P<op>>=|<=|>|<)?(?:'(?P<q1>[^']*)'|"(?P<q2>[^"]*)"|(?P<bare>\S+))"""
)
_OPS: Final[dict[str, Callable[[Any, Any], bool]]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "": operator.eq,
}
DATE_FIELDS: Final = ("updated_at", "created_at", "processed_at")


class SearchError(ValueError):
    pass


@dataclass(frozen=True)
class Term:
    field: str
    op: str
    value: Any


def parse_instant(text: str) -> datetime:
    value = text.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse(query: str | None) -> list[Term]:
    terms: list[Term] = []
    rest = (query or "").strip()
    while rest:
        if rest.upper().startswith("AND "):
            rest = rest[4:].lstrip()
            continue
        match = _TERM.match(rest)
        if match is None:
            # A bare word is a free-text search; the sandbox has none, so it matches nothing
            # rather than everything.
            word, _, rest = rest.partition(" ")
            terms.append(Term("_text", "", word))
            rest = rest.lstrip()
            continue
        rest = rest[match.end() :].lstrip()
        field, op = match["field"], match["op"] or ""
        raw = next(v for v in (match["q1"], match["q2"], match["bare"]) if v is not None)
        if field in DATE_FIELDS:
            try:
                terms.append(Term(field, op, parse_instant(raw)))
            except ValueError:
                continue  # Shopify ignores a filter it cannot read
        elif field in ("financial_status", "fulfillment_status", "id"):
            terms.append(Term(field, op, raw.lower()))
    return terms


def matches(order: dict[str, Any], terms: list[Term]) -> bool:
    for term in terms:
        if term.field == "_text":
            return False
        value = order.get(term.field)
        if value is None:
            return False
        if term.field in DATE_FIELDS:
            try:
                value = parse_instant(str(value))
            except ValueError:
                return False
            if not _OPS[term.op](value, term.value):
                return False
        elif term.field == "id":
            if not str(value).isdigit() or not term.value.isdigit():
                return False
            if not _OPS[term.op](int(value), int(term.value)):
                return False
        elif str(value).lower() != term.value:
            return False
    return True

"""What every kind of entry in an organisation's books shares: the two kinds of sales
document, number series, the `TimeStamp` a change must quote, and the errors for a guid
that is missing or already taken."""

from __future__ import annotations

from datetime import date
from typing import Literal
from uuid import UUID

from sandbox.errors import DineroApiError, validation_error

DocumentKind = Literal["Invoice", "CreditNote"]
INVOICE: DocumentKind = "Invoice"
CREDIT_NOTE: DocumentKind = "CreditNote"

STALE_TIMESTAMP = 58


def label(kind: DocumentKind) -> str:
    return "Invoice" if kind == INVOICE else "Credit note"


def not_found(what: str, guid: object) -> DineroApiError:
    return DineroApiError(404, f"{what} with guid {guid} was not found.")


def already_exists(field_name: str, guid: UUID) -> DineroApiError:
    return validation_error(
        f"An entity with the guid {guid} already exists.",
        **{field_name: f"The guid {guid} already exists."},
    )


def check_timestamp(what: str, current: str, given: str) -> None:
    if given.strip().upper() != current:
        raise DineroApiError(
            400,
            f"{what}: the timestamp {given!r} is outdated. Get the latest version and try again.",
            code=STALE_TIMESTAMP,
        )


def parse_date(text: str | None) -> date | None:
    # Already checked by the rules: a present value is a valid YYYY-MM-DD date.
    return date.fromisoformat(text) if text else None


def take_number(used: set[int], wanted: int | None) -> int:
    """The next number of a series (or `wanted`, if free), marked as used."""
    if wanted is not None and wanted in used:
        raise validation_error(f"The number {wanted} is already taken.", Number="Taken.")
    number = wanted if wanted is not None else max(used, default=0) + 1
    used.add(number)
    return number

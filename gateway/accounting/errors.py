"""Why an order cannot become a Dinero document, and how far a rounding line may go."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Final

from gateway.orders import FieldError

# The most a rounding line may carry, in the document's currency. Per-line versus per-document
# VAT rounding differs by at most half an øre per VAT-bearing amount; a larger gap is a real
# disagreement that no one should paper over.
ROUNDING_LIMIT: Final = Decimal("1.00")


class AccountingError(Exception):
    """The order cannot become a document as it stands; the message says why."""


class VatMismatch(AccountingError):
    def __init__(self, errors: Sequence[FieldError]) -> None:
        self.errors = list(errors)
        super().__init__("; ".join(f"{e.pointer}: {e.message}" for e in self.errors))


class CannotMatchTotal(AccountingError):
    def __init__(self, *, dinero_total: Decimal, expected: Decimal) -> None:
        self.dinero_total = dinero_total
        self.expected = expected
        self.difference = expected - dinero_total
        super().__init__(
            f"Dinero would total {dinero_total} where the shop charged {expected}; the "
            f"difference of {self.difference} is more than a rounding line may cover "
            f"({ROUNDING_LIMIT}), so the document is not booked"
        )

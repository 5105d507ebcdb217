"""What one document charges for: an order's or a refund's charges, with where each came from
in the ingest body."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from gateway.orders import Charge, Discount, Fee, Line, Order, Refund, Shipping


@dataclass(frozen=True)
class Charges:
    """What one document charges for, and where in the ingest body it came from."""

    pointer: str  # "/order" or "/refund"
    lines: Sequence[Line]
    shipping: Shipping | None
    fees: Sequence[Fee]
    discounts: Sequence[Discount]
    total: Decimal

    @classmethod
    def of_order(cls, order: Order) -> Charges:
        return cls("/order", order.lines, order.shipping, order.fees, order.discounts, order.total)

    @classmethod
    def of_refund(cls, refund: Refund) -> Charges:
        return cls("/refund", refund.lines, refund.shipping, refund.fees, (), refund.total)

    @property
    def extras(self) -> list[Charge]:
        return [c for c in (self.shipping, *self.fees) if c is not None]

    def pointed(self) -> Iterable[tuple[str, Charge]]:
        for index, line in enumerate(self.lines):
            yield f"{self.pointer}/lines/{index}", line
        if self.shipping is not None:
            yield f"{self.pointer}/shipping", self.shipping
        for index, fee in enumerate(self.fees):
            yield f"{self.pointer}/fees/{index}", fee

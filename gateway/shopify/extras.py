"""What a Shopify order charges beyond its products and shipping: tips, duties and additional
fees, each a canonical fee with its own `kind`.

- **Tips** (`total_tip_received`): a line item titled "Tip" that is no product (`product_id`
  null) is read as the tip (no public fixture shows Shopify's own tip line, so this is our
  reading); an order whose `total_tip_received` is more than 0 but lists no such line gets
  one tip fee of that amount.
  A tip is the buyer's gift, not a sale: no VAT, on the shop's tips account.
- **Duties** (`line_items[].duties[]`, each with `price_set` or, as the REST Order resource
  shows them, `shop_money`/`presentment_money`; the order's `original_total_duties_set`):
  collected for the customs authorities at checkout (Shopify's duties and import taxes), so
  no VAT, on the shop's duties account: one fee per line that has duties, or one for the
  order's original total when no line lists them. Tax on a duty is not Danish VAT and is
  refused.
- **Additional fees** (`additional_fees[]`, GraphQL's `Order.additionalFees`: `name`,
  `price_set`, `tax_lines`; the order's `original_total_additional_fees_set`): extra costs of
  an international parcel that are neither duties nor taxes; each is a fee with the VAT rate
  its tax lines charged. When only the total is given, one fee of that total without VAT:
  Shopify's `total_tax` then says whether it carried tax, and a difference is refused.

Amounts are the presentment currency's, like every other amount (`reading`). The *original*
totals are read, not the *current* ones: refunds come as refunds of their own.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any, Final

from gateway.orders import round_half_up
from gateway.shopify.reading import Reader, objects, text
from gateway.shopify.taxes import vat_rate

_ZERO: Final = Decimal("0.00")
_TIP_TITLES: Final = frozenset({"tip", "drikkepenge"})


def is_tip(doc: Mapping[str, Any], item: Mapping[str, Any]) -> bool:
    """Whether the line item is the order's tip: no product, titled as one, and the order
    says a tip was received."""
    return looks_like_tip(item) and _stated(doc, "total_tip_received") != 0


def looks_like_tip(item: Mapping[str, Any]) -> bool:
    """Whether the line item is shaped as a tip: no product, not a gift card, titled as one
    (whether it is one depends on the order having received a tip)."""
    title = (text(item.get("title")) or text(item.get("name")) or "").casefold()
    return (
        title in _TIP_TITLES
        and item.get("product_id") is None
        and item.get("gift_card") is not True
    )


def extra_fees(
    doc: Mapping[str, Any],
    tips: Sequence[tuple[int, Mapping[str, Any]]],
    include_vat: bool,
    reader: Reader,
) -> Iterator[tuple[dict[str, Any], str]]:
    """The canonical fees (with `kind`) for the order's tips, duties and additional fees,
    each with the Shopify pointer it came from."""
    yield from _tips(doc, tips, reader)
    yield from _duties(doc, reader)
    yield from _additional_fees(doc, include_vat, reader)


def _fee(name: str, amount: Decimal, rate: Decimal, kind: str) -> dict[str, Any]:
    return {"name": name, "amount": str(amount), "vat_rate": str(rate), "kind": kind}


def _tips(
    doc: Mapping[str, Any], tips: Sequence[tuple[int, Mapping[str, Any]]], reader: Reader
) -> Iterator[tuple[dict[str, Any], str]]:
    for index, item in tips:
        at = f"/line_items/{index}"
        quantity = item.get("quantity") if isinstance(item.get("quantity"), int) else 1
        assert isinstance(quantity, int)
        amount = round_half_up(quantity * reader.amount(item, "price", at)) - sum(
            (
                reader.amount(a, "amount", f"{at}/discount_allocations/{i}")
                for i, a in objects(item, "discount_allocations")
            ),
            _ZERO,
        )
        yield _fee(text(item.get("title")) or "Tip", amount, _untaxed(item, at, reader), "tip"), at
    if tips:
        return
    stated = _stated(doc, "total_tip_received")
    if stated:
        amount = reader.amount(doc, "total_tip_received", "")
        yield _fee("Tip", amount, Decimal(0), "tip"), "/total_tip_received"


def _duties(doc: Mapping[str, Any], reader: Reader) -> Iterator[tuple[dict[str, Any], str]]:
    listed = False
    for index, item in objects(doc, "line_items"):
        at = f"/line_items/{index}"
        amount = _ZERO
        for number, duty in objects(item, "duties"):
            listed = True
            duty_at = f"{at}/duties/{number}"
            amount += _duty_amount(duty, duty_at, reader)
            _untaxed(duty, duty_at, reader)
        if amount:
            name = text(item.get("name")) or text(item.get("title")) or "line"
            yield _fee(f"Duties: {name}", amount, Decimal(0), "duty"), f"{at}/duties"
    if listed:
        return
    amount = _set_amount(doc, "original_total_duties_set", reader)
    if amount:
        yield _fee("Duties", amount, Decimal(0), "duty"), "/original_total_duties_set"


def _additional_fees(
    doc: Mapping[str, Any], include_vat: bool, reader: Reader
) -> Iterator[tuple[dict[str, Any], str]]:
    fees = list(objects(doc, "additional_fees"))
    for index, fee in fees:
        at = f"/additional_fees/{index}"
        amount = reader.amount(fee, "price", at)
        rate = vat_rate(fee, at, amount, include_vat, reader)
        yield _fee(text(fee.get("name")) or "Additional fee", amount, rate, "fee"), at
    if fees:
        return
    amount = _set_amount(doc, "original_total_additional_fees_set", reader)
    if amount:
        yield (
            _fee("Additional fees", amount, Decimal(0), "fee"),
            "/original_total_additional_fees_set",
        )


def _duty_amount(duty: Mapping[str, Any], at: str, reader: Reader) -> Decimal:
    """A duty's amount: `price_set` (GraphQL's `price`), else the REST resource's own
    `presentment_money`."""
    if duty.get("price_set") is not None or duty.get("price") is not None:
        return reader.amount(duty, "price", at)
    money = duty.get("presentment_money")
    if isinstance(money, Mapping):
        return reader.decimal(money.get("amount"), f"{at}/presentment_money/amount")
    reader.error(at, "has no amount (price_set or presentment_money)")
    return _ZERO


def _untaxed(obj: Mapping[str, Any], at: str, reader: Reader) -> Decimal:
    """0, the only rate a tip or a duty may carry: tax on one is refused."""
    taxed = [
        (index, tax)
        for index, tax in objects(obj, "tax_lines")
        if reader.amount(tax, "price", f"{at}/tax_lines/{index}")
    ]
    if taxed:
        reader.error(
            f"{at}/tax_lines",
            "tax on a tip or on duties is not Danish VAT, and the gateway books them without "
            "VAT: the order is not booked",
        )
    return Decimal(0)


def _set_amount(doc: Mapping[str, Any], name: str, reader: Reader) -> Decimal:
    """A `*_set` total's presentment amount (0 when absent or null)."""
    money_set = doc.get(name)
    if not isinstance(money_set, Mapping):
        return _ZERO
    money = money_set.get("presentment_money") or money_set.get("shop_money")
    if not isinstance(money, Mapping):
        return _ZERO
    return reader.decimal(money.get("amount"), f"/{name}/presentment_money/amount")


def _stated(doc: Mapping[str, Any], name: str) -> Decimal:
    """A plain amount as a number (0 when absent or unreadable: only its being non-zero
    matters here; the amount booked is read with the reader)."""
    try:
        return Decimal(str(doc.get(name) or 0))
    except ArithmeticError:
        return _ZERO

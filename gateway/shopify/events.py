"""The canonical event a Shopify fact becomes: its id, and its body parsed by
`gateway.orders.parse_event` with every problem told in Shopify's own JSON pointers."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from gateway.orders import Event, FieldError, InconsistentOrder, InvalidEvent, parse_event
from gateway.shopify.reading import Reader

GIFT_CARD_REFUSED: Final = (
    "a gift card sold is a debt to the buyer, not revenue, and the gateway cannot yet book it "
    "on a liability account: the order is refused rather than booked as sales"
)


def event_id(order_id: int | str, fact: str) -> str:
    """The event id of one fact about an order: `created`, `paid`, `shipped`, `cancelled` or
    `refund:<refund id>`. The same fact always gets the same id, so ingest takes it once."""
    return f"shopify:{order_id}:{fact}"


def line_pointers(canonical_at: str, shopify_at: str) -> list[tuple[str, str]]:
    return [
        (f"{canonical_at}/vat_rate", f"{shopify_at}/tax_lines"),
        (f"{canonical_at}/discount", f"{shopify_at}/discount_allocations"),
        (f"{canonical_at}/unit_price", f"{shopify_at}/price"),
        (f"{canonical_at}/quantity", f"{shopify_at}/quantity"),
        (f"{canonical_at}/name", f"{shopify_at}/name"),
        (f"{canonical_at}/sku", f"{shopify_at}/sku"),
        (canonical_at, shopify_at),
    ]


def parsed(body: dict[str, Any], pointers: list[tuple[str, str]], reader: Reader) -> Event:
    """`body` parsed as an ingest event, its problems told in Shopify's pointers. The mapping's
    own problems come first; when there are some, a total that does not add up is their
    consequence and not repeated."""
    try:
        event = parse_event(body)
    except InconsistentOrder as exc:
        raise_if(reader.errors)
        raise InconsistentOrder(_translated(exc.errors, pointers)) from None
    except InvalidEvent as exc:
        raise InvalidEvent([*reader.errors, *_translated(exc.errors, pointers)]) from None
    raise_if(reader.errors)
    return event


def _translated(errors: Iterable[FieldError], pointers: list[tuple[str, str]]) -> list[FieldError]:
    """Each error at the Shopify field its canonical pointer came from (longest match)."""
    ordered = sorted(pointers, key=lambda pair: len(pair[0]), reverse=True)
    translated: list[FieldError] = []
    for error in errors:
        pointer = error.pointer
        for ours, theirs in ordered:
            if pointer == ours or pointer.startswith(f"{ours}/"):
                pointer = theirs + pointer[len(ours) :] if pointer != ours else theirs
                break
        if FieldError(pointer, error.message) not in translated:
            translated.append(FieldError(pointer, error.message))
    return translated


def raise_if(errors: list[FieldError]) -> None:
    if errors:
        raise InvalidEvent(errors)

"""The canonical event a Shopify fact becomes: its id, and its body parsed by
`gateway.orders.parse_event` with every problem told in Shopify's own JSON pointers."""

from __future__ import annotations

from gateway.platforms.events import parsed, raise_if

__all__ = ["event_id", "line_pointers", "parsed", "raise_if"]


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

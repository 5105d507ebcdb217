"""The JSON Schemas (2020-12) of the ingest API's bodies: the event a shop sends, the answer
it gets and the problems it may get. They are the `components/schemas` of web/openapi.py's
document.

`gateway.orders` remains the authority on what is accepted; the schemas say the same where
JSON Schema can (it cannot check sums).
"""

from __future__ import annotations

from typing import Any, Final

from gateway.orders import MAX_PDF_BYTES

_POINTER: Final = "#/components/schemas/"


def ref(name: str) -> dict[str, str]:
    """A JSON Schema reference to the schema of that name in `SCHEMAS`."""
    return {"$ref": _POINTER + name}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"oneOf": [schema, {"type": "null"}]}


def _decimal(description: str, places: int, *, positive: bool = False) -> dict[str, Any]:
    """A non-negative decimal as a string (preferred) or a JSON number, never a binary float
    on our side: numbers are read as exact decimals."""
    fraction = rf"(\.\d{{1,{places}}})?" if places else ""
    return {
        "description": f"{description} At most {places} decimals.",
        "oneOf": [
            {"type": "string", "pattern": rf"^\d+{fraction}$"},
            {"type": "number", "exclusiveMinimum" if positive else "minimum": 0},
        ],
    }


_TEXT = {"type": "string", "minLength": 1, "maxLength": 500}
_OPTIONAL_TEXT = {"type": ["string", "null"], "maxLength": 500}
_IDENT = {
    "description": "An id or number: a string, or an integer (which many shops send).",
    "oneOf": [{"type": "string", "minLength": 1, "maxLength": 100}, {"type": "integer"}],
}
_TIME = {"type": "string", "format": "date-time", "description": "RFC 3339, with an offset."}
_VAT_RATE = {
    "description": "The rate actually charged, as a fraction: 0.25 for 25 %, 0 for reverse "
    "charge or export. At most 4 decimals.",
    "oneOf": [
        {"type": "string", "pattern": r"^0(\.\d{1,4})?$"},
        {"type": "number", "minimum": 0, "maximum": 0.9999},
    ],
}

SCHEMAS: Final[dict[str, Any]] = {
    "Money": _decimal(
        'An amount in the order\'s currency: a decimal string such as "128.99" (preferred) '
        "or a JSON number, read exactly.",
        2,
    ),
    "Event": {
        "type": "object",
        "required": ["id", "type", "occurred_at", "order"],
        "properties": {
            "id": {
                **_IDENT,
                "description": "Unique per shop and event; a repeat gets the first answer.",
            },
            "type": {
                "enum": [
                    "order.created",
                    "order.paid",
                    "order.shipped",
                    "order.refunded",
                    "order.cancelled",
                ]
            },
            "occurred_at": {
                **_TIME,
                "description": "When it happened in the shop. An event older than the newest "
                "one applied to its order changes nothing (a refund it carries still counts).",
            },
            "order": ref("Order"),
            "refund": _nullable(ref("Refund")),
        },
        "if": {"properties": {"type": {"const": "order.refunded"}}, "required": ["type"]},
        "then": {"required": ["refund"], "properties": {"refund": ref("Refund")}},
    },
    "Order": {
        "type": "object",
        "required": [
            "id",
            "number",
            "created_at",
            "currency",
            "prices_include_vat",
            "customer",
            "lines",
            "total",
        ],
        "properties": {
            "id": _IDENT,
            "number": _IDENT,
            "created_at": _TIME,
            "currency": {"type": "string", "pattern": "^[A-Za-z]{3}$", "description": "ISO 4217"},
            "prices_include_vat": {
                "type": "boolean",
                "description": "Whether amounts include VAT. Either way `total` is what the "
                "customer paid, incl. VAT.",
            },
            "customer": ref("Customer"),
            "lines": {"type": "array", "minItems": 1, "items": ref("Line")},
            "shipping": _nullable(ref("Shipping")),
            "fees": {"type": ["array", "null"], "items": ref("Fee")},
            "discounts": {
                "type": ["array", "null"],
                "items": ref("Discount"),
                "description": "Amounts off the whole order; their VAT follows the goods.",
            },
            "total": {
                **ref("Money"),
                "description": "Σ lines + shipping + fees − discounts (plus VAT when prices "
                "exclude it).",
            },
            "paid_at": _nullable(_TIME),
            "shipped_at": _nullable(_TIME),
            "payment": _nullable(ref("Payment")),
            "invoice": _nullable(ref("ShopInvoice")),
        },
    },
    "Customer": {
        "type": "object",
        "required": ["address"],
        "description": "Needs a name or a company (or both).",
        "anyOf": [
            {"required": ["name"], "properties": {"name": {"type": "string", "minLength": 1}}},
            {
                "required": ["company"],
                "properties": {"company": {"type": "string", "minLength": 1}},
            },
        ],
        "properties": {
            "name": _OPTIONAL_TEXT,
            "email": {"type": ["string", "null"], "maxLength": 254},
            "phone": {"type": ["string", "null"], "maxLength": 40},
            "company": _OPTIONAL_TEXT,
            "vat_number": {
                "type": ["string", "null"],
                "maxLength": 40,
                "description": "EU VAT numbers are checked (check digits); a valid one from "
                "another member state makes the sale reverse charge.",
            },
            "ean": {"type": ["string", "null"], "pattern": r"^\d{13}$"},
            "address": ref("Address"),
        },
    },
    "Address": {
        "type": "object",
        "required": ["country"],
        "properties": {
            "street": _OPTIONAL_TEXT,
            "zip": {"type": ["string", "null"], "maxLength": 20},
            "city": _OPTIONAL_TEXT,
            "country": {
                "type": "string",
                "pattern": "^[A-Za-z]{2}$",
                "description": "ISO 3166-1 alpha-2",
            },
        },
    },
    "Line": {
        "type": "object",
        "required": ["name", "quantity", "unit_price", "vat_rate"],
        "properties": {
            "sku": {"type": ["string", "null"], "maxLength": 100},
            "name": _TEXT,
            "quantity": _decimal("Greater than 0.", 3, positive=True),
            "unit_price": _decimal("The price of one unit.", 4),
            "vat_rate": _VAT_RATE,
            "discount": {
                **ref("Money"),
                "description": "An amount off this line (default 0).",
            },
            "kind": {
                "enum": ["goods", "service", "gift_card"],
                "default": "goods",
                "description": "gift_card: a gift card sold, booked without VAT on the shop's "
                "gift-card liability account",
            },
        },
    },
    "Shipping": {
        "type": "object",
        "required": ["name", "price", "vat_rate"],
        "properties": {"name": _TEXT, "price": ref("Money"), "vat_rate": _VAT_RATE},
    },
    "Fee": {
        "type": "object",
        "required": ["name", "amount", "vat_rate"],
        "properties": {
            "name": _TEXT,
            "amount": ref("Money"),
            "vat_rate": _VAT_RATE,
            "kind": {
                "enum": ["fee", "tip", "duty"],
                "default": "fee",
                "description": "tip and duty carry no VAT and go to their own accounts",
            },
        },
    },
    "Discount": {
        "type": "object",
        "required": ["name", "amount"],
        "properties": {"name": _TEXT, "amount": ref("Money")},
    },
    "Refund": {
        "type": "object",
        "required": ["id", "total"],
        "description": "Needs at least one line, its shipping or a fee. Each refund id is "
        "credited once; refunds of an order may not add up to more than its total.",
        "properties": {
            "id": {
                **_IDENT,
                "description": 'Unique within the order; "cancel" and "payment" are reserved.',
            },
            "lines": {"type": ["array", "null"], "items": ref("Line")},
            "shipping": _nullable(ref("Shipping")),
            "fees": {
                "type": ["array", "null"],
                "items": ref("Fee"),
                "description": "Fees paid back (optional): a tip returned (kind tip) comes off "
                "the tips account, duties paid back (kind duty) off the duties account, as on "
                "the order.",
            },
            "total": ref("Money"),
            "payment": _nullable(ref("Payment")),
        },
    },
    "Payment": {
        "type": "object",
        "description": "Optional, for settlement: the money paid (or, on a refund, paid back).",
        "required": ["method", "amount"],
        "properties": {
            "method": {"enum": ["card", "mobilepay", "bank_transfer", "invoice", "other"]},
            "amount": ref("Money"),
            "paid_at": _nullable(_TIME),
            "reference": {
                "type": ["string", "null"],
                "maxLength": 200,
                "description": "The payment provider's id.",
            },
        },
    },
    "ShopInvoice": {
        "type": "object",
        "description": "Optional, for shops that issue their own invoices: its number and "
        "exactly one of `pdf_url` and `pdf_base64`.",
        "required": ["number"],
        "properties": {
            "number": _IDENT,
            "pdf_url": {
                "type": ["string", "null"],
                "pattern": "^https?://",
                "maxLength": 2000,
                "description": "Fetched by the gateway: https only in production, from a "
                "public address, at most 6 MiB, served as application/pdf.",
            },
            "pdf_base64": {
                "type": ["string", "null"],
                "contentEncoding": "base64",
                "contentMediaType": "application/pdf",
                "description": f"At most {MAX_PDF_BYTES} bytes decoded.",
            },
        },
        "oneOf": [
            {"required": ["pdf_url"], "properties": {"pdf_url": {"type": "string"}}},
            {"required": ["pdf_base64"], "properties": {"pdf_base64": {"type": "string"}}},
        ],
    },
    "Accepted": {
        "type": "object",
        "required": ["event_id", "order_id", "documents"],
        "additionalProperties": False,
        "properties": {
            "event_id": {"type": "string"},
            "order_id": {"type": "string", "description": "The shop's order id."},
            "documents": {
                "type": "array",
                "description": "The order's documents after this event, oldest first.",
                "items": {
                    "type": "object",
                    "required": ["id", "kind", "state"],
                    "additionalProperties": False,
                    "properties": {
                        "id": {"type": "integer"},
                        "kind": {"enum": ["invoice", "credit_note", "voucher", "payment"]},
                        "state": {
                            "enum": [
                                "waiting",
                                "awaiting_activation",
                                "queued",
                                "needs_reconnect",
                                "failed",
                                "posted",
                                "cancelled",
                            ]
                        },
                    },
                },
            },
        },
    },
    "Problem": {
        "type": "object",
        "description": "RFC 9457. `type` is about:blank when the status says it all.",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": {
                "type": "string",
                "format": "uri-reference",
                "enum": [
                    "about:blank",
                    "/api/problems/invalid-event",
                    "/api/problems/inconsistent-order",
                    "/api/problems/vat-mismatch",
                    "/api/problems/event-id-reused",
                ],
            },
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "errors": {
                "type": "array",
                "description": "Every invalid field (422 only).",
                "items": {
                    "type": "object",
                    "required": ["pointer", "detail"],
                    "properties": {
                        "pointer": {
                            "type": "string",
                            "description": "RFC 6901 JSON pointer into the body; empty for "
                            "the body itself.",
                        },
                        "detail": {"type": "string"},
                    },
                },
            },
        },
    },
}

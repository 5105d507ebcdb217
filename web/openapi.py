"""The ingest API as OpenAPI 3.1, served at `GET /api/openapi.json`.

Written by hand, next to the code it describes, and kept honest by tests: DESIGN.md's example
validates against `Event`, every schema is valid JSON Schema (2020-12), and the answers and
problems the endpoint gives validate against theirs. `gateway.orders` remains the authority on
what is accepted; the schemas say the same where JSON Schema can (it cannot check sums).
"""

from __future__ import annotations

from typing import Any, Final

from gateway.orders import MAX_PDF_BYTES

_SCHEMAS = "#/components/schemas/"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": _SCHEMAS + name}


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

_SCHEMA_COMPONENTS: Final[dict[str, Any]] = {
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
            "order": _ref("Order"),
            "refund": _nullable(_ref("Refund")),
        },
        "if": {"properties": {"type": {"const": "order.refunded"}}, "required": ["type"]},
        "then": {"required": ["refund"], "properties": {"refund": _ref("Refund")}},
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
            "customer": _ref("Customer"),
            "lines": {"type": "array", "minItems": 1, "items": _ref("Line")},
            "shipping": _nullable(_ref("Shipping")),
            "fees": {"type": ["array", "null"], "items": _ref("Fee")},
            "discounts": {
                "type": ["array", "null"],
                "items": _ref("Discount"),
                "description": "Amounts off the whole order; their VAT follows the goods.",
            },
            "total": {
                **_ref("Money"),
                "description": "Σ lines + shipping + fees − discounts (plus VAT when prices "
                "exclude it).",
            },
            "paid_at": _nullable(_TIME),
            "shipped_at": _nullable(_TIME),
            "payment": _nullable(_ref("Payment")),
            "invoice": _nullable(_ref("ShopInvoice")),
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
            "address": _ref("Address"),
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
                **_ref("Money"),
                "description": "An amount off this line (default 0).",
            },
            "kind": {"enum": ["goods", "service"], "default": "goods"},
        },
    },
    "Shipping": {
        "type": "object",
        "required": ["name", "price", "vat_rate"],
        "properties": {"name": _TEXT, "price": _ref("Money"), "vat_rate": _VAT_RATE},
    },
    "Fee": {
        "type": "object",
        "required": ["name", "amount", "vat_rate"],
        "properties": {"name": _TEXT, "amount": _ref("Money"), "vat_rate": _VAT_RATE},
    },
    "Discount": {
        "type": "object",
        "required": ["name", "amount"],
        "properties": {"name": _TEXT, "amount": _ref("Money")},
    },
    "Refund": {
        "type": "object",
        "required": ["id", "total"],
        "description": "Needs at least one line or its shipping. Each refund id is credited "
        "once; refunds of an order may not add up to more than its total.",
        "properties": {
            "id": {
                **_IDENT,
                "description": 'Unique within the order; "cancel" and "payment" are reserved.',
            },
            "lines": {"type": ["array", "null"], "items": _ref("Line")},
            "shipping": _nullable(_ref("Shipping")),
            "total": _ref("Money"),
            "payment": _nullable(_ref("Payment")),
        },
    },
    "Payment": {
        "type": "object",
        "description": "Optional, for settlement: the money paid (or, on a refund, paid back).",
        "required": ["method", "amount"],
        "properties": {
            "method": {"enum": ["card", "mobilepay", "bank_transfer", "invoice", "other"]},
            "amount": _ref("Money"),
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


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": _ref("Problem")}},
    }


EXAMPLE_EVENT: Final[dict[str, Any]] = {
    "id": "evt_01",
    "type": "order.paid",
    "occurred_at": "2026-11-24T10:00:00Z",
    "order": {
        "id": "1001",
        "number": "1001",
        "created_at": "2026-11-24T09:58:00Z",
        "currency": "DKK",
        "prices_include_vat": True,
        "customer": {
            "name": "Karen Kunde",
            "email": "karen@example.dk",
            "phone": "+4512345678",
            "company": None,
            "vat_number": None,
            "ean": None,
            "address": {
                "street": "Vestergade 1",
                "zip": "8000",
                "city": "Aarhus C",
                "country": "DK",
            },
        },
        "lines": [
            {
                "sku": "SOCK-1",
                "name": "Sokker",
                "quantity": "3",
                "unit_price": "33.33",
                "vat_rate": "0.25",
                "discount": "0.00",
                "kind": "goods",
            }
        ],
        "shipping": {"name": "GLS pakkeshop", "price": "39.00", "vat_rate": "0.25"},
        "fees": [],
        "discounts": [{"name": "JUL10", "amount": "10.00"}],
        "total": "128.99",
        "paid_at": "2026-11-24T09:59:00Z",
        "shipped_at": None,
    },
    "refund": None,
}

SIGNATURE_DESCRIPTION: Final = (
    '`t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`, computed over the '
    "exact bytes sent. Requests more than 300 seconds from the server's clock are refused. "
    "Several `v1=` entries may be given (e.g. one per secret while rolling it); one matching "
    "is enough. After a roll the previous secret keeps working for an overlap (24 hours)."
)

DOCUMENT: Final[dict[str, Any]] = {
    "openapi": "3.1.0",
    "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
    "info": {
        "title": "Dinero Gateway ingest API",
        "version": "1.0.0",
        "description": "Webshops send order events; the gateway turns them into invoices and "
        "credit notes in Dinero, as each shop's settings say (which event makes the invoice: "
        "created, paid or shipped; booked or draft).",
    },
    "paths": {
        "/api/v1/shops/{shop_id}/events": {
            "post": {
                "operationId": "receiveEvent",
                "summary": "Send an order event",
                "description": "Stored in one transaction with the documents it asks for, "
                "which are then posted to Dinero in the background. A repeated event id "
                "gets the first answer, byte for byte; the same id with another body is a "
                "409. An `order.cancelled` cancels an invoice not yet posted, or credits a "
                "posted one in full.",
                "security": [{"GatewaySignature": []}],
                "parameters": [
                    {
                        "name": "shop_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "format": "uuid"},
                    },
                    {
                        "name": "Gateway-Signature",
                        "in": "header",
                        "required": True,
                        "description": SIGNATURE_DESCRIPTION,
                        "schema": {
                            "type": "string",
                            "pattern": r"^t=\d+(,[a-z0-9]+=[0-9A-Za-z]+)+$",
                        },
                    },
                ],
                "requestBody": {
                    "required": True,
                    "description": "At most 1 MiB. Unknown fields are ignored.",
                    "content": {
                        "application/json": {
                            "schema": _ref("Event"),
                            "examples": {"paid": {"value": EXAMPLE_EVENT}},
                        }
                    },
                },
                "responses": {
                    "202": {
                        "description": "Accepted (or accepted before: the first answer).",
                        "content": {"application/json": {"schema": _ref("Accepted")}},
                    },
                    "400": _problem("The Gateway-Signature header is malformed."),
                    "401": _problem(
                        "Missing or stale signature, or it does not match. An unknown shop "
                        "gets the same answer as a wrong signature."
                    ),
                    "409": _problem("The event id was used before with a different body."),
                    "413": _problem("The body is larger than 1 MiB."),
                    "415": _problem("The body is not application/json."),
                    "422": _problem(
                        "Invalid fields (all listed in `errors`), amounts that do not add up "
                        "(the difference in `detail`), or VAT rates that do not fit the "
                        "customer. Nothing is stored: send the corrected event again, with "
                        "the same id if you like."
                    ),
                },
            }
        }
    },
    "components": {
        "securitySchemes": {
            "GatewaySignature": {
                "type": "apiKey",
                "in": "header",
                "name": "Gateway-Signature",
                "description": SIGNATURE_DESCRIPTION,
            }
        },
        "schemas": _SCHEMA_COMPONENTS,
    },
}

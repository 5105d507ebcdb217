"""The ingest API as OpenAPI 3.1, served at `GET /api/openapi.json`: its one operation, its
security scheme and an example event; the schemas of the bodies are in web/openapi_schemas.py.

Written by hand, next to the code it describes, and kept honest by tests: DESIGN.md's example
validates against `Event`, every schema is valid JSON Schema (2020-12), and the answers and
problems the endpoint gives validate against theirs.
"""

from __future__ import annotations

from typing import Any, Final

from web.openapi_schemas import SCHEMAS, ref


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": ref("Problem")}},
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
                            "schema": ref("Event"),
                            "examples": {"paid": {"value": EXAMPLE_EVENT}},
                        }
                    },
                },
                "responses": {
                    "202": {
                        "description": "Accepted (or accepted before: the first answer).",
                        "content": {"application/json": {"schema": ref("Accepted")}},
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
        "schemas": SCHEMAS,
    },
}

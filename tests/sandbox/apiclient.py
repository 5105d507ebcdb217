"""A client for the sandbox's Dinero API in tests, and checks on its answers.

Answers are checked against the schemas of Dinero's OpenAPI description when the file is
there (`../shared/dinero/openapi-v1.json`); without it those checks are skipped, the rest run.
"""

from __future__ import annotations

import functools
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC = Path(__file__).resolve().parents[3] / "shared" / "dinero" / "openapi-v1.json"
_SPEC_URI = "urn:dinero:openapi-v1"
PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\n%%EOF\n"

Json = Any


@functools.cache
def _registry() -> Registry[Any] | None:
    if not SPEC.exists():
        return None
    spec = json.loads(SPEC.read_text(encoding="utf-8"))
    resource: Resource[Any] = DRAFT202012.create_resource(spec)
    registry: Registry[Any] = Registry().with_resource(_SPEC_URI, resource)
    return registry


def conforms(schema: str, instance: Json) -> None:
    """Fails unless `instance` matches the named schema (skipped without the spec file)."""
    registry = _registry()
    if registry is None:
        return
    ref = {"$ref": f"{_SPEC_URI}#/components/schemas/{schema}"}
    Draft202012Validator(ref, registry=registry).validate(instance)


def exact(response: httpx.Response) -> Json:
    """The JSON answer with numbers as `Decimal`, to see the digits the sandbox wrote."""
    return json.loads(response.text, parse_float=Decimal)


class Api:
    """The Dinero API for one organisation, with a token."""

    def __init__(self, client: httpx.AsyncClient, headers: dict[str, str], org: int) -> None:
        self.client, self.headers, self.org = client, headers, org

    def url(self, path: str, version: int = 1) -> str:
        return f"/v{version}/{self.org}{path}"

    async def get(self, path: str, version: int = 1, **params: Any) -> httpx.Response:
        return await self.client.get(self.url(path, version), params=params, headers=self.headers)

    async def post(self, path: str, body: Json = None, **kwargs: Any) -> httpx.Response:
        content = None if body is None else json.dumps(body, default=str)
        return await self.client.post(
            self.url(path),
            content=content,
            headers={**self.headers, "Content-Type": "application/json"},
            **kwargs,
        )

    async def delete(self, path: str, body: Json = None) -> httpx.Response:
        content = None if body is None else json.dumps(body)
        return await self.client.request(
            "DELETE", self.url(path), content=content, headers=self.headers
        )

    async def ok(self, response: httpx.Response) -> Json:
        assert response.status_code == 200, response.text
        return exact(response)

    # Shorthands for the common steps.

    async def contact(self, **fields: Any) -> str:
        body = {"Name": "Acme ApS", "CountryKey": "DK", "IsPerson": False, "IsMember": False}
        answer = await self.ok(await self.post("/contacts", {**body, "UseCvr": False, **fields}))
        guid: str = answer["ContactGuid"]
        return guid

    async def invoice(self, path: str = "/invoices", **fields: Any) -> Json:
        body = {"ProductLines": [line()], **fields}
        return await self.ok(await self.post(path, body))

    async def booked(self, path: str = "/invoices", **fields: Any) -> Json:
        fields.setdefault("ContactGuid", await self.contact())
        created = await self.invoice(path, **fields)
        book = await self.post(
            f"{path}/{created['Guid']}/book", {"Timestamp": created["TimeStamp"]}
        )
        return await self.ok(book)

    async def error(self, response: httpx.Response, status: int = 400) -> Json:
        assert response.status_code == status, response.text
        return response.json()


def line(**overrides: Any) -> dict[str, Any]:
    return {
        "BaseAmountValue": 100,
        "Quantity": 1,
        "AccountNumber": 1000,
        "Discount": 0,
        "Description": "Uldsokker",
        "Unit": "parts",
        "LineType": "Product",
        **overrides,
    }


def payment(timestamp: str, **overrides: Any) -> dict[str, Any]:
    return {
        "Timestamp": timestamp,
        "DepositAccountNumber": 55010,
        "Description": "Kortbetaling",
        "Amount": 125,
        "RemainderIsFee": False,
        **overrides,
    }

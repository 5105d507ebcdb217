"""Fixtures for the WooCommerce sandbox: the sandbox app in-process, and a receiver behind it
(an in-process app standing in for the gateway's key callback and webhook route). Deliveries
go out from the sandbox's background task; tests wait for them with the control API's
`drain`, never with a fixed sleep."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.secret import Secret
from gateway.woocommerce import keys
from gateway.woocommerce.rest import RestApi
from sandbox.app import create_sandbox_app
from sandbox.state import Sandbox
from tests.sandbox.conftest import HtmlForm

GATEWAY = "http://127.0.0.1:8000"
CALLBACK_URL = f"{GATEWAY}/oauth/woocommerce/callback"
RETURN_URL = f"{GATEWAY}/shops/1/sources/woocommerce/connected"
HOOK_URL = f"{GATEWAY}/webhooks/woocommerce/src-1"


@dataclass
class Delivery:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """Records every POST; webhooks get the next status in `statuses` (200 when none left)."""

    keys: list[dict[str, Any]] = field(default_factory=list)
    received: list[Delivery] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    callback_status: int = 200

    async def callback(self, request: Request) -> Response:
        self.keys.append(json.loads(await request.body()))
        return Response(status_code=self.callback_status)

    async def webhook(self, request: Request) -> Response:
        self.received.append(Delivery(dict(request.headers), await request.body()))
        return Response(status_code=self.statuses.pop(0) if self.statuses else 200)

    def topics(self) -> list[str]:
        return [d.headers.get("x-wc-webhook-topic", "ping") for d in self.received]


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


@pytest.fixture
async def client(sandbox: Sandbox, receiver: Receiver) -> AsyncIterator[httpx.AsyncClient]:
    hooks = Starlette(
        routes=[
            Route("/oauth/woocommerce/callback", receiver.callback, methods=["POST"]),
            Route("/webhooks/woocommerce/{source}", receiver.webhook, methods=["POST"]),
        ]
    )
    app = create_sandbox_app(sandbox, webhook_transport=httpx.ASGITransport(app=hooks))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox.test") as c:
        yield c
    await app.state.woocommerce_outbox.close()


@pytest.fixture
async def store_url(client: httpx.AsyncClient) -> str:
    response = await client.post("/_sandbox/woocommerce/stores", json={"name": "sokkeriet"})
    assert response.status_code == 201, response.text
    url: str = response.json()["store_url"]
    return url


async def approve(client: httpx.AsyncClient, store_url: str, state: str = "st") -> str:
    """Opens the key-flow page the gateway's authorize URL leads to, presses Approve, and
    answers where the browser was sent."""
    url = keys.authorize_url(
        store_url, state=state, return_url=RETURN_URL, callback_url=CALLBACK_URL
    )
    page = await client.get(url)
    assert page.status_code == 200, page.text
    form = HtmlForm(page.text)
    assert [label for _, _, label in form.buttons] == ["Approve", "Deny"]
    answer = await client.post(form.action, data={**form.fields, "decision": "approve"})
    assert answer.status_code == 302, answer.text
    return answer.headers["location"]


@pytest.fixture
async def rest(client: httpx.AsyncClient, store_url: str, receiver: Receiver) -> RestApi:
    await approve(client, store_url)
    granted = receiver.keys[-1]
    return RestApi(
        client, store_url, Secret(granted["consumer_key"]), Secret(granted["consumer_secret"])
    )


async def drain(client: httpx.AsyncClient) -> None:
    response = await client.post("/_sandbox/woocommerce/stores/sokkeriet/drain")
    assert response.status_code == 200, response.text


def query(location: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(location).query))


def order_json(order_id: int, status: str = "processing", **fields: Any) -> dict[str, Any]:
    """A small Danish order in WooCommerce's REST shape: 100.00 incl. 25 % VAT."""
    order: dict[str, Any] = {
        "id": order_id,
        "status": status,
        "currency": "DKK",
        "prices_include_tax": True,
        "date_created_gmt": "2026-11-24T09:58:00",
        "date_paid_gmt": "2026-11-24T09:59:00" if status != "pending" else None,
        "total": "100.00",
        "total_tax": "20.00",
        "billing": {"first_name": "Karen", "last_name": "Kunde", "country": "DK",
                    "email": "karen@example.dk", "address_1": "Vestergade 1",
                    "postcode": "8000", "city": "Aarhus C"},
        "payment_method": "quickpay",
        "payment_method_title": "Betalingskort",
        "meta_data": [],
        "line_items": [{"id": order_id * 10 + 1, "name": "Sokker", "sku": "SOCK-1",
                        "quantity": 1, "subtotal": "80.00", "subtotal_tax": "20.00",
                        "total": "80.00", "total_tax": "20.00",
                        "taxes": [{"id": 1, "total": "20.00", "subtotal": "20.00"}]}],
        "tax_lines": [{"id": 9, "rate_id": 1, "rate_code": "DK-MOMS-1", "label": "Moms",
                       "rate_percent": 25, "tax_total": "20.00", "shipping_tax_total": "0.00"}],
        "shipping_lines": [],
        "fee_lines": [],
        "coupon_lines": [],
    }  # fmt: skip
    order.update(fields)
    return order

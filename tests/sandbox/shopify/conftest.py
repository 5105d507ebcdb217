"""Fixtures for the Shopify sandbox: the sandbox app in-process, a webhook receiver behind it
(an in-process ASGI app standing in for the gateway's `/webhooks/shopify`), an installed
store with the gateway's own install client, and a fake clock for cost buckets.

Deliveries happen in the sandbox's background task; tests poll (`wait_for`) for what they
expect, never sleep a fixed time.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Callable
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
from gateway.shopify import install
from gateway.shopify.admin import AdminApi
from sandbox.app import create_sandbox_app
from sandbox.shopify.state import APP_CLIENT_ID, APP_SECRET, ShopifySandbox
from sandbox.state import Sandbox
from tests.sandbox.conftest import HtmlForm

SHOP = "sokkeriet.myshopify.com"
REDIRECT_URI = "http://127.0.0.1:8000/oauth/shopify/callback"
CALLBACK_URL = "http://127.0.0.1:8000/webhooks/shopify"
API_VERSION = "2025-10"
SECRET = Secret(APP_SECRET)


@dataclass
class Delivery:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """Records every POST; answers the next status in `statuses` (200 when none are left)."""

    received: list[Delivery] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)

    async def endpoint(self, request: Request) -> Response:
        self.received.append(Delivery(dict(request.headers), await request.body()))
        return Response(status_code=self.statuses.pop(0) if self.statuses else 200)

    def topics(self) -> list[str]:
        return [d.headers["x-shopify-topic"] for d in self.received]


class FakeMonotonic:
    """The cost buckets' clock; `sleep` moves it on instead of waiting."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


async def wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 5.0
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the condition did not come true in time")
        await asyncio.sleep(0.005)


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


@pytest.fixture
def monotonic() -> FakeMonotonic:
    return FakeMonotonic()


@pytest.fixture
def shopify(monotonic: FakeMonotonic) -> ShopifySandbox:
    return ShopifySandbox(monotonic=monotonic, rng=random.Random(20261207))


@pytest.fixture
async def client(
    sandbox: Sandbox, shopify: ShopifySandbox, receiver: Receiver
) -> AsyncIterator[httpx.AsyncClient]:
    shopify.now = sandbox.now  # the Dinero sandbox's frozen clock, moved by advance_clock
    hooks = Starlette(routes=[Route("/webhooks/shopify", receiver.endpoint, methods=["POST"])])
    app = create_sandbox_app(
        sandbox, shopify=shopify, webhook_transport=httpx.ASGITransport(app=hooks)
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox.test") as c:
        yield c
    await app.state.shopify_outbox.close()


@pytest.fixture
async def store_url(client: httpx.AsyncClient) -> str:
    response = await client.post("/_sandbox/shopify/stores", json={"shop": SHOP})
    assert response.status_code == 201, response.text
    url: str = response.json()["shop_url"]
    return url


async def grant_page_code(
    client: httpx.AsyncClient, store_url: str, state: str = "st"
) -> dict[str, str]:
    """Opens the grant page the gateway's authorize URL leads to, presses Install, and
    answers the parameters Shopify sent back to the redirect URI."""
    url = install.authorize_url(
        store_url,
        client_id=APP_CLIENT_ID,
        redirect_uri=REDIRECT_URI,
        state=state,
        scopes=install.SCOPES,
    )
    page = await client.get(url)
    assert page.status_code == 200, page.text
    form = HtmlForm(page.text)
    assert [label for _, _, label in form.buttons] == ["Install"]
    answer = await client.post(form.action, data=form.fields)
    assert answer.status_code == 302, answer.text
    location = answer.headers["location"]
    assert location.startswith(REDIRECT_URI + "?")
    return dict(parse_qsl(urlsplit(location).query))


@pytest.fixture
async def token(client: httpx.AsyncClient, store_url: str) -> Secret:
    params = await grant_page_code(client, store_url)
    grant = await install.exchange_code(
        client, store_url, client_id=APP_CLIENT_ID, secret=SECRET, code=params["code"]
    )
    return grant.token


@pytest.fixture
def admin(
    client: httpx.AsyncClient, store_url: str, token: Secret, monotonic: FakeMonotonic
) -> AdminApi:
    return AdminApi(client, store_url, API_VERSION, token, sleep=monotonic.sleep)


def order_json(order_id: int, **fields: Any) -> dict[str, Any]:
    """A small order in Shopify's REST/webhook shape."""
    order: dict[str, Any] = {
        "id": order_id,
        "name": f"#{order_id}",
        "order_number": order_id,
        "email": "karen@example.dk",
        "currency": "DKK",
        "presentment_currency": "DKK",
        "taxes_included": True,
        "total_price": "125.00",
        "total_tax": "25.00",
        "financial_status": "pending",
        "fulfillment_status": None,
        "cancelled_at": None,
        "note_attributes": [{"name": "vat_number", "value": "DK12345678"}],
        "line_items": [
            {
                "id": order_id * 10 + 1,
                "title": "Sokker",
                "name": "Sokker",
                "sku": "SOCK-1",
                "quantity": 1,
                "price": "125.00",
                "taxable": True,
                "tax_lines": [{"title": "Moms", "rate": 0.25, "price": "25.00"}],
                "discount_allocations": [],
            }
        ],
        "shipping_lines": [],
    }
    order.update(fields)
    return order

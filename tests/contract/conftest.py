"""The contract suite's fixtures: our Dinero and Visma clients against the sandbox on real
uvicorn, with every request and answer on the Dinero API held to Dinero's OpenAPI description.

Every test here takes `contract` (through which it reaches `http` and `openapi_recorder`), so
when `../shared/dinero/openapi-v1.json` is absent each test skips before a server starts,
saying where it looked. The recorder checks the traffic in its teardown, so no test can
forget to; a test passes only if everything it sent and got back fits the description.
Visma Connect (`/connect/`) and the sandbox's controls (`/_sandbox/`) are not in Dinero's
description: those exchanges are recorded but not validated.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final
from urllib.parse import parse_qs, urljoin, urlsplit
from uuid import UUID, uuid4

import httpx
import pytest

from gateway.dinero.client import DineroClient
from gateway.dinero.models import ContactCreate, InvoiceCreate, InvoiceLine
from gateway.dinero.oauth import TokenSet, VismaConnect, new_pkce
from gateway.dinero.sales import Invoice
from gateway.dinero.transport import DEFAULT_TIMEOUT
from gateway.secret import Secret
from gateway.settings import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET
from sandbox.state import Sandbox
from tests.contract.openapi import TrafficRecorder, require_spec
from tests.live import LiveSandbox, live_sandbox
from tests.sandbox.conftest import HtmlForm

# Never requested: the browser stops at the redirect and the test reads what it carries.
REDIRECT_URI: Final = "http://127.0.0.1:8000/oauth/dinero/callback"
NOT_VALIDATED: Final = ("/_sandbox/", "/connect/", "/.well-known/")

PRO_ORG: Final = 1001
OTHER_PRO_ORG: Final = 1002
NOT_PRO_ORG: Final = 1003


def utcnow() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
def openapi_recorder() -> Iterator[TrafficRecorder]:
    """Skips the test when Dinero's description is absent; fails it on any violation."""
    recorder = TrafficRecorder(require_spec(), ignore_prefixes=NOT_VALIDATED)
    yield recorder
    recorder.assert_clean()


@pytest.fixture
async def live(openapi_recorder: TrafficRecorder) -> AsyncIterator[LiveSandbox]:
    """A fresh sandbox on real uvicorn (own port, real clock) for each test. It depends on
    the recorder only so that a missing description skips before a server starts."""
    async with live_sandbox() as server:
        yield server


@pytest.fixture
async def http(openapi_recorder: TrafficRecorder) -> AsyncIterator[httpx.AsyncClient]:
    """The shared client both clients under test send through, recorded and validated.
    It never follows redirects, which is what lets the consent dance stop at the callback."""
    async with httpx.AsyncClient() as client:
        openapi_recorder.attach(client)
        yield client


@pytest.fixture
def visma(http: httpx.AsyncClient, live: LiveSandbox) -> VismaConnect:
    return VismaConnect(
        http,
        auth_url=live.url,
        client_id=SANDBOX_CLIENT_ID,
        client_secret=Secret(SANDBOX_CLIENT_SECRET),
    )


@pytest.fixture
def contract(live: LiveSandbox, http: httpx.AsyncClient, visma: VismaConnect) -> Contract:
    return Contract(live, http, visma)


@dataclass(frozen=True)
class Contract:
    """One test's sandbox: the clients under test, a browser for the consent page, and the
    sandbox's control endpoints (over HTTP, as a test script would use them)."""

    live: LiveSandbox
    http: httpx.AsyncClient
    visma: VismaConnect

    @property
    def sandbox(self) -> Sandbox:
        return self.live.sandbox

    # -- the consent dance, as a browser does it --------------------------------------

    async def authorize(
        self,
        *,
        state: str,
        code_challenge: str,
        decision: str = "Approve",
        form_post: bool = False,
    ) -> dict[str, str]:
        """Opens the consent page, presses the button labelled `decision`, and answers the
        fields the browser would bring to the redirect URI (without going there)."""
        url = self.visma.authorization_url(
            redirect_uri=REDIRECT_URI,
            state=state,
            code_challenge=code_challenge,
            form_post=form_post,
        )
        page = await self.http.get(url)
        assert page.status_code == 200, page.text
        form = HtmlForm(page.text)
        pressed = [(name, value) for name, value, label in form.buttons if label == decision]
        assert pressed, f"no {decision!r} button on the consent page: {form.buttons}"
        name, value = pressed[0]
        answer = await self.http.request(
            form.method.upper(),
            urljoin(str(page.url), form.action),
            data={**form.fields, name: value},
        )
        if form_post:
            # The page posts itself to the redirect URI: its form carries the answer.
            assert answer.status_code == 200, answer.text
            back = HtmlForm(answer.text)
            assert (back.method, back.action) == ("post", REDIRECT_URI)
            return back.fields
        assert answer.status_code in (302, 303), answer.text
        location = urlsplit(answer.headers["location"])
        assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
        return {key: values[0] for key, values in parse_qs(location.query).items()}

    async def connect(self) -> TokenSet:
        """The full dance: consent, the code back with our state, PKCE, the token set."""
        pkce, state = new_pkce(), secrets.token_urlsafe(16)
        answer = await self.authorize(state=state, code_challenge=pkce.challenge)
        assert answer["state"] == state
        return await self.visma.exchange_code(
            code=answer["code"],
            redirect_uri=REDIRECT_URI,
            code_verifier=pkce.verifier,
            now=utcnow(),
        )

    # -- the Dinero API --------------------------------------------------------------

    def dinero(self, tokens: TokenSet, *, timeout: httpx.Timeout = DEFAULT_TIMEOUT) -> DineroClient:
        return DineroClient(self.http, self.live.url, tokens.access_token, timeout=timeout)

    async def dinero_client(self) -> DineroClient:
        """A client on a fresh consent, for tests about the API rather than the consent."""
        return self.dinero(await self.connect())

    # -- the sandbox's controls ------------------------------------------------------

    async def control(self, method: str, path: str, body: object = None) -> Any:
        response = await self.http.request(
            method, f"{self.live.url}/_sandbox/{path}", json=body if method != "GET" else None
        )
        assert response.is_success, f"{method} /_sandbox/{path}: {response.text}"
        return json.loads(response.content, parse_float=Decimal)  # amounts stay exact

    async def faults(self, **faults: float | bool) -> None:
        """Replaces every fault with these (none given clears them)."""
        await self.control("POST", "faults", faults)

    async def settings(self, **settings: object) -> None:
        await self.control("POST", "settings", settings)

    async def stored(self, org: int, listing: str) -> list[dict[str, Any]]:
        """Everything the sandbox stored: `invoices`, `creditnotes`, `payments`, `vouchers`."""
        stored: list[dict[str, Any]] = await self.control("GET", f"organizations/{org}/{listing}")
        return stored


# -- documents the tests build on ----------------------------------------------------------


def line(
    amount: str,
    quantity: str = "1",
    *,
    account: int = 1000,
    discount: str = "0",
    description: str = "Sokker",
    unit: str = "parts",
) -> InvoiceLine:
    return InvoiceLine(
        base_amount_value=Decimal(amount),
        quantity=Decimal(quantity),
        account_number=account,
        discount=Decimal(discount),
        description=description,
        unit=unit,
        line_type="Product",
    )


def a_contact(**changes: Any) -> ContactCreate:
    """A Danish business customer with a client-chosen guid."""
    fields: dict[str, Any] = {
        "contact_guid": uuid4(),
        "name": "Kunde ApS",
        "country_key": "DK",
        "is_person": False,
        "email": "indkoeb@kunde.test",
        "vat_number": "DK12345678",
        "street": "Strøget 1",
        "zip_code": "1000",
        "city": "København K",
    }
    return ContactCreate(**(fields | changes))


def an_invoice(contact_guid: UUID, *lines: InvoiceLine, **changes: Any) -> InvoiceCreate:
    """A draft with a client-chosen guid and an order reference, as the pipeline makes them."""
    fields: dict[str, Any] = {
        "guid": uuid4(),
        "contact_guid": contact_guid,
        "external_reference": f"shop-1:order-{uuid4().hex[:8]}",
        "currency": "DKK",
        "language": "da-DK",
        "show_lines_incl_vat": False,
        "product_lines": lines or (line("80.00", "2"),),
    }
    return InvoiceCreate(**(fields | changes))


async def booked_invoice(dinero: DineroClient, org: int, *lines: InvoiceLine) -> Invoice:
    """A new contact's invoice, booked: what booking answered (number, new timestamp)."""
    contact = await dinero.create_contact(org, a_contact())
    created = await dinero.create_invoice(org, an_invoice(contact, *lines))
    assert created.timestamp is not None
    return await dinero.book_invoice(org, created.guid, created.timestamp)

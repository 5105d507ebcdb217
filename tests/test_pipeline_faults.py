"""The whole pipeline under faults, end to end, the way production runs it.

500 orders of 10 shops on 4 Dinero organisations go in as signed events over HTTP to the
gateway (`web.app.create_app` on real uvicorn). Two real arq workers
(`workers.settings.build_worker`, running in this test's event loop) run `documents.post` and
the `documents.sweep` cron against the sandbox (real uvicorn too), which answers 10 % of API
calls with a 500, drops 5 % of the answers to changes it has committed, and answers 5 % with
a 429 (the payment, file and manual voucher endpoints as much as the others). Once a third
of the orders' invoices and vouchers are posted, one organisation's grant is revoked
(`/_sandbox/organizations/{id}/revoke`; a grant belongs to the consenting user, and the
sandbox's one user reaches every organisation, so every connection's grant dies with it); the
gateway parks each organisation's documents as it notices, orders keep coming, and the owner
reconnects each organisation through the gateway's own `/shops/{id}/dinero/connect` flow.
Then the faults stop, the test waits until nothing is queued, waiting, parked or leased,
runs `documents.confirm_payments` to read Dinero's payment status, and compares what
Dinero holds with what the shops sent (`tests.pipeline_books` has the whole list): every
order exactly one booked invoice, in its shop's organisation, with the order's total to the
øre; every refund exactly one credit note for that invoice with the refund's total; unpaid
orders and orders cancelled before their trigger nothing; one contact per customer; one
number series per organisation without gaps or doubles; no document failed. And settlement
(issue 9): every paid order of a shop that registers payments exactly one payment equal to
its total, on its payment method's deposit account, and nothing remaining in Dinero (the
gateway shows it "Paid" because Dinero does); every refund and late cancellation exactly one
payment back on its credit note; a shop that registers none, and an order never paid, no
payment; every order of the two voucher-mode shops exactly one booked manual voucher with its
PDF attached (the shop's own, sent inline, or the gateway's receipt) and balanced lines
moving exactly the order's total on the deposit or receivable account, each refund exactly
one reversing voucher; nothing in Dinero that no order asked for.

The orders mix new and returning customers (Danish private and business, EU businesses with
valid VAT numbers, EU private, export), several lines (fractional quantities, line
discounts, services), shipping, fees, order discounts, prices incl. and excl. VAT, triggers
`paid`, `created` and `shipped`, partial and repeated refunds (the same event twice, and the
same refund under a new event id), repeated and stale events, and cancellations. Paid orders
mostly say how (`order.payment`: card, MobilePay or bank transfer; the shops' deposit
accounts differ per method), some refunds say how the money went back (`refund.payment`),
and a `created` shop's order is now and then never paid. Voucher-mode orders mostly carry the
shop's invoice (`order.invoice` with `pdf_base64`).

Time. Dinero allows 100 calls a minute per organisation (our budget: 95 per 62 s), so the
~600 documents here would take minutes at the real limit. This test raises the sandbox's
limit to 1,000 a minute (`/_sandbox/settings` `rate_limit_per_minute`) and the workers'
budget with it, and shortens the waits after a failure (`workers.backends.Pace`, which only
tests pass, in the worker's ctx). The code paths are the production ones; only the numbers
differ. That the budget keeps under the real limit is shown by `tests/gateway/test_ratelimit.py`,
`tests/workers/test_documents.py` and `bench/posting.py`, and here as well: apart from the
injected ones, the sandbox answers no 429.

`GATEWAY_FAULT_SEED=<n>` draws other orders and faults (the timing differs from run to run
anyway).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import random
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx
from arq.connections import ArqRedis
from arq.worker import Worker
from stdnum.eu import vat as eu_vat

from gateway.db import Pool
from gateway.dinero.oauth import VismaConnect
from gateway.ratelimit import WINDOW
from gateway.secret import Secret
from gateway.settings import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, Settings
from gateway.vault import Vault
from sandbox.state import Sandbox
from tenants.dinero import payment_status
from tenants.shops.ingest_secrets import SIGNATURE_HEADER, sign
from tests.factories import make_shop, make_user
from tests.live import LiveSandbox, live_sandbox, serve
from tests.pipeline_books import (
    BANK,
    CLEARING,
    MOBILEPAY,
    RECEIVABLE,
    Books,
    Customer,
    PlannedOrder,
    PlannedRefund,
    ShopUnderTest,
    check_books,
)
from tests.tenants.dinero.connections.test_connections import connect
from tests.web.test_accounts import CSRF, login
from web.app import create_app
from workers import backends
from workers.backends import Pace
from workers.settings import build_worker

log = logging.getLogger(__name__)

SEED = int(os.environ.get("GATEWAY_FAULT_SEED") or 20261124)
ORDERS = 500
SHOPS_PER_ORGANIZATION = (3, 3, 2, 2)


@dataclass(frozen=True)
class Setup:
    """A shop's trigger and settlement settings."""

    trigger: str
    document_kind: str = "invoice"
    payment_accounts: dict[str, int] | None = None  # None: registers no payments
    receivable_account: int | None = None


EVERY_METHOD = {"default": BANK, "card": CLEARING, "mobilepay": MOBILEPAY}
# Each shop's, in the order the shops are made. The voucher-mode shops register payments
# too (voucher mode makes none); the `paid` one has no receivable account, as it needs none.
SETUPS = (
    Setup("paid", payment_accounts=EVERY_METHOD),
    Setup("paid", "voucher", payment_accounts=EVERY_METHOD),
    Setup("created", payment_accounts=EVERY_METHOD),
    Setup("paid"),
    Setup("paid", payment_accounts={"default": CLEARING, "mobilepay": MOBILEPAY}),
    Setup("shipped", payment_accounts=EVERY_METHOD),
    Setup("created", "voucher", payment_accounts=EVERY_METHOD, receivable_account=RECEIVABLE),
    Setup("paid", payment_accounts=EVERY_METHOD),
    Setup("paid", payment_accounts={"default": BANK}),
    Setup("paid", payment_accounts=EVERY_METHOD),
)
METHODS = ("card", "card", "card", "mobilepay", "mobilepay", "bank_transfer", None)
# A shop's own invoice, as it sends it inline: a small valid PDF.
PDF_BASE64 = base64.b64encode(b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n").decode()
FAULTS = {"error_rate": 0.10, "drop_after_commit_rate": 0.05, "rate_limit_429_rate": 0.05}
SANDBOX_LIMIT = 1000  # calls a minute per organisation
PACE = Pace(
    dinero_limit=SANDBOX_LIMIT,
    budget=SANDBOX_LIMIT * 95 // 100,
    backoff_base=timedelta(seconds=0.25),
    uncertain_base=timedelta(seconds=0.1),
    rate_limit_pause=0.5,
)
WORKERS = 2
SENDERS = 6  # orders sent at once; one order's events go one after another
REVOKE_AFTER = 1 / 3  # of the orders' own documents posted
# A wait fails only when nothing has moved for this long: no document changed and no event
# came in. Progress, not the clock, decides, so a busy machine only makes the test slower.
STALLED_AFTER = 180.0
ZERO = Decimal("0.00")


def money(amount: Decimal) -> Decimal:
    return amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


# --- the shops' side: customers, orders and their events -------------------------------------


Emit = Callable[[str, datetime, dict[str, Any] | None], None]


class Plan:
    """The shops' orders and events, drawn from a seeded random source."""

    def __init__(self, shops: list[ShopUnderTest], rng: random.Random) -> None:
        self.rng = rng
        self.shops = shops
        self.customers: dict[int, list[Customer]] = defaultdict(list)  # per organisation
        self.vat_numbers: set[str] = set()
        # Far enough back that every event, refunds a day after payment too, lies in the past.
        self.start = datetime.now(UTC) - timedelta(days=3)
        self.orders = [self._order(n) for n in range(ORDERS)]

    # customers: four in ten orders come from one the organisation has seen (perhaps
    # through another of its shops)

    def _customer(self, organization_id: int, n: int) -> Customer:
        known = self.customers[organization_id]
        if known and self.rng.random() < 0.4:
            return self.rng.choice(known)
        kind = self.rng.choices(
            ("domestic", "domestic_company", "eu_business", "eu_private", "export"),
            weights=(50, 10, 20, 5, 15),
        )[0]
        body: dict[str, Any] = {
            "name": f"Kunde {n}",
            "email": f"kunde{n}@example.dk",
            "phone": None,
            "company": None,
            "vat_number": None,
            "ean": None,
            "address": {"street": f"Vestergade {n}", "zip": "8000", "city": "Aarhus C"},
        }
        address = body["address"]
        treatment = kind
        if kind in ("domestic", "domestic_company"):
            address["country"] = "DK"
            treatment = "domestic"
            if kind == "domestic_company":
                body.update(company=f"Firma {n} ApS", vat_number=self._vat_number("DK"))
        elif kind == "eu_business":
            country = self.rng.choice(("DE", "NL", "SE", "FI", "BE", "AT", "PL"))
            body.update(company=f"Kunde {n} GmbH", vat_number=self._vat_number(country))
            address.update(country=country, zip="10115", city="Berlin")
        elif kind == "eu_private":
            address.update(country="SE", zip="11122", city="Stockholm")
        else:
            address.update(country=self.rng.choice(("US", "NO", "GB", "CH")), zip="0150")
            if self.rng.random() < 0.5:
                body.update(company=f"Importer {n} Ltd", email=f"buyer{n}@example.com")
        customer = Customer(body, treatment)
        known.append(customer)
        return customer

    def _vat_number(self, country: str) -> str:
        """A new VAT number stdnum finds valid (`#` is a random digit; the checksum
        rejects most draws)."""
        shape = {
            "DK": "########",
            "DE": "#########",
            "NL": "#########B##",
            "SE": "##########01",
            "FI": "########",
            "BE": "0#########",
            "AT": "U########",
            "PL": "##########",
        }[country]
        for _ in range(10_000):
            number = country + "".join(
                self.rng.choice("0123456789") if c == "#" else c for c in shape
            )
            if number not in self.vat_numbers and eu_vat.is_valid(number):
                self.vat_numbers.add(number)
                return number
        raise AssertionError(f"drew no valid {country} VAT number")

    # one order

    def _order(self, n: int) -> PlannedOrder:
        rng = self.rng
        shop = self.shops[n % len(self.shops)]
        customer = self._customer(shop.organization_id, n)
        rate = customer.vat_rate
        gross = rng.random() < 0.7
        lines = [self._line(rate) for _ in range(rng.randint(1, 4))]
        shipping = None
        if rng.random() < 0.8:
            price = rng.choice(("39.00", "49.00", "0.00"))
            shipping = {"name": "GLS", "price": price, "vat_rate": rate}
        fees = [{"name": "Gebyr", "amount": "9.00", "vat_rate": rate}] if rng.random() < 0.1 else []
        amounts = [_line_amount(line) for line in lines]
        discounts = []
        if rng.random() < 0.15 and sum(amounts, ZERO) > 20:
            discounts = [{"name": "JUL10", "amount": str(money(sum(amounts, ZERO) / 10))}]
        total = _total(lines, shipping, fees, discounts, gross=gross)
        created = self.start + timedelta(seconds=20 * n)
        external_id = f"{1000 + n}"
        body: dict[str, Any] = {
            "id": external_id,
            "number": external_id,
            "created_at": _rfc3339(created),
            "currency": "DKK",
            "prices_include_vat": gross,
            "customer": customer.body,
            "lines": lines,
            "shipping": shipping,
            "fees": fees,
            "discounts": discounts,
            "total": str(total),
            "paid_at": None,
            "shipped_at": None,
        }
        invoice_number = None
        if shop.document_kind == "voucher" and rng.random() < 0.6:  # else the gateway's receipt
            invoice_number = f"F-{20000 + n}"
            body["invoice"] = {"number": invoice_number, "pdf_base64": PDF_BASE64}
        fate = rng.choices(
            ("posted", "unpaid", "cancelled_early", "cancelled_late"), weights=(94, 2, 2, 2)
        )[0]
        paid = fate not in ("unpaid", "cancelled_early")
        if shop.trigger == "created":  # the invoice is owed from the first event
            fate = {"unpaid": "posted", "cancelled_early": "cancelled_late"}.get(fate, fate)
            paid = fate != "posted" or rng.random() < 0.85  # and now and then never paid
        order = PlannedOrder(
            shop,
            external_id,
            customer,
            total,
            fate,
            paid=paid,
            method=rng.choice(METHODS),
            invoice_number=invoice_number,
            pays_later=shop.trigger == "created" and rng.random() < 0.5,
        )
        self._events(order, body, created)
        return order

    def _line(self, rate: str) -> dict[str, Any]:
        rng = self.rng
        if rng.random() < 0.1:  # sold by weight: a fractional quantity, a finer unit price
            quantity, unit_price = rng.choice(("0.750", "1.5", "2.25")), f"{rng.uniform(5, 90):.4f}"
        else:
            quantity, unit_price = str(rng.randint(1, 5)), f"{rng.uniform(9.95, 499):.2f}"
        subtotal = money(Decimal(quantity) * Decimal(unit_price))
        discount = money(subtotal / 10) if rng.random() < 0.2 else ZERO
        return {
            "sku": f"SKU-{rng.randint(1, 40)}",
            "name": rng.choice(("Sokker", "Strikkepinde", "Garn", "Hue", "Vanter")),
            "quantity": quantity,
            "unit_price": unit_price,
            "vat_rate": rate,
            "discount": str(discount),
            "kind": "service" if rng.random() < 0.15 else "goods",
        }

    # its events, each order's in time order

    def _events(self, order: PlannedOrder, body: dict[str, Any], created: datetime) -> None:
        rng = self.rng
        step = iter(range(1, 100))

        def emit(kind: str, at: datetime, refund: dict[str, Any] | None = None) -> None:
            order.events.append(
                {
                    "id": f"evt-{order.shop.id.hex[:6]}-{order.external_id}-{next(step)}",
                    "type": kind,
                    "occurred_at": _rfc3339(at),
                    "order": json.loads(json.dumps(body)),
                    "refund": refund,
                }
            )

        emit("order.created", created)
        if not order.paid:  # unpaid, cancelled early, or invoiced when created and never paid
            if order.fate == "cancelled_early":
                emit("order.cancelled", created + timedelta(minutes=1))
            elif order.fate == "posted" and rng.random() < 0.5:
                body["shipped_at"] = _rfc3339(created + timedelta(hours=1))
                emit("order.shipped", created + timedelta(hours=1))
            return
        paid = created + timedelta(minutes=1)
        body["paid_at"] = _rfc3339(paid)
        if order.method is not None:
            body["payment"] = {
                "method": order.method,
                "amount": str(order.total),
                "paid_at": _rfc3339(paid),
                "reference": f"pi_{order.external_id}",
            }
        emit("order.paid", paid)
        if rng.random() < 0.1:
            order.repeats.add(len(order.events) - 1)  # the shop's webhook fired twice
        if rng.random() < 0.05:  # the first event again, late, under a new id: stale
            stale = json.loads(json.dumps(order.events[0]))
            stale["id"] += "-late"
            order.events.append(stale)
        if order.shop.trigger == "shipped" or rng.random() < 0.3:
            body["shipped_at"] = _rfc3339(paid + timedelta(hours=1))
            emit("order.shipped", paid + timedelta(hours=1))
        if order.fate == "cancelled_late":
            emit("order.cancelled", paid + timedelta(hours=2))
        elif rng.random() < 0.16:
            self._refunds(order, body, paid, emit)

    def _refunds(
        self, order: PlannedOrder, body: dict[str, Any], paid: datetime, emit: Emit
    ) -> None:
        """One to three partial refunds: a unit of a line (a weighed line whole), and now
        and then the shipping, never more than the order's total in all."""
        rng = self.rng
        gross = body["prices_include_vat"]
        refunded = ZERO
        shipping_back = False
        for n in range(rng.choice((1, 1, 2, 3))):
            line = rng.choice(body["lines"])
            quantity = line["quantity"] if "." in line["quantity"] else "1"
            lines = [dict(line, quantity=quantity, discount="0.00")]
            shipping = None
            if body["shipping"] and not shipping_back and rng.random() < 0.2:
                shipping, shipping_back = body["shipping"], True
            total = _total(lines, shipping, [], [], gross=gross)
            if refunded + total > order.total:
                break
            refunded += total
            refund_id = f"r{n + 1}"
            refund: dict[str, Any] = {
                "id": refund_id,
                "lines": lines,
                "shipping": shipping,
                "total": str(total),
            }
            at = paid + timedelta(days=1, hours=n)
            method = None
            if rng.random() < 0.3:  # paid back another way than the customer paid
                method = rng.choice(("bank_transfer", "mobilepay"))
                refund["payment"] = {
                    "method": method,
                    "amount": str(total),
                    "paid_at": _rfc3339(at),
                    "reference": f"re_{order.external_id}_{refund_id}",
                }
            order.refunds.append(PlannedRefund(refund_id, total, method))
            emit("order.refunded", at, refund)
            if rng.random() < 0.25:
                order.repeats.add(len(order.events) - 1)  # the same event twice
            if rng.random() < 0.15:  # the same refund under a new event id
                again = json.loads(json.dumps(order.events[-1]))
                again["id"] += "-again"
                order.events.append(again)


def _line_amount(line: dict[str, Any]) -> Decimal:
    return money(Decimal(line["quantity"]) * Decimal(line["unit_price"])) - Decimal(
        line["discount"]
    )


def _total(
    lines: list[dict[str, Any]],
    shipping: dict[str, Any] | None,
    fees: list[dict[str, Any]],
    discounts: list[dict[str, Any]],
    *,
    gross: bool,
) -> Decimal:
    """What the customer pays: the amounts as sent; with net prices, plus the VAT on the
    whole order, its discounts taken off the lines pro rata, rounded once."""
    amounts = [_line_amount(line) for line in lines]
    charges = [(a, Decimal(line["vat_rate"])) for line, a in zip(lines, amounts, strict=True)]
    if shipping:
        charges.append((Decimal(shipping["price"]), Decimal(shipping["vat_rate"])))
    charges += [(Decimal(fee["amount"]), Decimal(fee["vat_rate"])) for fee in fees]
    discount = sum((Decimal(d["amount"]) for d in discounts), ZERO)
    summed = sum((a for a, _ in charges), ZERO) - discount
    if gross:
        return summed
    vat = sum((a * r for a, r in charges), ZERO)
    if discount:
        line_vat = sum((a * r for a, r in charges[: len(lines)]), ZERO)
        vat -= discount * line_vat / sum(amounts, ZERO)
    return summed + money(vat)


def _rfc3339(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


# --- sending events ----------------------------------------------------------------------------


async def send(gateway: httpx.AsyncClient, order: PlannedOrder, event: dict[str, Any]) -> bytes:
    body = json.dumps(event).encode()
    answer = await gateway.post(
        f"/api/v1/shops/{order.shop.id}/events",
        content=body,
        headers={
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(order.shop.secret, int(time.time()), body),
        },
    )
    assert answer.status_code == 202, (event["id"], answer.status_code, answer.text)
    return answer.content


async def send_all(pool: Pool, gateway: httpx.AsyncClient, planned: list[PlannedOrder]) -> None:
    """Every order's events one after another, `SENDERS` orders at a time. A repeated
    delivery must get the first answer byte for byte. An order that pays later sends its
    `order.paid` only once its invoice or voucher is posted, so "booked unpaid, then paid"
    is arranged, not raced for (its lane is free for other orders meanwhile)."""
    lanes = asyncio.Semaphore(SENDERS)

    async def one(order: PlannedOrder) -> None:
        events = list(enumerate(order.events))
        paid_at = next(
            (i for i, e in events if order.pays_later and e["type"] == "order.paid"), len(events)
        )
        async with lanes:
            for index, event in events[:paid_at]:
                await deliver(order, index, event)
        if paid_at == len(events):
            return
        await wait_for(
            lambda: pool.fetchval(
                "SELECT EXISTS (SELECT 1 FROM documents d JOIN orders o ON o.id = d.order_id "
                "WHERE o.shop_id = $1 AND o.external_id = $2 AND d.seq = 0 "
                "AND d.kind IN ('invoice', 'voucher') AND d.state = 'posted')",
                order.shop.id,
                order.external_id,
            ),
            progress=lambda: moved(pool),
            what=f"order {order.external_id}'s document to be posted before it is paid",
        )
        async with lanes:
            for index, event in events[paid_at:]:
                await deliver(order, index, event)

    async def deliver(order: PlannedOrder, index: int, event: dict[str, Any]) -> None:
        first = await send(gateway, order, event)
        if index in order.repeats:
            assert await send(gateway, order, event) == first, event["id"]

    await asyncio.gather(*(one(order) for order in planned))


# --- the gateway's side: workers, the owner reconnecting -------------------------------------


@contextlib.asynccontextmanager
async def workers(settings: Settings, count: int) -> AsyncIterator[list[Worker]]:
    """`count` real arq workers on the gateway's queue, until the block ends."""
    running: list[Worker] = [
        build_worker(settings, ctx={"pace": PACE}, handle_signals=False, poll_delay=0.05)
        for _ in range(count)
    ]
    tasks = [asyncio.create_task(worker.main()) for worker in running]
    try:
        yield running
    finally:
        for task in tasks:
            task.cancel()
        for worker, task in zip(running, tasks, strict=True):
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await asyncio.gather(*worker.tasks.values(), return_exceptions=True)
            await worker.close()


async def reconnect(browser: httpx.AsyncClient, live: LiveSandbox, shop: ShopUnderTest) -> int:
    """The owner presses Connect on `shop`, approves on Visma's consent page and picks the
    shop's organisation, through the gateway's own routes; answers the tries it took. A
    fault on the callback's `GET /v1/organizations` spoils a try (the owner sees "try
    again shortly"), so the owner tries again."""
    for attempt in range(1, 11):
        start = await browser.get(f"/shops/{shop.id}/dinero/connect")
        assert start.status_code == 303, start.text
        approved = await browser.post(
            f"{live.url}/_sandbox/consent", json={"authorize_url": start.headers["location"]}
        )
        assert approved.status_code == 200, approved.text
        callback = await browser.get("/oauth/dinero/callback", params=approved.json())
        if callback.status_code != 303:
            assert "did not answer as expected" in callback.text, callback.text
            continue
        picker = callback.headers["location"]
        match = CSRF.search((await browser.get(picker)).text)
        assert match
        chosen = await browser.post(
            picker,
            data={"csrf_token": match.group(1), "organization_id": str(shop.organization_id)},
        )
        assert chosen.status_code == 303, chosen.text
        assert chosen.headers["location"] == f"/shops/{shop.id}"
        return attempt
    raise AssertionError(f"could not reconnect shop {shop.id} in ten tries")


@dataclass
class Revocation:
    revoked_grants: int = 0
    parked_connections: int = 0
    parked_documents: int = 0
    tries: list[int] = field(default_factory=list)


async def revoke_and_reconnect(
    pool: Pool,
    live: LiveSandbox,
    gateway_url: str,
    owner_email: str,
    shops: list[ShopUnderTest],
    planned: list[PlannedOrder],
) -> Revocation:
    """Once a third of the orders' invoices and vouchers are posted, revokes the grant;
    waits until the gateway has noticed on every organisation (each has work, so each calls
    Dinero within seconds); leaves them parked a moment while orders keep coming; reconnects
    each."""
    result = Revocation()
    owed = sum(1 for order in planned if order.fate == "posted")
    await wait_for(
        lambda: pool.fetchval(
            "SELECT count(*) >= $1 FROM documents "
            "WHERE kind IN ('invoice', 'voucher') AND seq = 0 AND state = 'posted'",
            int(owed * REVOKE_AFTER),
        ),
        progress=lambda: moved(pool),
        what="a third of the invoices and vouchers to be posted",
    )
    answer = await control(live, f"/_sandbox/organizations/{shops[0].organization_id}/revoke")
    result.revoked_grants = answer["revoked_grants"]
    organizations = sorted({shop.organization_id for shop in shops})
    noticed = "SELECT count(*) FROM dinero_connections WHERE status = 'needs_reconnect'"
    # Each organisation notices at its next call to Dinero; one whose work ran out first
    # has nothing to notice with (the reconnect below serves it all the same).
    await wait_for(
        lambda: pool.fetchval(
            f"SELECT ({noticed}) = $1 OR NOT EXISTS (SELECT 1 FROM documents "
            "WHERE state = 'queued' OR lease_owner IS NOT NULL)",
            len(organizations),
        ),
        progress=lambda: moved(pool),
        what="every organisation to notice",
    )
    await asyncio.sleep(1)  # orders keep coming in, and are parked
    result.parked_connections = await pool.fetchval(noticed)
    result.parked_documents = await pool.fetchval(
        "SELECT count(*) FROM documents WHERE state = 'needs_reconnect'"
    )
    async with httpx.AsyncClient(base_url=gateway_url) as browser:
        await login(browser, owner_email)
        for organization in organizations:
            shop = next(s for s in shops if s.organization_id == organization)
            result.tries.append(await reconnect(browser, live, shop))
    return result


async def control(live: LiveSandbox, path: str, body: dict[str, Any] | None = None) -> Any:
    """POSTs to one of the sandbox's control endpoints."""
    async with httpx.AsyncClient(base_url=live.url) as client:
        answer = await client.post(path, json=body or {})
    assert answer.status_code in (200, 201), answer.text
    return answer.json()


async def wait_for(
    check: Callable[[], Awaitable[Any]],
    *,
    progress: Callable[[], Awaitable[Any]],
    what: str,
) -> None:
    """Waits until `check` holds. Fails only when `progress` (a reading of how far the
    gateway has got) stays the same for `STALLED_AFTER` seconds: however slow the machine,
    a test that is moving is never cut off, and one that hangs still ends."""
    seen = await progress()
    still_since = time.monotonic()
    while not await check():
        now = await progress()
        if now != seen:
            seen, still_since = now, time.monotonic()
        elif time.monotonic() - still_since > STALLED_AFTER:
            raise TimeoutError(f"nothing moved for {STALLED_AFTER:.0f} s waiting for {what}")
        await asyncio.sleep(0.2)


async def moved(pool: Pool) -> Any:
    """How far the gateway has got: changes whenever an event comes in or a document is
    touched (an attempt, a lease, a step, a state)."""
    return await pool.fetchrow(
        "SELECT (SELECT max(updated_at) FROM documents), (SELECT count(*) FROM documents), "
        "(SELECT max(received_at) FROM orders)"
    )


OPEN = "state IN ('queued', 'waiting', 'needs_reconnect') OR lease_owner IS NOT NULL"


async def settle(pool: Pool) -> None:
    """Waits until no document is queued, waiting, parked or leased; or fails listing
    those that are, with their last errors."""
    try:
        await wait_for(
            lambda: pool.fetchval(f"SELECT NOT EXISTS (SELECT 1 FROM documents WHERE {OPEN})"),
            progress=lambda: moved(pool),
            what="every document to settle",
        )
    except TimeoutError as exc:
        stuck = await pool.fetch(
            "SELECT id, shop_id, kind, seq, state, step, attempts, failures, uncertain, "
            "next_attempt_at, lease_owner, last_error_code, last_error FROM documents "
            f"WHERE {OPEN} ORDER BY id LIMIT 30"
        )
        listing = "\n".join(str(dict(row)) for row in stuck)
        raise AssertionError(f"{exc}; still open:\n{listing}") from None


async def confirm(worker: Worker, pool: Pool) -> dict[str, int]:
    """Runs the cron job `documents.confirm_payments` once in `worker`, as the cron would a
    minute from now: it asks an organisation about its payments once the oldest unconfirmed
    one has waited `CONFIRM_AFTER`, which waiting for would add a minute to this test. After
    it, no posted payment may still say only "Registered": Dinero's status is on each.

    An organisation whose call budget the last postings still fill is skipped (posting comes
    first), as the cron would skip it: the run is repeated until none is, which takes at
    most one budget window now that nothing else calls Dinero."""
    counts: dict[str, int] = {}
    deadline = time.monotonic() + WINDOW + 10
    while True:
        later = datetime.now(UTC) + payment_status.CONFIRM_AFTER
        run = await backends.confirm_payments(worker.ctx, now=later)
        counts = {k: counts.get(k, 0) + v for k, v in run.items() if k != "skipped"}
        counts["skipped"] = run["skipped"]
        if not run["skipped"] or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)
    left = await pool.fetch(
        "SELECT id, shop_id, source_ref, backend_status FROM documents "
        "WHERE kind = 'payment' AND state = 'posted' AND backend_status = 'Registered'"
    )
    assert not left, (counts, [dict(row) for row in left])
    return counts


# --- the test --------------------------------------------------------------------------------


async def test_every_order_is_posted_exactly_once_through_faults_and_a_revocation(
    settings: Settings, pool: Pool, vault: Vault, redis: ArqRedis, http: httpx.AsyncClient
) -> None:
    started = time.monotonic()
    async with live_sandbox(Sandbox(rng=random.Random(SEED))) as live:
        await control(live, "/_sandbox/settings", {"rate_limit_per_minute": SANDBOX_LIMIT})
        organizations = [1001, 1002]  # the seeded Pro ones, and two more
        for name in ("Garnhuset ApS", "Uldmarkedet A/S"):
            added = await control(live, "/_sandbox/organizations", {"name": name, "is_pro": True})
            organizations.append(added["id"])
        wired = replace(settings, dinero_auth_url=live.url, dinero_api_url=live.url)
        visma = VismaConnect(
            http,
            auth_url=live.url,
            client_id=SANDBOX_CLIENT_ID,
            client_secret=Secret(SANDBOX_CLIENT_SECRET),
        )
        owner = await make_user(pool)
        shops: list[ShopUnderTest] = []
        for organization_id, count in zip(organizations, SHOPS_PER_ORGANIZATION, strict=True):
            for _ in range(count):
                setup = SETUPS[len(shops)]
                shop, secret, _ = await make_shop(pool, vault, owner=owner)
                await pool.execute(
                    "UPDATE shops SET trigger = $2, document_kind = $3, register_payments = $4, "
                    "payment_accounts = $5, receivable_account = $6 WHERE id = $1",
                    shop.id,
                    setup.trigger,
                    setup.document_kind,
                    setup.payment_accounts is not None,
                    setup.payment_accounts or {},
                    setup.receivable_account,
                )
                await connect(pool, vault, live, visma, shop=shop, organization_id=organization_id)
                shops.append(
                    ShopUnderTest(
                        shop.id,
                        secret,
                        organization_id,
                        setup.trigger,
                        document_kind=setup.document_kind,
                        register_payments=setup.payment_accounts is not None,
                        payment_accounts=setup.payment_accounts or {},
                        receivable_account=setup.receivable_account,
                    )
                )
        planned = Plan(shops, random.Random(SEED)).orders

        async with (
            serve(create_app(wired), lifespan="on") as gateway_url,
            workers(wired, WORKERS) as running,
        ):
            await control(live, "/_sandbox/faults", FAULTS)
            async with httpx.AsyncClient(base_url=gateway_url, timeout=30.0) as gateway:
                _, revocation = await asyncio.gather(
                    send_all(pool, gateway, planned),
                    revoke_and_reconnect(pool, live, gateway_url, owner.email, shops, planned),
                )
            ingested = time.monotonic()
            await control(live, "/_sandbox/faults", {})
            await settle(pool)
            settled = time.monotonic()
            confirmation = await confirm(running[0], pool)
        confirmed_at = time.monotonic()

        stats = (await http.get(f"{live.url}/_sandbox/stats")).json()
        books = {}
        for organization in organizations:
            listed = [
                (await http.get(f"{live.url}/_sandbox/organizations/{organization}/{what}")).json()
                for what in ("invoices", "creditnotes", "payments", "vouchers")
            ]
            books[organization] = Books(*listed)

    log.info(
        "%d orders: ingested after %.1f s, settled after %.1f s, payments confirmed after "
        "%.1f s (%s); %s; sandbox %s",
        len(planned),
        ingested - started,
        settled - started,
        confirmed_at - started,
        confirmation,
        revocation,
        stats,
    )
    owed = await check_books(pool, planned, books)
    log.info("found as owed: %s", dict(owed))
    assert owed["payment"] > 0 and owed["voucher"] > 0 and owed["voucher_receivable"] > 0, owed
    # Vouchers booked against the receivable account and then paid: their money moved.
    # Every order that pays later was held back until its voucher was posted (`send_all`).
    paid_later = sum(
        1 for o in planned if o.pays_later and o.paid and o.shop.document_kind == "voucher"
    )
    assert paid_later > 0
    assert owed["voucher_receivable_paid_later"] >= paid_later, (paid_later, owed)
    # The faults hit the settlement calls too: answers lost after Dinero kept a payment, a
    # file or a voucher (or a 500 to such a call, which could have been either), each
    # retried to exactly one in Dinero.
    retried = await pool.fetch(
        "SELECT d.kind, array_agg(DISTINCT e.data->>'code') AS codes FROM events e "
        "JOIN documents d ON d.id = e.document_id WHERE e.kind = 'document.retrying' "
        "AND d.kind IN ('payment', 'voucher') GROUP BY d.kind"
    )
    codes = {row["kind"]: set(row["codes"]) for row in retried}
    for kind in ("payment", "voucher"):
        assert "uncertain" in codes.get(kind, set()), codes
    assert revocation.revoked_grants >= 1
    assert revocation.parked_connections >= 1, "no connection noticed the revocation"
    assert revocation.parked_documents >= 1, "no document waited for the reconnect"
    statuses = await pool.fetch("SELECT organization_id, status FROM dinero_connections")
    assert {(r["organization_id"], r["status"]) for r in statuses} == {
        (organization, "active") for organization in organizations
    }
    faults = stats["faults"]
    assert min(faults.get(f, 0) for f in ("error", "drop_after_commit", "rate_limit")) > 0
    # The sandbox counts its 429s per organisation, the injected ones included (but those on
    # `/v1/organizations`, which names none): any more than it injected would be Dinero's
    # own limit, hit because the budget let too many calls through.
    assert sum(stats["rate_limited"].values()) <= faults["rate_limit"], stats

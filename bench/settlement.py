"""Benchmark (b) for settlement: Dinero calls per booked-and-paid invoice, and per booked
voucher. Run through `python -m bench.posting --only b`, after (b)'s booked-invoice figures.

Each order comes in as ingest records it (`tenants.orders.ingest.record_event`, DESIGN.md's
example order with a card payment), so the payment document is the real code's. Its
documents are posted one attempt at a time with `tenants.posting.service.post_document`, the
invoice first and then what its posting released (the payment). Then
`documents.confirm_payments`'s service (`tenants.dinero.payment_status.confirm_payments`) runs
as its cron would after the batch: every
`CONFIRM_EVERY` seconds until it has confirmed (a run that finds the organisation's budget
spent by posting leaves it alone, without a call). Its calls are shown apart, divided over
the batch. A quiet shop, its orders further apart than `CONFIRM_AFTER` (a minute), shows the
other end: one confirmation listing per order. Calls are the sandbox's count for the
organisation; the split by endpoint is the client's `on_call` hook.

Returning customer: an order of that customer is posted (and confirmed) first, so the contact
is known. New customer: every order from a customer of its own, after one first order that
takes the organisation's first listing of its contacts. Voucher mode (for information): a
voucher shop's paid order is one manual voucher, with the gateway's receipt PDF attached,
balanced against the card payment's deposit account.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import re
import time
from collections import Counter
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final

from bench.posting import ORDER, Env, connected_shop, direct_poster
from gateway.orders import parse_event
from tenants.dinero import payment_status
from tenants.dinero.poster import Poster
from tenants.orders import ingest as orders
from tenants.posting.outcomes import Outcome
from tenants.posting.service import post_document
from web.openapi import EXAMPLE_EVENT

BATCH: Final = 20
CONFIRM_PATIENCE: Final = 120  # seconds: two rate windows
ACCOUNTS: Final = {"default": 55000, "card": 55010}
RECEIVABLE: Final = 5800
TOTAL: Final = Decimal(ORDER["total"])
# Dinero's resources, for the split by endpoint: ids and guids folded away.
_ID: Final = re.compile(r"/(\d+|[0-9a-fA-F-]{36})(?=/|$)")


@dataclass
class Shop:
    ingest: orders.IngestShop
    organization_id: int


@dataclass(frozen=True)
class Confirmed:
    """One confirmation: its calls, and the runs before it that left the organisation
    alone because posting had used its budget."""

    calls: int
    skipped: int
    seconds: float


@dataclass
class Batch:
    """What posting a batch of orders and confirming their payments cost."""

    orders: int
    posting: int  # calls while posting
    confirming: int  # calls confirming the batch's payments
    endpoints: Counter[str]  # while posting
    confirmation: Confirmed | None = None

    @property
    def per_order(self) -> float:
        return self.posting / self.orders

    @property
    def confirmation_per_order(self) -> float:
        return self.confirming / self.orders


class CallLog:
    """The poster's `on_call` hook: calls by method and endpoint."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def __call__(self, method: str, path: str, status: int) -> None:
        endpoint = _ID.sub("/{}", path.split("?")[0])
        self.counts[f"{method} {endpoint}" + ("" if status < 400 else f" -> {status}")] += 1

    def since(self, before: Counter[str]) -> Counter[str]:
        return self.counts - before


async def settling_shop(env: Env, name: str, *, kind: str = "invoice") -> Shop:
    """A shop on a new sandbox organisation that registers payments (card 55010, else
    55000), booking invoices or, with `kind` "voucher", vouchers."""
    shop_id, organization_id = await connected_shop(env, name)
    await env.pool.execute(
        "UPDATE shops SET register_payments = true, payment_accounts = $2, "
        "document_kind = $3, receivable_account = $4 WHERE id = $1",
        shop_id,
        ACCOUNTS,
        kind,
        RECEIVABLE,
    )
    found = await orders.shop_for_ingest(env.pool, env.vault, shop_id, datetime.now(UTC))
    assert found is not None
    return Shop(found, organization_id)


def paid_event(order_id: str, email: str) -> dict[str, Any]:
    """DESIGN.md's example `order.paid` under another id and customer, paid by card."""
    body = copy.deepcopy(EXAMPLE_EVENT)
    body["id"] = f"evt_{order_id}"
    order = body["order"]
    order["id"] = order["number"] = order_id
    order["customer"]["email"] = email
    order["payment"] = {
        "method": "card",
        "amount": order["total"],
        "paid_at": order["paid_at"],
        "reference": f"ch_{order_id}",
    }
    return body


async def ingest(env: Env, shop: Shop, body: dict[str, Any]) -> tuple[int, ...]:
    """The event recorded as the ingest endpoint records it; the documents to enqueue."""
    raw = json.dumps(body).encode()
    async with env.pool.acquire() as conn:
        recorded = await orders.record_event(
            conn, shop.ingest, parse_event(raw), body_sha256=hashlib.sha256(raw).digest()
        )
    return recorded.enqueue


async def settle_order(env: Env, poster: Poster, shop: Shop, order_id: str, email: str) -> None:
    """One order ingested and every document it makes posted, each as soon as it is due
    (a payment when its invoice's posting releases it)."""
    due = list(await ingest(env, shop, paid_event(order_id, email)))
    if not due:
        raise SystemExit(f"order {order_id}: ingest enqueued nothing")
    while due:
        document_id = due.pop(0)
        result = await post_document(poster, document_id, now=datetime.now(UTC))
        if result.outcome is not Outcome.POSTED:
            raise SystemExit(f"order {order_id}, document {document_id}: {result.outcome}")
        due.extend(ready.id for ready in result.released)


async def confirm(env: Env, poster: Poster, shop: Shop) -> Confirmed:
    """The confirmation cron's service, run as the cron runs it (every `CONFIRM_EVERY` s)
    until it has confirmed: a run that finds the organisation's budget busy with posting
    leaves it alone (no call) for the next. Its clock is put `CONFIRM_AFTER` ahead, the
    wait after which it first asks about a payment: this counts calls, it does not wait."""
    before, started = await env.calls(shop.organization_id), time.perf_counter()
    skipped = 0
    while True:
        later = datetime.now(UTC) + payment_status.CONFIRM_AFTER
        counts = await payment_status.confirm_payments(poster, now=later)
        if not counts["skipped"]:
            break
        skipped += 1
        if skipped * payment_status.CONFIRM_EVERY > CONFIRM_PATIENCE:
            raise SystemExit(f"the payments were not confirmed in {CONFIRM_PATIENCE} s")
        await asyncio.sleep(payment_status.CONFIRM_EVERY)
    calls = await env.calls(shop.organization_id) - before
    return Confirmed(calls, skipped, time.perf_counter() - started)


async def check_settled(env: Env, shop: Shop) -> None:
    """Every order's invoice booked and its payment, the order's total, confirmed "Paid"
    by Dinero's status, and Dinero holding exactly one payment per invoice."""
    rows = await env.pool.fetch(
        "SELECT kind, state, backend_status, amount FROM documents WHERE shop_id = $1",
        shop.ingest.id,
    )
    invoices = [r for r in rows if r["kind"] == "invoice"]
    paid = [r for r in rows if r["kind"] == "payment"]
    wrong = [
        dict(r)
        for r in rows
        if r["state"] != "posted"
        or (r["kind"] == "payment" and (r["backend_status"] != "Paid" or r["amount"] != TOTAL))
    ]
    answer = await env.http.get(
        f"{env.sandbox}/_sandbox/organizations/{shop.organization_id}/payments"
    )
    answer.raise_for_status()
    stored = answer.json()
    per_document = Counter(p["DocumentGuid"] for p in stored)
    if wrong or len(paid) != len(invoices) or len(per_document) != len(invoices):
        raise SystemExit(f"not every order booked and paid once: {wrong or per_document}")
    if any(n != 1 for n in per_document.values()):
        raise SystemExit(f"an invoice with more than one payment in Dinero: {per_document}")


async def paid_batch(
    env: Env, log: CallLog, name: str, *, returning: bool, count: int = BATCH
) -> Batch:
    """`count` paid orders posted and confirmed, after a first one (posted and confirmed
    apart) that makes the contact known (returning) or lists the organisation's contacts."""
    poster = replace(direct_poster(env), on_call=log)
    shop = await settling_shop(env, name)
    tag = "ret" if returning else "new"

    def email(n: int) -> str:
        return "karen@returning.dk" if returning else f"c{n}@{tag}.dk"

    await settle_order(env, poster, shop, f"{tag}-0", email(0))
    await confirm(env, poster, shop)
    before, endpoints = await env.calls(shop.organization_id), Counter(log.counts)
    for n in range(1, count + 1):
        await settle_order(env, poster, shop, f"{tag}-{n}", email(n))
    posting, split = await env.calls(shop.organization_id) - before, log.since(endpoints)
    confirmed = await confirm(env, poster, shop)
    await check_settled(env, shop)
    return Batch(count, posting, confirmed.calls, split, confirmed)


async def quiet_batch(env: Env, log: CallLog, *, count: int = 5) -> Batch:
    """A returning customer's paid orders, each confirmed before the next comes in: a shop
    with at most one order between two confirmation runs."""
    poster = replace(direct_poster(env), on_call=log)
    shop = await settling_shop(env, "Paid, quiet")
    await settle_order(env, poster, shop, "quiet-0", "karen@quiet.dk")
    await confirm(env, poster, shop)
    posting = confirming = 0
    for n in range(1, count + 1):
        before = await env.calls(shop.organization_id)
        await settle_order(env, poster, shop, f"quiet-{n}", "karen@quiet.dk")
        posting += await env.calls(shop.organization_id) - before
        confirming += (await confirm(env, poster, shop)).calls
    await check_settled(env, shop)
    return Batch(count, posting, confirming, Counter())


async def voucher_batch(env: Env, log: CallLog, *, count: int = BATCH) -> tuple[int, Batch]:
    """A voucher shop's paid orders: the first one's calls, and the batch after it."""
    poster = replace(direct_poster(env), on_call=log)
    shop = await settling_shop(env, "Vouchers", kind="voucher")
    await settle_order(env, poster, shop, "vou-0", "c0@vouchers.dk")
    first = await env.calls(shop.organization_id)
    endpoints = Counter(log.counts)
    for n in range(1, count + 1):
        await settle_order(env, poster, shop, f"vou-{n}", f"c{n}@vouchers.dk")
    posting = await env.calls(shop.organization_id) - first
    answer = await env.http.get(
        f"{env.sandbox}/_sandbox/organizations/{shop.organization_id}/vouchers"
    )
    answer.raise_for_status()
    vouchers = answer.json()
    booked = [
        v
        for v in vouchers
        if v["Status"] == "Booked" and v["FileName"] and Decimal(str(v["TotalInclVat"])) == TOTAL
    ]
    settled = {posting_["AccountNumber"] for v in booked for posting_ in _postings(v)}
    if len(vouchers) != count + 1 or len(booked) != count + 1 or ACCOUNTS["card"] not in settled:
        raise SystemExit(f"not every order one booked voucher with its PDF: {vouchers}")
    return first, Batch(count, posting, 0, log.since(endpoints))


def _postings(voucher: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for line in voucher["Lines"] for p in line["Postings"]]


def _split(batch: Batch) -> str:
    return ", ".join(
        f"{endpoint} {n / batch.orders:.2f}" for endpoint, n in sorted(batch.endpoints.items())
    )


async def bench_settlement(env: Env) -> None:
    print("(b) Dinero calls per booked-and-paid invoice (ingested by record_event, card payment;")
    print(f"    Dinero's payment status confirmed by confirm_payments after {BATCH} orders)")
    log = CallLog()
    targets = {True: "3.0", False: "4.0"}
    for returning, label, name in (
        (True, "returning", "Paid returning"),
        (False, "new", "Paid new"),
    ):
        batch = await paid_batch(env, log, name, returning=returning)
        print(
            f"    {label + ' customer:':<19} {_figure(batch)} calls per invoice "
            f"(target <= {targets[returning]})"
        )
        print(f"        per order, posting: {_split(batch)}")
        confirmed = batch.confirmation
        assert confirmed is not None
        waited = (
            f", after {confirmed.skipped} run(s) that left the organisation alone while "
            f"posting had used its budget ({confirmed.seconds:.0f} s)"
            if confirmed.skipped
            else ""
        )
        print(f"        confirmation: {confirmed.calls} call(s) for {batch.orders} orders{waited}")
    quiet = await quiet_batch(env, log)
    print(
        f"    quiet shop (orders over a minute apart), returning customer: "
        f"{_figure(quiet)} calls per invoice"
    )
    first, vouchers = await voucher_batch(env, log)
    print("(b) Dinero calls per booked voucher, paid order (voucher mode, for information)")
    print(f"    {vouchers.per_order:.2f} calls per voucher (the organisation's first: {first})")
    print(f"        per order: {_split(vouchers)}")


def _figure(batch: Batch) -> str:
    total = batch.per_order + batch.confirmation_per_order
    return f"{batch.per_order:.2f} + {batch.confirmation_per_order:.2f} confirmation = {total:.2f}"

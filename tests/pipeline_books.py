"""The proof of `tests/test_pipeline_faults.py`: what its shops are set up as and what they
planned, and the comparison of that plan with what Dinero holds once everything has settled.

Invoice mode: every order owed an invoice has exactly one booked invoice with its total, in
its shop's organisation; every refund (and the cancellation of an invoiced order) exactly
one credit note for it. When the shop registers payments and the order is paid: exactly one
payment on the invoice, of the order's total, on the deposit account of the payment method
(else the shop's default), and Dinero shows the invoice as paid (nothing remaining); each
credit note likewise exactly one payment of its total; and the gateway's payment document
says "Paid", which only `documents.confirm_payments` reading Dinero writes. A shop that does
not register payments, or an order never paid, has no payment at all.

Voucher mode: every order owed one has exactly one booked manual voucher with its external
reference, its PDF attached under the name derived from that reference, lines whose postings
balance, and the money side — exactly the order's total — on one settlement account: the
payment method's deposit account when the order was paid when the voucher was made, else
the receivable account; with the shop's own invoice number in every line's text when the
shop sent one. Each refund (and a cancellation) one reversing voucher crediting that account
its total. An order whose voucher was booked against the receivable account and that was
paid later: one payment voucher moving its total to the payment method's deposit account
(none, or a cancelled one, otherwise). Voucher mode makes no payments and no invoices.

And nothing in Dinero that no order asked for: no extra invoice, credit note, payment or
voucher; one contact per customer; gapless number series.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg

from gateway.db import Pool
from gateway.secret import Secret
from tenants.orders.documents import CANCEL_REF, ORDER_PAYMENT, SETTLEMENT_REF
from tenants.outbox.identity import external_reference

# The sandbox's standard chart: its deposit accounts, and Debitorer (no VAT).
BANK, CLEARING, MOBILEPAY = 55000, 55010, 55020
RECEIVABLE = 5800
SETTLEMENT_ACCOUNTS = frozenset({BANK, CLEARING, MOBILEPAY, RECEIVABLE})
PAID = "Paid"
UNPAID = frozenset({"Booked", "Overdue"})  # a booked sales document's status, nothing paid


# --- what the shops planned ------------------------------------------------------------------


@dataclass(frozen=True)
class ShopUnderTest:
    id: UUID
    secret: Secret = field(repr=False)
    organization_id: int
    trigger: str
    document_kind: str = "invoice"
    register_payments: bool = False
    payment_accounts: Mapping[str, int] = field(default_factory=dict)
    receivable_account: int | None = None

    def deposit_account(self, method: str | None) -> int:
        """Where money paid with `method` goes: the method's account, else the default."""
        account = self.payment_accounts.get(method) if method else None
        return self.payment_accounts["default"] if account is None else account


@dataclass(frozen=True)
class Customer:
    body: dict[str, Any]
    treatment: str  # domestic | eu_private | eu_business | export

    @property
    def key(self) -> str:
        """Whom Dinero should hold as one contact: by VAT number, else by e-mail."""
        key: str = self.body["vat_number"] or self.body["email"]
        return key

    @property
    def vat_rate(self) -> str:
        return "0.25" if self.treatment in ("domestic", "eu_private") else "0"


@dataclass(frozen=True)
class PlannedRefund:
    id: str
    total: Decimal
    method: str | None = None  # of the refund's own `payment`, when its event has one


@dataclass
class PlannedOrder:
    shop: ShopUnderTest
    external_id: str
    customer: Customer
    total: Decimal
    # posted | unpaid (its trigger never met) | cancelled_early (before its trigger) |
    # cancelled_late (after it: either nothing reached Dinero, or an invoice and its full
    # credit note did, depending on whether a worker had begun on the invoice)
    fate: str
    paid: bool = True  # an `order.paid` came (a `created` shop's order may be posted unpaid)
    method: str | None = None  # of the order's `payment`; None when its events carry none
    invoice_number: str | None = None  # the shop's own invoice, sent with a PDF
    # Its `order.paid` is sent a while after `order.created`, so a worker may have booked
    # its voucher against the receivable account in between (a `created` voucher shop).
    pays_later: bool = False
    refunds: list[PlannedRefund] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    repeats: set[int] = field(default_factory=set)  # indexes of events delivered twice

    @property
    def reference(self) -> str:
        """The external reference of the order's own document: invoice or voucher."""
        kind = self.shop.document_kind
        return external_reference(self.shop.id, self.external_id, kind, seq=0)

    def credits(self) -> dict[str, tuple[Decimal, str | None]]:
        """What is credited (or reversed), by source: (total, how the money went back)."""
        if self.fate == "cancelled_late":
            return {CANCEL_REF: (self.total, self.method)}
        return {refund.id: (refund.total, refund.method or self.method) for refund in self.refunds}


# --- what Dinero holds -----------------------------------------------------------------------


@dataclass(frozen=True)
class Books:
    """What one organisation holds in Dinero, as the sandbox lists it."""

    invoices: list[dict[str, Any]]
    credit_notes: list[dict[str, Any]]
    payments: list[dict[str, Any]]
    vouchers: list[dict[str, Any]]


class Held:
    """Every organisation's books, indexed by (organisation, external reference), payments
    by (organisation, the guid of the document paid)."""

    def __init__(self, books: dict[int, Books]) -> None:
        self.books = books
        self.invoices: dict[tuple[int, str], list[dict[str, Any]]] = defaultdict(list)
        self.notes: dict[tuple[int, str], list[dict[str, Any]]] = defaultdict(list)
        self.vouchers: dict[tuple[int, str], list[dict[str, Any]]] = defaultdict(list)
        self.payments: dict[tuple[int, str], list[dict[str, Any]]] = defaultdict(list)
        for organization, held in books.items():
            for invoice in held.invoices:
                self.invoices[organization, invoice["ExternalReference"]].append(invoice)
            for note in held.credit_notes:
                self.notes[organization, note["ExternalReference"]].append(note)
            for voucher in held.vouchers:
                self.vouchers[organization, voucher["ExternalReference"]].append(voucher)
            for payment in held.payments:
                self.payments[organization, str(payment["DocumentGuid"])].append(payment)

    def count(self, what: str) -> int:
        return sum(len(getattr(held, what)) for held in self.books.values())


def amount(value: Any) -> Decimal:
    return Decimal(str(value))


# --- the comparison --------------------------------------------------------------------------


async def check_books(
    pool: Pool, planned: list[PlannedOrder], books: dict[int, Books]
) -> Counter[str]:
    """Fails on the first difference between what the shops sent and what Dinero holds;
    answers what was found owed, by kind (and vouchers balanced against a receivable)."""
    await check_no_failures(pool)
    held = Held(books)
    owed: Counter[str] = Counter()
    contacts: dict[tuple[int, str], set[str]] = defaultdict(set)
    for order in planned:
        documents = await pool.fetch(
            "SELECT d.kind, d.seq, d.source_ref, d.external_reference, d.state, d.step, "
            "d.backend_status, d.settlement_account, d.amount, d.file_name FROM documents d "
            "JOIN orders o ON o.id = d.order_id WHERE o.shop_id = $1 AND o.external_id = $2",
            order.shop.id,
            order.external_id,
        )
        if order.shop.document_kind == "voucher":
            check_voucher_order(order, documents, held, owed)
        else:
            check_invoice_order(order, documents, held, owed, contacts)

    # Nothing in Dinero that no order asked for.
    assert held.count("invoices") == owed["invoice"]
    assert held.count("credit_notes") == owed["credit_note"]
    assert held.count("payments") == owed["payment"]
    assert held.count("vouchers") == owed["voucher"]
    # One contact per customer in each organisation, however many orders, shops and workers.
    assert {key: guids for key, guids in contacts.items() if len(guids) > 1} == {}
    for organization, books_of in books.items():
        # Invoices and credit notes share one number series per organisation: 1..n, each
        # once; manual vouchers have a series of their own.
        sales = [*books_of.invoices, *books_of.credit_notes]
        for key, series in (("Number", sales), ("VoucherNumber", books_of.vouchers)):
            numbers = Counter(d[key] for d in series)
            assert sorted(numbers) == list(range(1, len(numbers) + 1)), (organization, key)
            assert max(numbers.values(), default=1) == 1, (organization, key)
    return owed


async def check_no_failures(pool: Pool) -> None:
    failed = await pool.fetch(
        "SELECT id, kind, last_error_code, last_error FROM documents WHERE state = 'failed'"
    )
    assert not failed, [dict(row) for row in failed]
    # No attempt ended in an exception posting does not expect, no worker lost a lease, and
    # no document was booked with a total other than the shop's.
    surprises = await pool.fetch(
        "SELECT document_id, kind, message FROM events "
        "WHERE kind IN ('document.lease_expired', 'document.total_mismatch') "
        "OR (kind = 'document.retrying' AND data->>'code' = 'internal')"
    )
    assert not surprises, [dict(row) for row in surprises]


def _by_source(documents: list[asyncpg.Record], where: str, kind: str) -> dict[str, Any]:
    """The order's documents of `kind` other than its own (its invoice or voucher, seq 0),
    by source; at most one per source."""
    found = [d for d in documents if d["kind"] == kind and d["source_ref"] is not None]
    sources = Counter(d["source_ref"] for d in found)
    assert max(sources.values(), default=1) == 1, f"{where}: {kind} {sources}"
    return {d["source_ref"]: d for d in found}


def _nothing_reached_dinero(
    order: PlannedOrder,
    documents: list[asyncpg.Record],
    found: list[dict[str, Any]],
    credited: dict[tuple[int, str], list[dict[str, Any]]],
    rows: dict[str, Any],
    where: str,
) -> bool:
    """True for an order that owes nothing in Dinero (after checking that it holds none)."""
    if order.fate in ("unpaid", "cancelled_early"):
        assert not found and not documents, where
        return True
    if order.fate == "cancelled_late" and not found:
        # Cancelled before a worker began on the invoice: nothing went to Dinero.
        assert {d["state"] for d in documents} == {"cancelled"}, where
        organization = order.shop.organization_id
        assert not any(credited.get((organization, r["external_reference"])) for r in rows.values())
        return True
    return False


def check_invoice_order(
    order: PlannedOrder,
    documents: list[asyncpg.Record],
    held: Held,
    owed: Counter[str],
    contacts: dict[tuple[int, str], set[str]],
) -> None:
    organization = order.shop.organization_id
    where = f"order {order.external_id} of shop {order.shop.id} ({order.fate})"
    notes = _by_source(documents, where, "credit_note")
    payments = _by_source(documents, where, "payment")
    assert not any(d["kind"] == "voucher" for d in documents), where
    found = held.invoices.get((organization, order.reference), [])
    if _nothing_reached_dinero(order, documents, found, held.notes, notes, where):
        return
    assert len(found) == 1, f"{where}: {len(found)} invoices"
    [invoice] = found
    owed["invoice"] += 1
    assert invoice["Status"] == "Booked", where
    assert amount(invoice["TotalInclVat"]) == order.total, where
    contacts[organization, order.customer.key].add(invoice["ContactGuid"])

    credits = order.credits()
    assert sorted(notes) == sorted(credits), where
    # What was paid, or paid back: the document in Dinero, its total, the method.
    settled = {ORDER_PAYMENT: (invoice, order.total, order.method)}
    for source, (total, method) in credits.items():
        found_notes = held.notes.get((organization, notes[source]["external_reference"]), [])
        assert len(found_notes) == 1, f"{where}, credit {source}: {len(found_notes)} notes"
        [note] = found_notes
        owed["credit_note"] += 1
        assert (note["CreditNoteFor"], note["Status"]) == (invoice["Guid"], "Booked"), where
        assert amount(note["TotalInclVat"]) == total, f"{where}, credit {source}"
        settled[f"refund:{source}"] = (note, total, method)

    registers = order.shop.register_payments and order.paid
    assert sorted(payments) == (sorted(settled) if registers else []), where
    for source, (document, total, method) in settled.items():
        paid = held.payments.get((organization, str(document["Guid"])), [])
        if not registers:
            assert not paid, f"{where}, {source}: {paid}"
            assert document["PaymentStatus"] in UNPAID, f"{where}, {source}"
            continue
        assert len(paid) == 1, f"{where}, {source}: {len(paid)} payments"
        [payment] = paid
        row = payments[source]
        account = order.shop.deposit_account(method)
        owed["payment"] += 1
        assert payment["ExternalReference"] == row["external_reference"], where
        assert (amount(payment["Amount"]), payment["DepositAccountNumber"]) == (total, account), (
            f"{where}, {source}: {payment}"
        )
        assert payment["RemainderIsFee"] is False, where
        # Nothing remains to be paid (or paid back), as Dinero sees it, and the gateway
        # says so because Dinero did.
        assert document["PaymentStatus"] == PAID, f"{where}, {source}"
        assert (row["state"], row["backend_status"]) == ("posted", PAID), f"{where}, {source}"
        assert (row["amount"], row["settlement_account"]) == (total, account), where


def check_voucher_order(
    order: PlannedOrder, documents: list[asyncpg.Record], held: Held, owed: Counter[str]
) -> None:
    organization = order.shop.organization_id
    shop = order.shop
    where = f"order {order.external_id} of voucher shop {shop.id} ({order.fate})"
    reversals = _by_source(documents, where, "voucher")
    settlement = reversals.pop(SETTLEMENT_REF, None)
    kinds = {d["kind"] for d in documents}
    assert kinds <= {"voucher"}, f"{where}: {kinds}"  # no invoice, credit note or payment
    found = held.vouchers.get((organization, order.reference), [])
    if _nothing_reached_dinero(order, documents, found, held.vouchers, reversals, where):
        return
    assert len(found) == 1, f"{where}: {len(found)} vouchers"
    [own] = [d for d in documents if d["seq"] == 0]
    # Balanced against the money: the deposit account when the order was paid as the
    # voucher was made (always so for a `paid` shop), else the receivable account.
    accounts = {shop.deposit_account(order.method)} if order.paid else set()
    if shop.trigger == "created":
        accounts.add(RECEIVABLE)
    check_voucher(found[0], own, order, total=order.total, accounts=accounts, where=where)
    owed["voucher"] += 1
    if own["settlement_account"] == RECEIVABLE and order.paid:
        # Booked while unpaid, paid later: a payment voucher moves the money from the
        # receivable account to the payment method's deposit account.
        assert settlement is not None, f"{where}: paid later, but nothing clears 5800"
        found = held.vouchers.get((organization, settlement["external_reference"]), [])
        assert len(found) == 1, f"{where}, payment: {len(found)} vouchers"
        check_payment_voucher(found[0], settlement, shop.deposit_account(order.method), where)
        owed["voucher"] += 1
        owed["voucher_receivable_paid_later"] += 1
    elif settlement is not None:
        # Paid before a worker made the voucher after all: nothing to move.
        assert settlement["state"] == "cancelled", f"{where}: {dict(settlement)}"
        assert not held.vouchers.get((organization, settlement["external_reference"])), where
    elif own["settlement_account"] == RECEIVABLE:
        owed["voucher_receivable"] += 1

    credits = order.credits()
    assert sorted(reversals) == sorted(credits), where
    for source, (total, method) in credits.items():
        row = reversals[source]
        found = held.vouchers.get((organization, row["external_reference"]), [])
        assert len(found) == 1, f"{where}, credit {source}: {len(found)} vouchers"
        accounts = {shop.deposit_account(method)}
        check_voucher(
            found[0], row, order, total=total, accounts=accounts, where=f"{where}, {source}"
        )
        owed["voucher"] += 1


def check_payment_voucher(
    voucher: dict[str, Any], row: asyncpg.Record, deposit: int, where: str
) -> None:
    """The payment of an order booked against the receivable account: all of it moved to
    the deposit account, no VAT."""
    assert voucher["Status"] == "Booked", where
    assert (row["state"], row["settlement_account"]) == ("posted", deposit), where
    assert voucher["FileGuid"] and voucher["FileName"] == row["file_name"], where
    moved: dict[int, Decimal] = defaultdict(Decimal)
    for line in voucher["Lines"]:
        for posting in line["Postings"]:
            moved[posting["AccountNumber"]] += amount(posting["Amount"])
    assert dict(moved) == {deposit: row["amount"], RECEIVABLE: -row["amount"]}, where


def check_voucher(
    voucher: dict[str, Any],
    row: asyncpg.Record,
    order: PlannedOrder,
    *,
    total: Decimal,
    accounts: set[int],
    where: str,
) -> None:
    """One booked voucher with its PDF, balanced, moving `total` on one of `accounts`: in
    (debit) for the order's own voucher, out (credit) for a reversing one."""
    assert voucher["Status"] == "Booked", where
    assert (row["state"], row["step"], row["backend_status"]) == ("posted", "booked", "Booked")
    assert voucher["FileGuid"], where
    assert voucher["FileName"] == row["file_name"] == f"{row['external_reference']}.pdf", where
    account = row["settlement_account"]
    assert account in accounts, f"{where}: settled on {account}, not one of {accounts}"
    postings = [
        (posting["AccountNumber"], amount(posting["Amount"]))
        for line in voucher["Lines"]
        for posting in line["Postings"]
    ]
    assert sum((a for _, a in postings), Decimal(0)) == 0, f"{where}: {postings}"
    moved = sum((a for number, a in postings if number == account), Decimal(0))
    assert moved == (-total if row["seq"] else total), f"{where}: {total} {dict(row)} {postings}"
    others = {number for number, _ in postings if number != account} & SETTLEMENT_ACCOUNTS
    assert not others, f"{where}: {postings}"
    for line in voucher["Lines"]:
        assert account in (line["AccountNumber"], line["BalancingAccountNumber"]), where
        if order.invoice_number:
            assert order.invoice_number in line["Description"], f"{where}: {line}"

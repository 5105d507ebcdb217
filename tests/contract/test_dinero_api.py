"""`DineroClient` against the sandbox's Dinero API: documents, their numbers and totals,
optimistic concurrency, idempotent creates, the rate limit and injected faults."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from uuid import uuid4

import httpx
import pytest

from gateway.dinero.errors import (
    TIMESTAMP_OUTDATED,
    NotFound,
    RateLimited,
    ServerError,
    TimestampOutdated,
    Uncertain,
    ValidationFailed,
)
from gateway.dinero.models import CreditNoteCreate, InvoiceLine
from gateway.dinero.query import contains, query_filter
from gateway.dinero.sales import InvoiceTotals
from tests.contract.conftest import (
    OTHER_PRO_ORG,
    PRO_ORG,
    Contract,
    a_contact,
    an_invoice,
    line,
    utcnow,
)

CENT = Decimal("0.01")
# DINERO.md's standard chart: the line's account decides its VAT.
VAT_RATE_OF_ACCOUNT = {
    1000: Decimal("0.25"),  # sales with VAT (U25)
    1100: Decimal("0"),  # EU goods (UEUV)
    1255: Decimal("0"),  # export goods (UVV)
    1350: Decimal("0.25"),  # freight (U25)
}


@dataclass(frozen=True)
class Expected:
    excl_vat: Decimal
    vat: Decimal
    incl_vat: Decimal
    line_totals: tuple[Decimal, ...]  # as entered: net, or gross with ShowLinesInclVat


def cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def expected_totals(lines: Sequence[InvoiceLine], *, lines_incl_vat: bool) -> Expected:
    """The rule in `sandbox/money.py`'s docstring, written again from the text:
    lines rounded half-up to the øre, VAT once per document and rate."""
    totals = tuple(
        cents(item.base_amount_value * item.quantity * (1 - item.discount / 100)) for item in lines
    )
    by_rate: dict[Decimal, Decimal] = {}
    for item, total in zip(lines, totals, strict=True):
        rate = VAT_RATE_OF_ACCOUNT[item.account_number]
        by_rate[rate] = by_rate.get(rate, Decimal(0)) + total
    if lines_incl_vat:
        vat = sum((cents(gross * r / (1 + r)) for r, gross in by_rate.items()), Decimal(0))
        incl = sum(totals, Decimal(0))
        return Expected(incl - vat, vat, incl, totals)
    vat = sum((cents(net * r) for r, net in by_rate.items()), Decimal(0))
    excl = sum(totals, Decimal(0))
    return Expected(excl, vat, excl + vat, totals)


def assert_totals(totals: InvoiceTotals, expected: Expected) -> None:
    assert (totals.total_excl_vat, totals.total_vat, totals.total_incl_vat) == (
        expected.excl_vat,
        expected.vat,
        expected.incl_vat,
    )
    entered = tuple(
        read.total_amount_incl_vat if totals.show_lines_incl_vat else read.total_amount
        for read in totals.lines
    )
    assert entered == expected.line_totals


# -- the document lifecycle ----------------------------------------------------------------


async def test_contact_invoice_credit_note_lifecycle(contract: Contract) -> None:
    dinero = await contract.dinero_client()

    # A contact with our guid, found again by VAT number and by e-mail (a `'` in the
    # address proves the queryFilter quoting round-trips).
    contact = a_contact(email="o'brien@kunde.test")
    assert contact.contact_guid is not None
    assert await dinero.create_contact(PRO_ORG, contact) == contact.contact_guid
    by_vat = await dinero.find_contacts(PRO_ORG, vat_number="DK12345678")
    by_email = await dinero.find_contacts(PRO_ORG, email="o'brien@kunde.test")
    assert [c.contact_guid for c in by_vat] == [contact.contact_guid]
    assert [c.contact_guid for c in by_email] == [contact.contact_guid]
    assert by_email[0].name == "Kunde ApS"
    assert await dinero.find_contacts(PRO_ORG, email="nobody@kunde.test") == []

    # An invoice with our guid and the order's reference.
    lines = (line("100.00", "2"), line("39.20", account=1350, description="Fragt"))
    invoice = an_invoice(contact.contact_guid, *lines, external_reference="shop-1:order-1001")
    assert invoice.guid is not None
    created = await dinero.create_invoice(PRO_ORG, invoice)
    assert created.guid == invoice.guid
    assert created.timestamp

    found = await dinero.find_invoices(PRO_ORG, external_reference="shop-1:order-1001")
    assert [(s.guid, s.status, s.number) for s in found] == [(invoice.guid, "Draft", None)]

    draft = await dinero.get_invoice(PRO_ORG, invoice.guid)
    assert (draft.status, draft.number, draft.timestamp) == ("Draft", None, created.timestamp)
    assert draft.is_draft
    assert draft.contact_guid == contact.contact_guid
    assert draft.external_reference == "shop-1:order-1001"

    preview = await dinero.preview_invoice(PRO_ORG, invoice)
    expected = expected_totals(lines, lines_incl_vat=False)
    assert_totals(preview, expected)
    assert_totals(draft, expected)

    # Booking answers the booked invoice: its number and the timestamp payments need.
    booked = await dinero.book_invoice(PRO_ORG, invoice.guid, created.timestamp)
    assert booked.status == "Booked"
    assert booked.number is not None
    assert booked.timestamp and booked.timestamp != created.timestamp
    assert_totals(booked, expected)
    assert (await dinero.get_invoice(PRO_ORG, invoice.guid)).timestamp == booked.timestamp

    # A credit note for it, numbered from the same series.
    credited = (line("100.00"),)
    credit = CreditNoteCreate(
        guid=uuid4(),
        credit_note_for=invoice.guid,
        contact_guid=contact.contact_guid,
        external_reference="shop-1:order-1001:refund-1",
        product_lines=credited,
    )
    assert credit.guid is not None
    note_created = await dinero.create_credit_note(PRO_ORG, credit)
    assert note_created.guid == credit.guid
    assert note_created.timestamp
    note_draft = await dinero.get_credit_note(PRO_ORG, credit.guid)
    assert note_draft.credit_note_for == invoice.guid
    note = await dinero.book_credit_note(PRO_ORG, credit.guid, note_created.timestamp)
    assert note.status == "Booked"
    assert note.number == booked.number + 1
    found_notes = await dinero.find_credit_notes(
        PRO_ORG, external_reference="shop-1:order-1001:refund-1"
    )
    assert [(s.guid, s.number) for s in found_notes] == [(credit.guid, note.number)]

    # What the sandbox stored: exactly one of each, with these totals.
    invoices = await contract.stored(PRO_ORG, "invoices")
    assert [(i["Guid"], i["Number"], i["Status"]) for i in invoices] == [
        (str(invoice.guid), booked.number, "Booked")
    ]
    assert [invoices[0][k] for k in ("TotalExclVat", "TotalVat", "TotalInclVat")] == [
        expected.excl_vat,
        expected.vat,
        expected.incl_vat,
    ]
    notes = await contract.stored(PRO_ORG, "creditnotes")
    assert [(n["Guid"], n["CreditNoteFor"], n["Number"]) for n in notes] == [
        (str(credit.guid), str(invoice.guid), note.number)
    ]
    refund = expected_totals(credited, lines_incl_vat=False)
    assert [notes[0][k] for k in ("TotalExclVat", "TotalVat", "TotalInclVat")] == [
        refund.excl_vat,
        refund.vat,
        refund.incl_vat,
    ]
    assert await contract.stored(OTHER_PRO_ORG, "invoices") == []


async def test_a_stale_timestamp_is_code_58_and_a_fresh_one_books(contract: Contract) -> None:
    dinero = await contract.dinero_client()
    contact = await dinero.create_contact(PRO_ORG, a_contact())
    earlier = await dinero.create_invoice(PRO_ORG, an_invoice(contact))
    created = await dinero.create_invoice(PRO_ORG, an_invoice(contact))
    # A timestamp the organisation issued before this invoice's latest: as stale as any.
    assert earlier.timestamp and earlier.timestamp != created.timestamp

    with pytest.raises(TimestampOutdated) as raised:
        await dinero.book_invoice(PRO_ORG, created.guid, earlier.timestamp)
    assert (raised.value.status, raised.value.code) == (400, TIMESTAMP_OUTDATED)

    fresh = await dinero.get_invoice(PRO_ORG, created.guid)
    assert fresh.status == "Draft"
    assert fresh.timestamp is not None
    booked = await dinero.book_invoice(PRO_ORG, created.guid, fresh.timestamp)
    assert (booked.status, booked.number) == ("Booked", 1)


async def test_booking_a_booked_invoice_again_is_refused(contract: Contract) -> None:
    dinero = await contract.dinero_client()
    contact = await dinero.create_contact(PRO_ORG, a_contact())
    created = await dinero.create_invoice(PRO_ORG, an_invoice(contact))
    assert created.timestamp
    booked = await dinero.book_invoice(PRO_ORG, created.guid, created.timestamp)
    assert booked.timestamp

    with pytest.raises(ValidationFailed) as raised:
        await dinero.book_invoice(PRO_ORG, created.guid, booked.timestamp)
    assert not isinstance(raised.value, TimestampOutdated)
    assert [i["Number"] for i in await contract.stored(PRO_ORG, "invoices")] == [booked.number]


async def test_booking_under_a_chosen_number_refuses_a_taken_one(contract: Contract) -> None:
    dinero = await contract.dinero_client()
    contact = await dinero.create_contact(PRO_ORG, a_contact())
    first = await dinero.create_invoice(PRO_ORG, an_invoice(contact))
    second = await dinero.create_invoice(PRO_ORG, an_invoice(contact))
    assert first.timestamp and second.timestamp

    booked = await dinero.book_invoice(PRO_ORG, first.guid, first.timestamp, number=42)
    assert booked.number == 42
    with pytest.raises(ValidationFailed):
        await dinero.book_invoice(PRO_ORG, second.guid, second.timestamp, number=42)
    assert (await dinero.get_invoice(PRO_ORG, second.guid)).status == "Draft"


async def test_a_full_credit_note_generated_from_a_booked_invoice(contract: Contract) -> None:
    dinero = await contract.dinero_client()
    lines = (line("99.95", "2.5", discount="15"), line("39.20", account=1350))
    contact = await dinero.create_contact(PRO_ORG, a_contact())
    created = await dinero.create_invoice(PRO_ORG, an_invoice(contact, *lines))
    assert created.timestamp
    invoice = await dinero.book_invoice(PRO_ORG, created.guid, created.timestamp)
    assert invoice.timestamp

    generated = await dinero.generate_credit_note(PRO_ORG, invoice.guid, invoice.timestamp)
    note = await dinero.get_credit_note(PRO_ORG, generated.guid)

    assert (note.credit_note_for, note.contact_guid, note.status) == (
        invoice.guid,
        contact,
        "Draft",
    )
    assert_totals(note, expected_totals(lines, lines_incl_vat=False))
    assert note.timestamp == generated.timestamp


async def test_a_repeated_invoice_guid_is_a_duplicate_guid_refusal(contract: Contract) -> None:
    dinero = await contract.dinero_client()
    contact = await dinero.create_contact(PRO_ORG, a_contact())
    invoice = an_invoice(contact)
    await dinero.create_invoice(PRO_ORG, invoice)

    with pytest.raises(ValidationFailed) as raised:
        await dinero.create_invoice(PRO_ORG, invoice)
    assert raised.value.duplicate_guid
    assert len(await contract.stored(PRO_ORG, "invoices")) == 1


async def test_a_repeated_contact_guid_is_a_duplicate_guid_refusal(contract: Contract) -> None:
    dinero = await contract.dinero_client()
    contact = a_contact()
    await dinero.create_contact(PRO_ORG, contact)

    with pytest.raises(ValidationFailed) as raised:
        await dinero.create_contact(PRO_ORG, contact)
    assert raised.value.duplicate_guid
    assert len(await dinero.find_contacts(PRO_ORG, vat_number="DK12345678")) == 1


async def test_an_unrelated_refusal_is_not_a_duplicate_guid(contract: Contract) -> None:
    dinero = await contract.dinero_client()
    contact = await dinero.create_contact(PRO_ORG, a_contact())
    with pytest.raises(ValidationFailed) as raised:
        await dinero.create_invoice(PRO_ORG, an_invoice(contact, line("10.00", account=9999)))
    assert not raised.value.duplicate_guid
    assert raised.value.field_errors


async def test_a_deleted_draft_is_no_longer_found(contract: Contract) -> None:
    dinero = await contract.dinero_client()
    contact = await dinero.create_contact(PRO_ORG, a_contact())
    invoice = an_invoice(contact, external_reference="shop-1:order-gone")
    assert invoice.guid is not None
    created = await dinero.create_invoice(PRO_ORG, invoice)
    assert created.timestamp
    assert await dinero.find_invoices(PRO_ORG, external_reference="shop-1:order-gone")

    await dinero.delete_invoice(PRO_ORG, invoice.guid, created.timestamp)

    assert await dinero.find_invoices(PRO_ORG, external_reference="shop-1:order-gone") == []
    assert await contract.stored(PRO_ORG, "invoices") == []
    # The sandbox keeps a deleted draft's guid taken (and readable by it): a create repeated
    # with the same guid is refused as a duplicate, so a read-back must not take the
    # duplicate for a live draft.
    with pytest.raises(ValidationFailed) as raised:
        await dinero.create_invoice(PRO_ORG, invoice)
    assert raised.value.duplicate_guid


async def test_a_booked_invoice_cannot_be_deleted(contract: Contract) -> None:
    dinero = await contract.dinero_client()
    contact = await dinero.create_contact(PRO_ORG, a_contact())
    created = await dinero.create_invoice(PRO_ORG, an_invoice(contact))
    assert created.timestamp
    booked = await dinero.book_invoice(PRO_ORG, created.guid, created.timestamp)
    assert booked.timestamp

    with pytest.raises(ValidationFailed):
        await dinero.delete_invoice(PRO_ORG, created.guid, booked.timestamp)
    assert len(await contract.stored(PRO_ORG, "invoices")) == 1


async def test_contacts_are_listed_by_filter_and_by_change_time(contract: Contract) -> None:
    dinero = await contract.dinero_client()
    contact = a_contact(name="Garnbutikken Uldtotten")
    await dinero.create_contact(PRO_ORG, contact)
    await dinero.create_contact(PRO_ORG, a_contact(name="Anden Kunde"))
    now = utcnow()

    named = await dinero.list_contacts(
        PRO_ORG, query_filter=query_filter(contains("Name", "uldtotten"))
    )
    assert [c.contact_guid for c in named.items] == [contact.contact_guid]
    assert named.pagination.result == 1

    recent = await dinero.list_contacts(PRO_ORG, changes_since=now - timedelta(minutes=1))
    assert len(recent.items) == 2
    later = await dinero.list_contacts(PRO_ORG, changes_since=now + timedelta(hours=1))
    assert later.items == ()

    first_page = await dinero.list_contacts(PRO_ORG, page=0, page_size=1)
    second_page = await dinero.list_contacts(PRO_ORG, page=1, page_size=1)
    assert len(first_page.items) == len(second_page.items) == 1
    assert first_page.items[0].contact_guid != second_page.items[0].contact_guid


# -- money -----------------------------------------------------------------------------------

# Every VAT treatment we use, a fractional quantity, a discount, and two tiny U25 lines on
# which per-line VAT rounding (0.01 + 0.01) and per-document rounding (0.01) part ways.
MIXED_LINES = (
    line("99.95", "2.5", discount="15", description="Strømper, 15 % rabat"),
    line("0.02", description="Knap"),
    line("0.02", description="Knap"),
    line("125.00", "3", account=1100, description="Garn til EU"),
    line("49.99", account=1255, description="Garn til Norge"),
    line("39.20", account=1350, description="Fragt", unit="shipment"),
)


@pytest.mark.parametrize("lines_incl_vat", [False, True], ids=["net-lines", "gross-lines"])
async def test_totals_follow_the_money_rule(contract: Contract, lines_incl_vat: bool) -> None:
    dinero = await contract.dinero_client()
    contact = await dinero.create_contact(PRO_ORG, a_contact())
    invoice = an_invoice(contact, *MIXED_LINES, show_lines_incl_vat=lines_incl_vat)
    expected = expected_totals(MIXED_LINES, lines_incl_vat=lines_incl_vat)

    preview = await dinero.preview_invoice(PRO_ORG, invoice)
    created = await dinero.create_invoice(PRO_ORG, invoice)
    read = await dinero.get_invoice(PRO_ORG, created.guid)

    assert read.show_lines_incl_vat is lines_incl_vat
    assert_totals(preview, expected)
    assert_totals(read, expected)
    assert [
        (i["TotalExclVat"], i["TotalVat"], i["TotalInclVat"])
        for i in await contract.stored(PRO_ORG, "invoices")
    ] == [(expected.excl_vat, expected.vat, expected.incl_vat)]


async def test_vat_is_rounded_once_per_document_and_rate(contract: Contract) -> None:
    """DINERO.md leaves per-line or per-document rounding open; the sandbox's answer."""
    dinero = await contract.dinero_client()
    contact = await dinero.create_contact(PRO_ORG, a_contact())
    tiny = (line("0.02"), line("0.02"))
    totals = await dinero.preview_invoice(PRO_ORG, an_invoice(contact, *tiny))
    assert (totals.total_excl_vat, totals.total_vat, totals.total_incl_vat) == (
        Decimal("0.04"),
        Decimal("0.01"),  # per line it would be 0.01 + 0.01
        Decimal("0.05"),
    )


async def test_accounts_and_vat_types_describe_the_standard_chart(contract: Contract) -> None:
    dinero = await contract.dinero_client()

    entry = {a.account_number: a for a in await dinero.entry_accounts(PRO_ORG)}
    assert {n: entry[n].vat_code for n in (1000, 1100, 1255, 1350)} == {
        1000: "U25",
        1100: "UEUV",
        1255: "UVV",
        1350: "U25",
    }
    assert all(a.name for a in entry.values())

    deposit = await dinero.deposit_accounts(PRO_ORG)
    assert [a.account_number for a in deposit if a.is_default] == [55000]
    assert all(55000 <= a.account_number <= 55999 for a in deposit)

    rates = {v.vat_code: v.vat_rate for v in await dinero.vat_types(PRO_ORG)}
    assert {code: rates[code] for code in ("U25", "UEUV", "UVV")} == {
        "U25": Decimal("0.25"),
        "UEUV": Decimal(0),
        "UVV": Decimal(0),
    }
    # The rates this file's money rule assumes are the ones the organisation has.
    for number, rate in VAT_RATE_OF_ACCOUNT.items():
        code = entry[number].vat_code
        assert code is not None and rates[code] == rate


# -- the rate limit --------------------------------------------------------------------------


async def test_the_101st_call_in_a_minute_is_rate_limited_for_that_organisation_only(
    contract: Contract,
) -> None:
    dinero = await contract.dinero_client()
    for _ in range(100):
        await dinero.vat_types(PRO_ORG)

    with pytest.raises(RateLimited) as raised:
        await dinero.vat_types(PRO_ORG)
    assert raised.value.status == 429
    assert raised.value.retry_after > 0
    assert raised.value.is_transient
    assert "quota" in raised.value.message.lower()

    assert await dinero.vat_types(OTHER_PRO_ORG)
    assert await dinero.organizations()  # names no organisation: not limited


# -- faults ----------------------------------------------------------------------------------


async def test_a_failing_get_is_a_server_error(contract: Contract) -> None:
    dinero = await contract.dinero_client()
    await contract.faults(error_rate=1)
    with pytest.raises(ServerError) as raised:
        await dinero.get_invoice(PRO_ORG, uuid4())
    assert raised.value.status == 500


async def test_a_failing_post_is_uncertain_but_a_failing_preview_is_not(
    contract: Contract,
) -> None:
    dinero = await contract.dinero_client()
    contact = await dinero.create_contact(PRO_ORG, a_contact())
    await contract.faults(error_rate=1)

    with pytest.raises(Uncertain) as raised:
        await dinero.create_invoice(PRO_ORG, an_invoice(contact))
    assert raised.value.status == 500
    with pytest.raises(ServerError):  # a preview changes nothing, whatever its method
        await dinero.preview_invoice(PRO_ORG, an_invoice(contact))


async def test_a_create_whose_answer_was_lost_is_found_by_its_guid(contract: Contract) -> None:
    """The recovery the pipeline relies on: after `Uncertain`, read back by our guid, and a
    repeated create is refused as a duplicate, never stored twice."""
    dinero = await contract.dinero_client()
    contact = await dinero.create_contact(PRO_ORG, a_contact())
    invoice = an_invoice(contact)
    assert invoice.guid is not None
    await contract.faults(drop_after_commit_rate=1)

    with pytest.raises(Uncertain) as raised:
        await dinero.create_invoice(PRO_ORG, invoice)
    assert raised.value.status is None  # the status line came, the answer never did

    await contract.faults()
    stored = await dinero.get_invoice(PRO_ORG, invoice.guid)
    assert (stored.guid, stored.status) == (invoice.guid, "Draft")
    assert stored.external_reference == invoice.external_reference
    with pytest.raises(ValidationFailed) as again:
        await dinero.create_invoice(PRO_ORG, invoice)
    assert again.value.duplicate_guid
    assert len(await contract.stored(PRO_ORG, "invoices")) == 1


async def test_an_outage_is_a_server_error_for_reads_and_uncertain_for_writes(
    contract: Contract,
) -> None:
    dinero = await contract.dinero_client()
    contact = await dinero.create_contact(PRO_ORG, a_contact())
    await contract.faults(outage=True)

    with pytest.raises(ServerError) as raised:
        await dinero.entry_accounts(PRO_ORG)
    assert raised.value.status == 503
    with pytest.raises(ServerError):
        await dinero.organizations()
    # A 503 to a write cannot say whether it was applied, so the client may not assume.
    with pytest.raises(Uncertain):
        await dinero.create_invoice(PRO_ORG, an_invoice(contact))


async def test_an_answer_slower_than_the_timeout(contract: Contract) -> None:
    tokens = await contract.connect()
    impatient = contract.dinero(tokens, timeout=httpx.Timeout(5, read=0.05))
    contact = await impatient.create_contact(PRO_ORG, a_contact())
    await contract.faults(latency_ms=400)

    with pytest.raises(Uncertain) as uncertain:
        await impatient.create_invoice(PRO_ORG, an_invoice(contact))
    assert uncertain.value.status is None
    with pytest.raises(ServerError):
        await impatient.get_invoice(PRO_ORG, uuid4())


async def test_an_unknown_invoice_is_not_found(contract: Contract) -> None:
    dinero = await contract.dinero_client()
    with pytest.raises(NotFound):
        await dinero.get_invoice(PRO_ORG, uuid4())

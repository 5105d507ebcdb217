"""The Dinero client against respx: what each method sends, and how each outcome maps.

Every request the tests make is also checked against Dinero's OpenAPI description (when it is
beside the repository), and the happy paths check the mocked answers against it too, so the
bodies below are shapes Dinero really answers with.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import traceback
import uuid
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
import respx

from gateway.dinero.client import DineroClient
from gateway.dinero.contacts import Contact
from gateway.dinero.errors import (
    DEFAULT_RATE_LIMIT_RETRY,
    DineroError,
    Forbidden,
    NotFound,
    RateLimited,
    ServerError,
    TimestampOutdated,
    Unauthorized,
    Uncertain,
    ValidationFailed,
)
from gateway.dinero.jsonmoney import JsonValue, dumps
from gateway.dinero.models import (
    ContactCreate,
    CreditNoteCreate,
    InvoiceCreate,
    InvoiceLine,
    ManualVoucherCreate,
    ManualVoucherLine,
    PaymentCreate,
)
from gateway.dinero.organizations import Organization
from gateway.dinero.sales import Created
from gateway.dinero.transport import DEFAULT_TIMEOUT
from gateway.secret import Secret
from tests.contract.openapi import load_spec

BASE = "https://api.dinero.test"
TOKEN = "eyJ-access-token-that-must-never-show"
ORG = 42
GUID = uuid.UUID("3a315ad3-ddcc-419d-9fc5-219280ae4816")
# Dinero\'s file guids are plain strings; its own example is no UUID.
FILE_GUID = "web0crmck5v0ndcx3313g6zn61tc7wgc"
CONTACT_GUID = uuid.UUID("74ba828f-0b4b-49e1-b5c9-ef9675755556")
OTHER_GUID = uuid.UUID("69c2d72d-d3d2-401a-aa4d-b39ec4c8be26")
STAMP = "00000000020A5EA8"
NEW_STAMP = "00000000020A5EB0"

LINE = InvoiceLine(
    base_amount_value=Decimal("26.664"),
    quantity=Decimal("3"),
    account_number=1000,
    description="Sokker",
    unit="parts",
    line_type="Product",
)
INVOICE = InvoiceCreate(
    guid=GUID,
    contact_guid=CONTACT_GUID,
    external_reference="gw:1001",
    show_lines_incl_vat=True,
    product_lines=(LINE,),
)
PAYMENT = PaymentCreate(
    timestamp=STAMP,
    deposit_account_number=55000,
    description="Betaling",
    amount=Decimal("128.99"),
    external_reference="gw:pay:1001",
)

# Answers, shaped by Dinero's read models (all required properties present).
READ_LINE: dict[str, JsonValue] = {
    "Description": "Sokker",
    "AccountNumber": 1000,
    "Quantity": Decimal("3"),
    "BaseAmountValue": Decimal("26.664"),
    "BaseAmountValueInclVat": Decimal("33.33"),
    "TotalAmount": Decimal("79.99"),
    "TotalAmountInclVat": Decimal("99.99"),
    "Discount": Decimal("0"),
    "Unit": "parts",
    "LineType": "Product",
}
TOTALS: dict[str, JsonValue] = {
    "ShowLinesInclVat": True,
    "TotalExclVat": Decimal("79.99"),
    "TotalVatableAmount": Decimal("79.99"),
    "TotalInclVat": Decimal("99.99"),
    "TotalNonVatableAmount": Decimal("0.00"),
    "TotalVat": Decimal("20.00"),
    "Currency": "DKK",
    "ProductLines": [READ_LINE],
    "PaymentConditionNumberOfDays": 8,
    "Number": 0,
}
READ_INVOICE: dict[str, JsonValue] = TOTALS | {
    "Guid": str(GUID),
    "TimeStamp": NEW_STAMP,
    "Status": "Booked",
    "Number": 12,
    "ContactGuid": str(CONTACT_GUID),
    "ExternalReference": "gw:1001",
    "Date": "2026-11-24",
    "IsSentToDebtCollection": False,
    "IsMobilePayInvoiceEnabled": False,
    "IsPensoPayEnabled": False,
}
READ_CREDIT_NOTE: dict[str, JsonValue] = {
    key: value for key, value in TOTALS.items() if key != "PaymentConditionNumberOfDays"
} | {
    "Guid": str(OTHER_GUID),
    "TimeStamp": STAMP,
    "Status": "Draft",
    "Number": 0,
    "CreditNoteFor": str(GUID),
}
PAGINATION: dict[str, JsonValue] = {
    "MaxPageSizeAllowed": 1000,
    "PageSize": 100,
    "Result": 1,
    "ResultWithoutFilter": 1,
    "Page": 0,
}
READ_CONTACT: dict[str, JsonValue] = {
    "ContactGuid": str(CONTACT_GUID),
    "Name": "Karen Kunde",
    "CountryKey": "DK",
    "IsPerson": True,
    "IsMember": False,
    "UseCvr": False,
    "IsDebitor": True,
    "IsCreditor": False,
    "Email": "karen@example.dk",
}
LISTED_CONTACT: dict[str, JsonValue] = {
    "ContactGuid": str(CONTACT_GUID),
    "Name": "Karen Kunde",
    "Email": "karen@example.dk",
    "IsPerson": True,
    "CountryKey": "DK",
}
PAYMENTS: dict[str, JsonValue] = {
    "Payments": [
        {
            "Guid": str(OTHER_GUID),
            "Amount": Decimal("128.99"),
            "Description": "Betaling",
            "ExchangeRate": Decimal("100"),
            "ExternalReference": "gw:pay:1001",
            "DepositAccountNumber": 55000,
        }
    ],
    "RemainingAmount": Decimal("0.00"),
    "PaidAmount": Decimal("128.99"),
    "InvoiceTotalIncludingReminderExpenses": Decimal("128.99"),
    "RemainderAsFeeAvailable": False,
}
PAYMENT_CREATED: dict[str, JsonValue] = {
    "Guid": str(OTHER_GUID),
    "TimeStamp": NEW_STAMP,
    "RelatedVoucherGuid": str(CONTACT_GUID),
}
READ_VOUCHER: dict[str, JsonValue] = {
    "Guid": str(OTHER_GUID),
    "Timestamp": STAMP,
    "Status": "Draft",
    "VoucherDate": "2026-11-24",
    "FileGuid": FILE_GUID,
    "ExternalReference": "gw:v:1001",
    "TotalInclVat": Decimal("100.00"),
    "TotalExclVat": Decimal("80.00"),
    "Lines": [
        {
            "AmountExclVatValue": Decimal("80.00"),
            "AmountInclVatValue": Decimal("100.00"),
            "VatAmountValue": Decimal("20.00"),
            "AccountNumber": 55000,
            "BalancingAccountNumber": 1000,
            "BalancingAccountVatCode": "U25",
        }
    ],
}


def ok(body: JsonValue = None, status: int = 200) -> httpx.Response:
    if body is None:
        return httpx.Response(status)
    return httpx.Response(status, content=dumps(body), headers={"Content-Type": "application/json"})


def sent(route: respx.Route) -> httpx.Request:
    request: httpx.Request = route.calls.last.request
    return request


def body_of(request: httpx.Request) -> Any:
    assert request.headers["Content-Type"] == "application/json"
    return json.loads(request.content, parse_float=Decimal)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    """The mocked Dinero; afterwards every request sent is checked against Dinero's schemas."""
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        yield router
    spec = load_spec()
    if spec is not None:
        for call in router.calls:
            assert spec.validate_request(call.request) == [], call.request
        # A request refused as a whole (bad token) is sent all the same.
        for call in router.calls:
            assert call.request.headers["Authorization"] == f"Bearer {TOKEN}"
            assert call.request.headers["Accept"] == "application/json"


@pytest.fixture
def dinero(http: httpx.AsyncClient) -> DineroClient:
    return DineroClient(http, BASE + "/", Secret(TOKEN))


def assert_answers_fit_dinero(api: respx.MockRouter) -> None:
    spec = load_spec()
    if spec is not None:
        for call in api.calls:
            assert spec.validate_response(call.request, call.response) == [], call.request


# What each method sends and reads


async def test_organizations(api: respx.MockRouter, dinero: DineroClient) -> None:
    route = api.get("/v1/organizations").mock(
        return_value=ok([{"Id": 42, "Name": "Demo ApS", "IsPro": True}])
    )
    assert await dinero.organizations() == [Organization(id=42, name="Demo ApS", is_pro=True)]
    assert sent(route).url.params["fields"] == "Id,Name,IsPro"
    assert_answers_fit_dinero(api)


async def test_find_contacts_builds_an_escaped_eq_filter(
    api: respx.MockRouter, dinero: DineroClient
) -> None:
    route = api.get(f"/v1/{ORG}/contacts").mock(
        return_value=ok({"Collection": [LISTED_CONTACT], "Pagination": PAGINATION})
    )
    found = await dinero.find_contacts(ORG, vat_number="DK12345678", email="o'brien@example.dk")
    assert [contact.contact_guid for contact in found] == [CONTACT_GUID]
    params = sent(route).url.params
    assert params["queryFilter"] == "VatNumber eq 'DK12345678';Email eq 'o''brien@example.dk'"
    assert params["fields"].split(",")[:2] == ["ContactGuid", "Name"]
    assert (params["page"], params["pageSize"]) == ("0", "100")
    assert_answers_fit_dinero(api)


async def test_find_contacts_needs_a_key(api: respx.MockRouter, dinero: DineroClient) -> None:
    with pytest.raises(ValueError, match="at least one key"):
        await dinero.find_contacts(ORG)
    assert not api.calls


async def test_list_contacts_pages_and_changes_since(
    api: respx.MockRouter, dinero: DineroClient
) -> None:
    route = api.get(f"/v1/{ORG}/contacts").mock(
        return_value=ok({"Collection": [LISTED_CONTACT], "Pagination": PAGINATION})
    )
    copenhagen = dt.timezone(dt.timedelta(hours=1))
    page = await dinero.list_contacts(
        ORG,
        query_filter="Name contains 'Karen'",
        changes_since=dt.datetime(2026, 11, 24, 11, 30, tzinfo=copenhagen),
        page=2,
        page_size=50,
    )
    assert page.items == (
        Contact(
            contact_guid=CONTACT_GUID,
            name="Karen Kunde",
            email="karen@example.dk",
            is_person=True,
            country_key="DK",
        ),
    )
    assert page.pagination.result == 1
    params = sent(route).url.params
    assert params["changesSince"] == "2026-11-24T10:30:00Z"
    assert params["queryFilter"] == "Name contains 'Karen'"
    assert (params["page"], params["pageSize"]) == ("2", "50")
    with pytest.raises(ValueError, match="timezone"):
        await dinero.list_contacts(ORG, changes_since=dt.datetime(2026, 11, 24))  # noqa: DTZ001
    with pytest.raises(ValueError, match="page size"):
        await dinero.list_contacts(ORG, page_size=1001)
    assert len(route.calls) == 1
    assert_answers_fit_dinero(api)


async def test_get_and_create_contact(api: respx.MockRouter, dinero: DineroClient) -> None:
    api.get(f"/v1/{ORG}/contacts/{CONTACT_GUID}").mock(return_value=ok(READ_CONTACT))
    create = api.post(f"/v1/{ORG}/contacts").mock(
        return_value=ok({"ContactGuid": str(CONTACT_GUID)})
    )
    contact = await dinero.get_contact(ORG, CONTACT_GUID)
    assert (contact.name, contact.email) == ("Karen Kunde", "karen@example.dk")
    new = ContactCreate(
        name="Karen Kunde", country_key="DK", is_person=True, contact_guid=CONTACT_GUID
    )
    assert await dinero.create_contact(ORG, new) == CONTACT_GUID
    assert body_of(sent(create)) == new.to_json()
    assert_answers_fit_dinero(api)


async def test_create_invoice_sends_exact_decimals(
    api: respx.MockRouter, dinero: DineroClient
) -> None:
    route = api.post(f"/v1/{ORG}/invoices").mock(
        return_value=ok({"Guid": str(GUID), "TimeStamp": STAMP})
    )
    assert await dinero.create_invoice(ORG, INVOICE) == Created(guid=GUID, timestamp=STAMP)
    request = sent(route)
    assert b'"BaseAmountValue":26.664,' in request.content
    assert b'"Quantity":3,' in request.content
    assert body_of(request) == INVOICE.to_json()
    assert_answers_fit_dinero(api)


async def test_any_2xx_is_success(api: respx.MockRouter, dinero: DineroClient) -> None:
    api.post(f"/v1/{ORG}/invoices").mock(
        return_value=ok({"Guid": str(GUID), "TimeStamp": STAMP}, status=201)
    )
    assert (await dinero.create_invoice(ORG, INVOICE)).guid == GUID


async def test_preview_invoice_is_a_safe_post(api: respx.MockRouter, dinero: DineroClient) -> None:
    route = api.post(f"/v1/{ORG}/invoices/fetch").mock(
        return_value=ok(TOTALS | {"CanEnableMobilePayInvoice": False, "CanEnablePensoPay": False})
    )
    totals = await dinero.preview_invoice(ORG, INVOICE)
    assert (totals.total_incl_vat, totals.total_vat) == (Decimal("99.99"), Decimal("20.00"))
    assert body_of(sent(route)) == INVOICE.to_json()
    assert_answers_fit_dinero(api)
    # It creates nothing, so a lost answer is a plain server error, not an uncertain one.
    route.mock(side_effect=httpx.ReadTimeout)
    with pytest.raises(ServerError):
        await dinero.preview_invoice(ORG, INVOICE)
    route.mock(return_value=httpx.Response(500))
    with pytest.raises(ServerError):
        await dinero.preview_invoice(ORG, INVOICE)


async def test_get_find_book_and_delete_invoice(
    api: respx.MockRouter, dinero: DineroClient
) -> None:
    api.get(f"/v1/{ORG}/invoices/{GUID}").mock(return_value=ok(READ_INVOICE))
    find = api.get(f"/v1/{ORG}/invoices").mock(
        return_value=ok(
            {
                "Collection": [
                    {
                        "Guid": str(GUID),
                        "Number": 12,
                        "Status": "Booked",
                        "ExternalReference": "gw:1001",
                    }
                ],
                "Pagination": PAGINATION,
            }
        )
    )
    book = api.post(f"/v1/{ORG}/invoices/{GUID}/book").mock(return_value=ok(READ_INVOICE))
    delete = api.delete(f"/v1/{ORG}/invoices/{GUID}").mock(return_value=ok())

    invoice = await dinero.get_invoice(ORG, GUID)
    assert (invoice.number, invoice.timestamp, invoice.total_incl_vat) == (
        12,
        NEW_STAMP,
        Decimal("99.99"),
    )

    (summary,) = await dinero.find_invoices(ORG, external_reference="gw:1001")
    assert (summary.guid, summary.number, summary.status) == (GUID, 12, "Booked")
    params = sent(find).url.params
    assert params["queryFilter"] == "ExternalReference eq 'gw:1001'"
    assert params["fields"] == "Guid,Number,Status,ExternalReference"
    assert params["pageSize"] == "1000"

    booked = await dinero.book_invoice(ORG, GUID, STAMP)
    assert (booked.number, booked.timestamp) == (12, NEW_STAMP)
    assert body_of(sent(book)) == {"Timestamp": STAMP}
    await dinero.book_invoice(ORG, GUID, STAMP, number=12)
    assert body_of(sent(book)) == {"Timestamp": STAMP, "Number": 12}

    await dinero.delete_invoice(ORG, GUID, STAMP)
    assert body_of(sent(delete)) == {"Timestamp": STAMP}
    with pytest.raises(ValueError, match="Timestamp"):
        await dinero.book_invoice(ORG, GUID, "")
    assert_answers_fit_dinero(api)


async def test_list_invoices_and_credit_notes_by_status_and_changes(
    api: respx.MockRouter, dinero: DineroClient
) -> None:
    listed: dict[str, JsonValue] = {
        "Guid": str(GUID),
        "Number": 12,
        "Status": "Paid",
        "ExternalReference": "gw:1001",
        "Currency": "EUR",
        "TotalInclVat": Decimal("128.99"),
        "TotalInclVatInDkk": Decimal("962.27"),
    }
    invoices = api.get(f"/v1/{ORG}/invoices").mock(
        return_value=ok({"Collection": [listed], "Pagination": PAGINATION})
    )
    notes = api.get(f"/v1/{ORG}/sales/creditnotes").mock(
        return_value=ok(
            {
                "Collection": [{"Guid": str(OTHER_GUID), "Status": "OverPaid"}],
                "Pagination": PAGINATION,
            }
        )
    )
    since = dt.datetime(2026, 11, 24, 11, 30, tzinfo=dt.timezone(dt.timedelta(hours=1)))

    page = await dinero.list_invoices(ORG, changes_since=since, status_filter=("Paid", "OverPaid"))

    [item] = page.items
    assert (item.guid, item.number, item.status, item.currency) == (GUID, 12, "Paid", "EUR")
    assert (item.total_incl_vat, item.total_incl_vat_in_dkk) == (
        Decimal("128.99"),
        Decimal("962.27"),
    )
    params = sent(invoices).url.params
    assert params["changesSince"] == "2026-11-24T10:30:00Z"
    assert params["statusFilter"] == "Paid,OverPaid"
    assert params["fields"] == (
        "Guid,Number,Status,ExternalReference,Currency,TotalInclVat,TotalInclVatInDkk"
    )
    assert (params["page"], params["pageSize"]) == ("0", "1000")
    assert "queryFilter" not in params

    page = await dinero.list_credit_notes(
        ORG, fields=("Guid", "Status"), query_filter="ExternalReference eq 'gw:1001-1'", page=1
    )
    [note] = page.items
    assert (note.guid, note.status, note.total_incl_vat) == (OTHER_GUID, "OverPaid", None)
    params = sent(notes).url.params
    assert (params["fields"], params["page"]) == ("Guid,Status", "1")
    assert params["queryFilter"] == "ExternalReference eq 'gw:1001-1'"
    assert "statusFilter" not in params and "changesSince" not in params

    with pytest.raises(ValueError, match="status"):
        await dinero.list_invoices(ORG, status_filter=("Unpaid",))
    with pytest.raises(ValueError, match="Guid"):
        await dinero.list_credit_notes(ORG, fields=("Status",))
    assert (len(invoices.calls), len(notes.calls)) == (1, 1)
    assert_answers_fit_dinero(api)


async def test_credit_notes(api: respx.MockRouter, dinero: DineroClient) -> None:
    created = ok({"Guid": str(OTHER_GUID), "TimeStamp": STAMP})
    create = api.post(f"/v1/{ORG}/sales/creditnotes").mock(return_value=created)
    generate = api.post(f"/v1/{ORG}/invoices/{GUID}/generate-creditnote").mock(return_value=created)
    api.get(f"/v1/{ORG}/sales/creditnotes/{OTHER_GUID}").mock(return_value=ok(READ_CREDIT_NOTE))
    find = api.get(f"/v1/{ORG}/sales/creditnotes").mock(
        return_value=ok(
            {"Collection": [{"Guid": str(OTHER_GUID), "Number": 0}], "Pagination": PAGINATION}
        )
    )
    booked_answer = READ_INVOICE | {"Guid": str(OTHER_GUID), "Number": 13}
    book = api.post(f"/v1/{ORG}/sales/creditnotes/{OTHER_GUID}/book").mock(
        return_value=ok(booked_answer)
    )

    credit_note = CreditNoteCreate(credit_note_for=GUID, guid=OTHER_GUID, product_lines=(LINE,))
    assert await dinero.create_credit_note(ORG, credit_note) == Created(
        guid=OTHER_GUID, timestamp=STAMP
    )
    assert body_of(sent(create)) == credit_note.to_json()

    assert (await dinero.generate_credit_note(ORG, GUID)).guid == OTHER_GUID
    assert body_of(sent(generate)) == {}
    await dinero.generate_credit_note(ORG, GUID, STAMP)
    assert body_of(sent(generate)) == {"Timestamp": STAMP}

    read = await dinero.get_credit_note(ORG, OTHER_GUID)
    assert (read.credit_note_for, read.number, read.is_draft) == (GUID, None, True)

    (summary,) = await dinero.find_credit_notes(ORG, external_reference="gw:r'1")
    assert summary.guid == OTHER_GUID and summary.number is None
    assert sent(find).url.params["queryFilter"] == "ExternalReference eq 'gw:r''1'"

    booked = await dinero.book_credit_note(ORG, OTHER_GUID, STAMP)
    assert (booked.number, booked.timestamp) == (13, NEW_STAMP)
    assert body_of(sent(book)) == {"Timestamp": STAMP}
    assert_answers_fit_dinero(api)


async def test_accounts_and_vat_types(api: respx.MockRouter, dinero: DineroClient) -> None:
    entry = api.get(f"/v1/{ORG}/accounts/entry").mock(
        return_value=ok([{"AccountNumber": 1000, "Name": "Salg", "VatCode": "U25"}])
    )
    deposit = api.get(f"/v1/{ORG}/accounts/deposit").mock(
        return_value=ok(
            [{"AccountNumber": 55000, "Name": "Bank", "IsDefault": True, "IsHidden": False}]
        )
    )
    api.get(f"/v1/{ORG}/vatTypes").mock(
        return_value=ok([{"VatCode": "U25", "Name": "Salgsmoms", "VatRate": Decimal("0.25")}])
    )
    (account,) = await dinero.entry_accounts(ORG)
    assert (account.account_number, account.vat_code) == (1000, "U25")
    assert sent(entry).url.params["fields"] == "AccountNumber,Name,VatCode"
    (bank,) = await dinero.deposit_accounts(ORG)
    assert (bank.account_number, bank.is_default) == (55000, True)
    assert sent(deposit).url.params["fields"] == "AccountNumber,Name,IsDefault,IsHidden"
    (vat,) = await dinero.vat_types(ORG)
    assert vat.vat_rate == Decimal("0.25")
    assert_answers_fit_dinero(api)


async def test_payments(api: respx.MockRouter, dinero: DineroClient) -> None:
    pay = api.post(f"/v1/{ORG}/invoices/{GUID}/payments").mock(return_value=ok(PAYMENT_CREATED))
    api.get(f"/v2/{ORG}/invoices/{GUID}/payments").mock(return_value=ok(PAYMENTS))
    refund = api.post(f"/v1/{ORG}/sales/creditnotes/{OTHER_GUID}/payments").mock(
        return_value=ok(PAYMENT_CREATED)
    )
    api.get(f"/v1/{ORG}/sales/creditnotes/{OTHER_GUID}/payments").mock(return_value=ok(PAYMENTS))

    created = await dinero.register_invoice_payment(ORG, GUID, PAYMENT)
    assert (created.guid, created.timestamp, created.related_voucher_guid) == (
        OTHER_GUID,
        NEW_STAMP,
        CONTACT_GUID,
    )
    assert b'"Amount":128.99' in sent(pay).content
    assert body_of(sent(pay)) == PAYMENT.to_json()

    payments = await dinero.invoice_payments(ORG, GUID)
    assert [p.external_reference for p in payments.payments] == ["gw:pay:1001"]
    assert (payments.paid_amount, payments.remaining_amount) == (Decimal("128.99"), Decimal("0.00"))

    assert (await dinero.register_credit_note_payment(ORG, OTHER_GUID, PAYMENT)).guid == OTHER_GUID
    assert body_of(sent(refund)) == PAYMENT.to_json()
    assert (await dinero.credit_note_payments(ORG, OTHER_GUID)).paid_amount == Decimal("128.99")
    assert_answers_fit_dinero(api)


async def test_files(api: respx.MockRouter, dinero: DineroClient) -> None:
    upload = api.post(f"/v1/{ORG}/files").mock(return_value=ok({"FileGuid": FILE_GUID}))
    listing = api.get(f"/v1/{ORG}/files").mock(
        return_value=ok(
            [
                {
                    "FileGuid": FILE_GUID,
                    "Name": "1001.pdf",
                    "Size": 4,
                    "UploadedAt": "2026-11-24T10:00:00Z",
                    "Linked": [{"VoucherId": 7, "VoucherGuid": str(OTHER_GUID)}],
                }
            ]
        )
    )
    assert await dinero.upload_file(ORG, "1001.pdf", b"%PDF", "application/pdf") == FILE_GUID
    request = sent(upload)
    assert request.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert b'name="file"; filename="1001.pdf"' in request.content
    assert b"Content-Type: application/pdf\r\n\r\n%PDF\r\n" in request.content

    (file,) = await dinero.list_files(
        ORG, file_status="Used", extensions=("pdf", "png"), uploaded_after=dt.date(2026, 11, 1)
    )
    assert [link.voucher_guid for link in file.linked] == [OTHER_GUID]
    params = sent(listing).url.params
    assert (params["fileStatus"], params["extensions"], params["uploadedAfter"]) == (
        "Used",
        "pdf,png",
        "2026/11/01",
    )
    assert "uploadedBefore" not in params
    assert_answers_fit_dinero(api)


async def test_manual_vouchers(api: respx.MockRouter, dinero: DineroClient) -> None:
    create = api.post(f"/v1/{ORG}/vouchers/manuel").mock(return_value=ok(READ_VOUCHER))
    api.get(f"/v1/{ORG}/vouchers/manuel/{OTHER_GUID}").mock(return_value=ok(READ_VOUCHER))
    book = api.post(f"/v1/{ORG}/vouchers/manuel/{OTHER_GUID}/book").mock(
        return_value=ok(
            READ_VOUCHER | {"Status": "Booked", "Timestamp": NEW_STAMP, "VoucherNumber": 5}
        )
    )
    voucher = ManualVoucherCreate(
        file_guid=FILE_GUID,
        external_reference="gw:v:1001",
        lines=(
            ManualVoucherLine(
                amount=Decimal("80.00"), account_number=55000, balancing_account_number=1000
            ),
        ),
    )
    created = await dinero.create_manual_voucher(ORG, voucher)
    assert (created.guid, created.timestamp, created.file_guid) == (OTHER_GUID, STAMP, FILE_GUID)
    assert b'"Amount":80.00' in sent(create).content
    assert (await dinero.get_manual_voucher(ORG, OTHER_GUID)).total_incl_vat == Decimal("100.00")
    booked = await dinero.book_manual_voucher(ORG, OTHER_GUID, STAMP)
    assert (booked.status, booked.voucher_number, booked.timestamp) == ("Booked", 5, NEW_STAMP)
    assert body_of(sent(book)) == {"Timestamp": STAMP}
    assert_answers_fit_dinero(api)


async def test_answers_are_read_in_any_key_casing(
    api: respx.MockRouter, dinero: DineroClient
) -> None:
    camel = {key[:1].lower() + key[1:]: value for key, value in READ_INVOICE.items()}
    api.get(f"/v1/{ORG}/invoices/{GUID}").mock(return_value=ok(camel))
    api.get("/v1/organizations").mock(return_value=ok([{"id": 1, "name": "A", "ispro": False}]))
    assert (await dinero.get_invoice(ORG, GUID)).total_incl_vat == Decimal("99.99")
    assert await dinero.organizations() == [Organization(id=1, name="A", is_pro=False)]


async def test_ids_cannot_reshape_the_path(api: respx.MockRouter, dinero: DineroClient) -> None:
    with pytest.raises(TypeError, match="guid"):
        await dinero.get_invoice(ORG, "../../organizations")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="guid"):
        await dinero.get_invoice(ORG, str(GUID))  # type: ignore[arg-type]
    for org in (0, -1, True, "42"):
        with pytest.raises(ValueError, match="organisation"):
            await dinero.get_invoice(org, GUID)  # type: ignore[arg-type]
    assert not api.calls


# How outcomes map to errors


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (401, b"", Unauthorized),
        (403, b'{"code": 90, "message": "Organisation has no Pro"}', Forbidden),
        (404, b"<html><body><h1>Not Found</h1></body></html>", NotFound),
        (400, b'{"code": 3, "message": "Invalid"}', ValidationFailed),
        (429, b"API calls quota exceeded!", RateLimited),
        (500, b"", ServerError),
        (502, b"<html>Bad gateway</html>", ServerError),
        (503, b"", ServerError),
        (480, b"", ServerError),
    ],
)
async def test_error_answers_to_a_get(
    api: respx.MockRouter, dinero: DineroClient, status: int, body: bytes, kind: type[DineroError]
) -> None:
    api.get(f"/v1/{ORG}/invoices/{GUID}").mock(return_value=httpx.Response(status, content=body))
    with pytest.raises(kind) as caught:
        await dinero.get_invoice(ORG, GUID)
    assert type(caught.value) is kind
    assert (caught.value.status, caught.value.method) == (status, "GET")
    assert caught.value.path == f"/v1/{ORG}/invoices/{GUID}"


@pytest.mark.parametrize("status", [500, 502, 503, 504, 480])
async def test_a_5xx_to_a_write_is_uncertain(
    api: respx.MockRouter, dinero: DineroClient, status: int
) -> None:
    api.post(f"/v1/{ORG}/invoices").mock(return_value=httpx.Response(status))
    api.delete(f"/v1/{ORG}/invoices/{GUID}").mock(return_value=httpx.Response(status))
    with pytest.raises(Uncertain) as caught:
        await dinero.create_invoice(ORG, INVOICE)
    assert caught.value.status == status and caught.value.is_transient
    with pytest.raises(Uncertain):
        await dinero.delete_invoice(ORG, GUID, STAMP)


async def test_forbidden_tells_a_missing_pro_subscription(
    api: respx.MockRouter, dinero: DineroClient
) -> None:
    route = api.get("/v1/organizations")
    route.mock(return_value=httpx.Response(403, json={"Code": 90, "Message": "Not Pro"}))
    with pytest.raises(Forbidden) as caught:
        await dinero.organizations()
    assert caught.value.not_pro and caught.value.code == 90
    route.mock(return_value=httpx.Response(403, text="Forbidden"))
    with pytest.raises(Forbidden) as caught:
        await dinero.organizations()
    assert not caught.value.not_pro and caught.value.message == "Forbidden"


async def test_rate_limited_reads_retry_after_in_both_forms(
    api: respx.MockRouter, dinero: DineroClient
) -> None:
    route = api.get("/v1/organizations")
    quota = "API calls quota exceeded!"
    route.mock(return_value=httpx.Response(429, text=quota, headers={"Retry-After": "12"}))
    with pytest.raises(RateLimited) as caught:
        await dinero.organizations()
    assert (caught.value.retry_after, caught.value.message) == (12.0, quota)

    in_a_minute = format_datetime(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=60), usegmt=True)
    route.mock(return_value=httpx.Response(429, text=quota, headers={"Retry-After": in_a_minute}))
    with pytest.raises(RateLimited) as caught:
        await dinero.organizations()
    assert 50 < caught.value.retry_after <= 60

    route.mock(return_value=httpx.Response(429, text=quota))
    with pytest.raises(RateLimited) as caught:
        await dinero.organizations()
    assert caught.value.retry_after == DEFAULT_RATE_LIMIT_RETRY


async def test_validation_errors_keep_code_message_and_fields(
    api: respx.MockRouter, dinero: DineroClient
) -> None:
    route = api.post(f"/v1/{ORG}/invoices")
    route.mock(
        return_value=httpx.Response(
            400,
            json={
                "Code": 3,
                "Message": "Validation failed",
                "ValidationErrors": {"ProductLines[0].AccountNumber": "Unknown account"},
                "LanguageSpecificMessages": [{"da-DK": "Validering fejlede"}],
            },
        )
    )
    with pytest.raises(ValidationFailed) as caught:
        await dinero.create_invoice(ORG, INVOICE)
    error = caught.value
    assert (error.code, error.message) == (3, "Validation failed")
    assert error.field_errors == {"ProductLines[0].AccountNumber": "Unknown account"}
    assert not error.duplicate_guid and not error.is_transient

    route.mock(
        return_value=httpx.Response(
            400, json={"code": 3, "message": f"Invoice with Guid {GUID} already exists"}
        )
    )
    with pytest.raises(ValidationFailed) as caught:
        await dinero.create_invoice(ORG, INVOICE)
    assert caught.value.duplicate_guid


async def test_an_outdated_timestamp_is_code_58(
    api: respx.MockRouter, dinero: DineroClient
) -> None:
    api.post(f"/v1/{ORG}/invoices/{GUID}/book").mock(
        return_value=httpx.Response(400, json={"code": 58, "message": "Timestamp outdated"})
    )
    with pytest.raises(TimestampOutdated) as caught:
        await dinero.book_invoice(ORG, GUID, STAMP)
    assert caught.value.code == 58


@pytest.mark.parametrize(
    ("failure", "on_get", "on_post"),
    [
        (httpx.ConnectError, ServerError, ServerError),
        (httpx.ConnectTimeout, ServerError, ServerError),
        (httpx.PoolTimeout, ServerError, ServerError),
        (httpx.ReadTimeout, ServerError, Uncertain),
        (httpx.WriteTimeout, ServerError, Uncertain),
        (httpx.ReadError, ServerError, Uncertain),
        (httpx.RemoteProtocolError, ServerError, Uncertain),
    ],
)
async def test_lost_calls(
    api: respx.MockRouter,
    dinero: DineroClient,
    failure: type[httpx.RequestError],
    on_get: type[DineroError],
    on_post: type[DineroError],
) -> None:
    api.get(f"/v1/{ORG}/invoices/{GUID}").mock(side_effect=failure)
    api.post(f"/v1/{ORG}/invoices").mock(side_effect=failure)
    with pytest.raises(DineroError) as caught:
        await dinero.get_invoice(ORG, GUID)
    assert type(caught.value) is on_get and caught.value.status is None
    with pytest.raises(DineroError) as caught:
        await dinero.create_invoice(ORG, INVOICE)
    assert type(caught.value) is on_post and caught.value.is_transient
    assert isinstance(caught.value.__cause__, failure)


@pytest.mark.parametrize(
    "content", [b"", b"not json", b"[]", b'{"TimeStamp": "x"}', b'{"Guid": "nope"}']
)
async def test_an_unreadable_success_is_uncertain_after_a_write(
    api: respx.MockRouter, dinero: DineroClient, content: bytes
) -> None:
    api.post(f"/v1/{ORG}/invoices").mock(return_value=httpx.Response(200, content=content))
    api.get(f"/v1/{ORG}/invoices/{GUID}").mock(return_value=httpx.Response(200, content=content))
    with pytest.raises(Uncertain) as caught:
        await dinero.create_invoice(ORG, INVOICE)
    assert caught.value.status == 200
    with pytest.raises(ServerError):
        await dinero.get_invoice(ORG, GUID)


# Secrets, logs and counting


async def test_the_token_is_sent_but_never_shown(
    api: respx.MockRouter, dinero: DineroClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    echo = f"token {TOKEN} is not valid (Authorization: Bearer {TOKEN})"
    api.get("/v1/organizations").mock(return_value=httpx.Response(401, text=echo))
    api.post(f"/v1/{ORG}/invoices").mock(
        return_value=httpx.Response(
            400, json={"message": echo, "validationErrors": {"Token": echo}}
        )
    )
    api.get(f"/v1/{ORG}/invoices/{GUID}").mock(side_effect=httpx.ReadTimeout)
    api.post(f"/v1/{ORG}/invoices/{GUID}/book").mock(return_value=httpx.Response(502, text=echo))

    errors: list[DineroError] = []
    for call in (
        dinero.organizations(),
        dinero.create_invoice(ORG, INVOICE),
        dinero.get_invoice(ORG, GUID),
        dinero.book_invoice(ORG, GUID, STAMP),
    ):
        with pytest.raises(DineroError) as caught:
            await call
        errors.append(caught.value)

    assert all(call.request.headers["Authorization"] == f"Bearer {TOKEN}" for call in api.calls)
    shown = [repr(dinero), str(dinero), repr(vars(dinero))]
    for error in errors:
        shown += [str(error), repr(error), repr(vars(error)), repr(error.args)]
        # Locals of every frame below this test's (whose own locals hold the token).
        below = error.__traceback__.tb_next if error.__traceback__ else None
        trace = traceback.TracebackException(type(error), error, below, capture_locals=True)
        shown.append("".join(trace.format()))
    shown += [record.getMessage() for record in caplog.records]
    shown += [repr(record.args) for record in caplog.records]
    assert caplog.records, "expected the client's DEBUG lines"
    for text in shown:
        assert TOKEN not in text


async def test_one_debug_line_per_call_without_query_string(
    api: respx.MockRouter, http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="gateway.dinero")
    api.get(f"/v1/{ORG}/contacts").mock(
        return_value=ok({"Collection": [], "Pagination": PAGINATION})
    )
    api.post(f"/v1/{ORG}/invoices").mock(side_effect=httpx.ConnectError)
    observed: list[tuple[str, str, int | None]] = []
    dinero = DineroClient(http, BASE, Secret(TOKEN), on_call=lambda *call: observed.append(call))

    await dinero.find_contacts(ORG, email="karen@example.dk")
    with pytest.raises(ServerError):
        await dinero.create_invoice(ORG, INVOICE)

    lines = [r for r in caplog.records if r.name == "gateway.dinero"]
    assert [r.levelno for r in lines] == [logging.DEBUG, logging.DEBUG]
    assert lines[0].getMessage().startswith(f"GET /v1/{ORG}/contacts -> 200 in ")
    assert lines[1].getMessage().startswith(f"POST /v1/{ORG}/invoices -> no answer in ")
    assert all("karen" not in r.getMessage() and "?" not in r.getMessage() for r in lines)
    assert observed == [("GET", f"/v1/{ORG}/contacts", 200), ("POST", f"/v1/{ORG}/invoices", None)]


async def test_every_call_carries_the_explicit_timeout() -> None:
    seen: list[dict[str, Any]] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        return ok([])

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        await DineroClient(client, BASE, Secret(TOKEN)).organizations()
        custom = httpx.Timeout(1.0)
        await DineroClient(client, BASE, Secret(TOKEN), timeout=custom).organizations()
    assert seen == [DEFAULT_TIMEOUT.as_dict(), custom.as_dict()]
    assert DEFAULT_TIMEOUT.as_dict() == {"connect": 5, "read": 30, "write": 30, "pool": 5}

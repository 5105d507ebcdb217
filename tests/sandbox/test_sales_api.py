"""Contacts, invoices and credit notes over HTTP (`sales_api.py`): every endpoint's happy
path and its errors, answers checked against Dinero's schemas."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest

from tests.sandbox.apiclient import Api, conforms, line
from tests.sandbox.conftest import PRO_ORG

# --- contacts --------------------------------------------------------------------------------


async def test_contact_create_with_client_guid_and_read_back(api: Api) -> None:
    guid = str(uuid4())
    answer = await api.ok(
        await api.post(
            "/contacts",
            {
                "contactguid": guid,  # binding is case-insensitive
                "Name": "Acme ApS",
                "CountryKey": "DE",
                "IsPerson": False,
                "IsMember": False,
                "UseCvr": False,
                "VatNumber": "DE123456789",
                "ExternalReference": "shop:42",
            },
        )
    )
    assert answer == {"ContactGuid": guid}
    conforms("ContactCreatedResult", answer)
    contact = await api.ok(await api.get(f"/contacts/{guid}"))
    conforms("ContactReadModel", contact)
    assert contact["VatNumber"] == "DE123456789"
    assert contact["VatRegionKey"] == "EU"
    assert contact["IsDebitor"] is True

    again = await api.error(await api.post("/contacts", {**contact_body(), "ContactGuid": guid}))
    assert guid in again["message"] and "already exists" in again["message"]
    assert (await api.get(f"/contacts/{uuid4()}")).status_code == 404


def contact_body(**fields: Any) -> dict[str, Any]:
    return {
        "Name": "Acme ApS",
        "CountryKey": "DK",
        "IsPerson": False,
        "IsMember": False,
        "UseCvr": False,
        **fields,
    }


async def test_contact_create_lists_every_violation(api: Api) -> None:
    answer = await api.error(
        await api.post("/contacts", {"Name": "", "ExternalReference": "x" * 129, "Age": 3})
    )
    assert answer["code"] == 3
    assert set(answer["validationErrors"]) == {
        "Name",
        "CountryKey",
        "IsPerson",
        "IsMember",
        "UseCvr",
        "ExternalReference",
        "Age",
    }


async def test_contact_list_filters_pages_and_picks_fields(api: Api) -> None:
    acme = await api.contact(Name="Acme ApS", Email="info@acme.dk", VatNumber="12345678")
    await api.contact(Name="Acme Trading", Email="sales@acme.se")
    await api.contact(Name="O'Brien & Co", Email="ob@example.ie", IsPerson=True)

    async def names(query: str) -> list[str]:
        answer = await api.ok(await api.get("/contacts", queryFilter=query, fields="Name"))
        return [item["Name"] for item in answer["Collection"]]

    assert await names("VatNumber eq '12345678'") == ["Acme ApS"]
    assert await names("name contains 'ACME'") == ["Acme ApS", "Acme Trading"]
    assert await names("Name contains 'acme';Email contains '.se'") == ["Acme Trading"]
    assert await names("Name eq 'o''brien & co'") == ["O'Brien & Co"]
    assert await names("IsPerson eq 'true'") == ["O'Brien & Co"]

    default = await api.ok(await api.get("/contacts", queryFilter="Email eq 'INFO@ACME.DK'"))
    # Dinero's default fields are "name,contactGuid", spelled as it spells them.
    assert default["Collection"] == [{"name": "Acme ApS", "contactGuid": acme}]
    assert default["Pagination"]["Result"] == 1

    page = await api.ok(await api.get("/contacts", page=1, pageSize=2, fields="Name"))
    conforms("PaginationDetails", page["Pagination"])
    assert page["Collection"] == [{"Name": "O'Brien & Co"}]
    assert page["Pagination"] == {
        "MaxPageSizeAllowed": 1000,
        "PageSize": 2,
        "Result": 1,
        "ResultWithoutFilter": 3,
        "Page": 1,
    }
    full = await api.ok(await api.get("/contacts", fields=",".join(CONTACT_FIELDS)))
    conforms("ContactReadModelDineroCollection", full)


CONTACT_FIELDS = ["ContactGuid", "Name", "CountryKey", "IsPerson", "IsMember", "UseCvr"]
CONTACT_FIELDS += ["IsDebitor", "IsCreditor", "Email", "CreatedAt"]


@pytest.mark.parametrize(
    "params",
    [
        {"queryFilter": "AMINO"},
        {"queryFilter": "Street eq 'x'"},
        {"queryFilter": "Name eq 'x';"},
        {"pageSize": "1001"},
        {"fields": "Name,Shoe"},
        {"changesSince": "yesterday"},
    ],
)
async def test_contact_list_refuses_malformed_parameters(api: Api, params: dict[str, str]) -> None:
    url = api.url("/contacts")
    await api.error(await api.client.get(url, params=params, headers=api.headers))


async def test_contact_list_changes_since(api: Api) -> None:
    await api.contact()
    listed = await api.ok(await api.get("/contacts", changesSince="2026-11-24T10:00:00Z"))
    assert len(listed["Collection"]) == 1
    later = await api.ok(await api.get("/contacts", changesSince="2026-11-24T10:00:01Z"))
    assert later["Collection"] == []


# --- invoices --------------------------------------------------------------------------------


async def test_invoice_life_create_read_book(api: Api) -> None:
    contact = await api.contact()
    guid = str(uuid4())
    text_line = {"LineType": "Text", "Description": "Tak for handlen", "BaseAmountValue": 0}
    text_line.update(Quantity=0, AccountNumber=1000, Discount=0)
    body = {
        "Guid": guid,
        "ContactGuid": contact,
        "ExternalReference": "shop-1:order-1001",
        "Currency": "DKK",
        "Language": "en-GB",
        "ShowLinesInclVat": True,
        "ProductLines": [
            line(BaseAmountValue=99.95, Quantity=3),
            line(BaseAmountValue=39, AccountNumber=1350, Description="Fragt", Unit="shipment"),
            text_line,
        ],
    }
    created = await api.ok(await api.post("/invoices", body))
    conforms("CreatedResponseModel", created)
    assert created["Guid"] == guid

    draft = await api.ok(await api.get(f"/invoices/{guid}"))
    conforms("InvoiceReadModel", draft)
    assert (draft["Status"], draft["Number"], draft["PaymentStatus"]) == ("Draft", 0, "Draft")
    assert draft["TimeStamp"] == created["TimeStamp"]
    assert draft["TotalInclVat"] == Decimal("338.85")
    assert draft["TotalVat"] == Decimal("67.77")
    assert draft["TotalExclVat"] == Decimal("271.08")
    assert [line["TotalAmountInclVat"] for line in draft["ProductLines"]] == [
        Decimal("299.85"),
        Decimal("39.00"),
        0,
    ]
    assert draft["Description"] == "Invoice" and draft["ContactName"] == "Acme ApS"

    stale = await api.error(
        await api.post(f"/invoices/{guid}/book", {"Timestamp": "0000000000000001"})
    )
    assert stale["code"] == 58
    booked = await api.ok(
        await api.post(f"/invoices/{guid}/book", {"Timestamp": draft["TimeStamp"]})
    )
    conforms("InvoiceReadModel", booked)
    assert (booked["Status"], booked["Number"]) == ("Booked", 1)
    assert booked["TimeStamp"] != draft["TimeStamp"]
    assert booked["PaymentStatus"] == "Booked"

    again = await api.error(
        await api.post(f"/invoices/{guid}/book", {"Timestamp": booked["TimeStamp"]})
    )
    assert "already booked" in again["message"]


async def test_a_repeated_invoice_guid_is_refused_naming_it(api: Api) -> None:
    guid = str(uuid4())
    await api.invoice(Guid=guid, ExternalReference="first")
    answer = await api.error(await api.post("/invoices", {"Guid": guid, "ProductLines": [line()]}))
    assert guid in answer["message"]
    assert "already exists" in answer["message"]
    stored = (await api.client.get(f"/_sandbox/organizations/{PRO_ORG}/invoices")).json()
    assert [invoice["ExternalReference"] for invoice in stored] == ["first"]


async def test_amounts_are_written_exactly(api: Api) -> None:
    created = await api.invoice(ProductLines=[line(BaseAmountValue=0.1, Quantity=3)])
    response = await api.get(f"/invoices/{created['Guid']}")
    assert '"TotalExclVat":0.30' in response.text
    assert '"TotalVat":0.08' in response.text  # per document: round(0.30 × 0.25)
    assert '"TotalInclVat":0.38' in response.text


async def test_invoice_create_checks_the_books(api: Api) -> None:
    answer = await api.error(
        await api.post(
            "/invoices",
            {
                "ContactGuid": str(uuid4()),
                "Currency": "XYZ",
                "ProductLines": [line(AccountNumber=9999)],
            },
        )
    )
    assert set(answer["validationErrors"]) == {
        "ContactGuid",
        "Currency",
        "ProductLines[0].AccountNumber",
    }


async def test_invoice_body_rules(api: Api) -> None:
    answer = await api.error(
        await api.post(
            "/invoices",
            {
                "externalreference": "x" * 129,
                "Language": "da",
                "ProductLines": [line(Discount=150), line(Unit=None)],
                "Extra": 1,
            },
        )
    )
    assert set(answer["validationErrors"]) == {
        "ExternalReference",  # named canonically, whatever case it was sent in
        "Language",
        "ProductLines[0].Discount",
        "ProductLines[1].Unit",
        "Extra",
    }
    broken = await api.client.post(api.url("/invoices"), content=b"{", headers=api.headers)
    assert broken.status_code == 400


async def test_booking_needs_a_contact(api: Api) -> None:
    created = await api.invoice()
    answer = await api.error(
        await api.post(f"/invoices/{created['Guid']}/book", {"Timestamp": created["TimeStamp"]})
    )
    assert "ContactGuid" in answer["validationErrors"]


async def test_booking_numbers_are_shared_by_invoices_and_credit_notes(api: Api) -> None:
    numbers = []
    first = await api.booked()
    numbers.append(first["Number"])
    for path in ["/sales/creditnotes", "/invoices", "/sales/creditnotes", "/invoices"]:
        extra = {"CreditNoteFor": first["Guid"]} if "credit" in path else {}
        numbers.append((await api.booked(path, **extra))["Number"])
    assert numbers == [1, 2, 3, 4, 5]


async def test_invoice_list_finds_by_external_reference(api: Api) -> None:
    contact = await api.contact()
    first = await api.booked(ContactGuid=contact, ExternalReference="order-1")
    await api.invoice(ContactGuid=contact, ExternalReference="order-2", Description="Draft")
    listed = await api.ok(
        await api.get(
            "/invoices",
            queryFilter="ExternalReference eq 'order-1'",
            fields="Guid,Number,Status",
        )
    )
    assert listed["Collection"] == [{"Guid": first["Guid"], "Number": 1, "Status": "Booked"}]
    by_contact = await api.ok(
        await api.get("/invoices", queryFilter=f"ContactGuid eq '{contact}'", fields="Number")
    )
    # Newest number first; a draft's number is 0.
    assert [item["Number"] for item in by_contact["Collection"]] == [1, 0]
    everything = await api.ok(await api.get("/invoices", fields=",".join(LIST_FIELDS)))
    conforms("SalesVoucherReadListModelDineroCollection", everything)
    drafts = await api.ok(await api.get("/invoices", statusFilter="Draft", fields="Description"))
    assert drafts["Collection"] == [{"Description": "Draft"}]
    await api.error(await api.get("/invoices", queryFilter="Number eq '1'"))
    await api.error(await api.get("/invoices", statusFilter="Lost"))


LIST_FIELDS = ["Number", "Guid", "ExternalReference", "Status", "Type", "TotalInclVat"]
LIST_FIELDS += ["TotalExclVat", "TotalInclVatInDkk", "TotalExclVatInDkk", "Currency", "Date"]


async def test_deleted_drafts_are_not_listed(api: Api) -> None:
    kept = await api.invoice(ExternalReference="kept")
    gone = await api.invoice(ExternalReference="gone")
    stale = await api.delete(f"/invoices/{gone['Guid']}", {"Timestamp": "0000000000000001"})
    assert (await api.error(stale))["code"] == 58
    assert (await api.delete(f"/invoices/{gone['Guid']}")).status_code == 200

    listed = await api.ok(await api.get("/invoices", fields="ExternalReference"))
    assert listed["Collection"] == [{"ExternalReference": "kept"}]
    deleted = await api.ok(
        await api.get("/invoices", deletedOnly="true", fields="ExternalReference")
    )
    assert deleted["Collection"] == [{"ExternalReference": "gone"}]
    stored = (await api.client.get(f"/_sandbox/organizations/{PRO_ORG}/invoices")).json()
    assert [invoice["Guid"] for invoice in stored] == [kept["Guid"]]
    read = await api.ok(await api.get(f"/invoices/{gone['Guid']}"))
    assert read["DeletedAt"] is not None
    await api.error(
        await api.post(f"/invoices/{gone['Guid']}/book", {"Timestamp": read["TimeStamp"]})
    )


async def test_booked_invoices_cannot_be_deleted(api: Api) -> None:
    booked = await api.booked()
    answer = await api.error(await api.delete(f"/invoices/{booked['Guid']}"))
    assert "booked" in answer["message"]


async def test_fetch_previews_totals_without_storing(api: Api) -> None:
    preview = await api.ok(
        await api.post(
            "/invoices/fetch",
            {"ProductLines": [line(BaseAmountValue=80, Quantity=2, Discount=12.5)]},
        )
    )
    conforms("InvoiceFetchReadModel", preview)
    assert preview["TotalExclVat"] == Decimal("140.00")
    assert preview["TotalInclVat"] == Decimal("175.00")
    assert (await api.client.get(f"/_sandbox/organizations/{PRO_ORG}/invoices")).json() == []
    note = await api.ok(await api.post("/sales/creditnotes/fetch", {"ProductLines": [line()]}))
    conforms("SalesCreditNoteFetchReadModel", note)


# --- credit notes ----------------------------------------------------------------------------


async def test_credit_note_for_a_booked_invoice(api: Api) -> None:
    invoice = await api.booked(ExternalReference="order-7")
    created = await api.ok(
        await api.post(
            "/sales/creditnotes",
            {
                "ContactGuid": invoice["ContactGuid"],
                "CreditNoteFor": invoice["Guid"],
                "ExternalReference": "refund-7",
                "ProductLines": [line(BaseAmountValue=40)],
            },
        )
    )
    conforms("CreatedResponseModel", created)
    note = await api.ok(await api.get(f"/sales/creditnotes/{created['Guid']}"))
    conforms("SalesCreditNoteReadModel", note)
    assert note["CreditNoteFor"] == invoice["Guid"]
    assert note["TotalInclVat"] == Decimal("50.00")  # positive, like the invoice's

    booked = await api.ok(
        await api.post(
            f"/sales/creditnotes/{created['Guid']}/book", {"Timestamp": note["TimeStamp"]}
        )
    )
    conforms("InvoiceReadModel", booked)  # the spec's answer for booking a credit note
    assert (booked["Status"], booked["Number"]) == ("Booked", 2)
    listed = await api.ok(
        await api.get(
            "/sales/creditnotes",
            queryFilter="ExternalReference eq 'refund-7'",
            fields="Guid,Type,Number",
        )
    )
    assert listed["Collection"] == [{"Guid": created["Guid"], "Type": "CreditNote", "Number": 2}]
    stored = (await api.client.get(f"/_sandbox/organizations/{PRO_ORG}/creditnotes")).json()
    assert stored[0]["CreditNoteFor"] == invoice["Guid"]
    assert stored[0]["TotalInclVat"] == 50
    assert (await api.get(f"/invoices/{created['Guid']}")).status_code == 404


async def test_credit_note_for_an_unknown_or_draft_invoice_is_refused(api: Api) -> None:
    draft = await api.invoice()
    for target in (str(uuid4()), draft["Guid"]):
        answer = await api.error(
            await api.post(
                "/sales/creditnotes", {"CreditNoteFor": target, "ProductLines": [line()]}
            )
        )
        assert "CreditNoteFor" in answer["validationErrors"]
    assert (await api.post(f"/invoices/{draft['Guid']}/generate-creditnote")).status_code == 400


async def test_generate_credit_note_credits_the_whole_invoice(api: Api) -> None:
    invoice = await api.booked(ProductLines=[line(), line(AccountNumber=1350, Unit="shipment")])
    created = await api.ok(
        await api.post(
            f"/invoices/{invoice['Guid']}/generate-creditnote", {"Timestamp": invoice["TimeStamp"]}
        )
    )
    conforms("CreatedResponseModel", created)
    note = await api.ok(await api.get(f"/sales/creditnotes/{created['Guid']}"))
    assert note["CreditNoteFor"] == invoice["Guid"]
    assert note["ContactGuid"] == invoice["ContactGuid"]
    assert note["TotalInclVat"] == invoice["TotalInclVat"] == Decimal("250.00")
    assert note["Status"] == "Draft"
    stale = await api.post(
        f"/invoices/{invoice['Guid']}/generate-creditnote", {"Timestamp": "0000000000000001"}
    )
    assert (await api.error(stale))["code"] == 58


async def test_credit_note_draft_can_be_deleted(api: Api) -> None:
    created = await api.invoice("/sales/creditnotes")
    assert (await api.delete(f"/sales/creditnotes/{created['Guid']}")).status_code == 200
    assert (await api.client.get(f"/_sandbox/organizations/{PRO_ORG}/creditnotes")).json() == []

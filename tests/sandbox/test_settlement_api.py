"""Payments, refunds, files and manual vouchers over HTTP (`settlement_api.py`): every
endpoint's happy path and its errors, answers checked against Dinero's schemas."""

from __future__ import annotations

from decimal import Decimal
from uuid import uuid4

import httpx

from tests.sandbox.apiclient import PDF, Api, conforms, payment
from tests.sandbox.conftest import PRO_ORG

# --- payments --------------------------------------------------------------------------------


async def test_invoice_payments(api: Api) -> None:
    invoice = await api.booked()  # 125.00 incl. VAT
    guid = invoice["Guid"]
    first = await api.ok(
        await api.post(
            f"/invoices/{guid}/payments",
            payment(invoice["TimeStamp"], Amount=100, ExternalReference="psp:ch_1"),
        )
    )
    conforms("CreatedPaymentResponse", first)
    after = await api.ok(await api.get(f"/invoices/{guid}"))
    assert first["TimeStamp"] == after["TimeStamp"] != invoice["TimeStamp"]
    assert after["PaymentStatus"] == "Booked"

    stale = await api.post(f"/invoices/{guid}/payments", payment(invoice["TimeStamp"], Amount=25))
    assert (await api.error(stale))["code"] == 58
    over = await api.post(f"/invoices/{guid}/payments", payment(first["TimeStamp"], Amount=25.01))
    assert "exceeds" in (await api.error(over))["message"]
    not_deposit = await api.post(
        f"/invoices/{guid}/payments", payment(first["TimeStamp"], DepositAccountNumber=1000)
    )
    assert "DepositAccountNumber" in (await api.error(not_deposit))["validationErrors"]

    last = await api.ok(
        await api.post(f"/invoices/{guid}/payments", payment(first["TimeStamp"], Amount=25))
    )
    payments = await api.ok(await api.get(f"/invoices/{guid}/payments", version=2))
    conforms("InvoicePaymentsModel", payments)
    assert [p["ExternalReference"] for p in payments["Payments"]] == ["psp:ch_1", None]
    assert [p["Guid"] for p in payments["Payments"]] == [first["Guid"], last["Guid"]]
    assert (payments["PaidAmount"], payments["RemainingAmount"]) == (Decimal("125.00"), 0)
    assert (await api.ok(await api.get(f"/invoices/{guid}")))["PaymentStatus"] == "Paid"

    stored = (await api.client.get(f"/_sandbox/organizations/{PRO_ORG}/payments")).json()
    assert [(p["DocumentGuid"], p["Amount"], p["DepositAccountNumber"]) for p in stored] == [
        (guid, 100, 55010),
        (guid, 25, 55010),
    ]
    assert stored[0]["ExternalReference"] == "psp:ch_1"


async def test_payments_only_on_booked_documents(api: Api) -> None:
    draft = await api.invoice()
    answer = await api.error(
        await api.post(f"/invoices/{draft['Guid']}/payments", payment(draft["TimeStamp"]))
    )
    assert "booked" in answer["message"]
    missing = await api.post(f"/invoices/{uuid4()}/payments", payment("0000000000000001"))
    assert missing.status_code == 404


async def test_foreign_currency_payments_need_the_foreign_amount(api: Api) -> None:
    invoice = await api.booked(Currency="EUR")
    path = f"/invoices/{invoice['Guid']}/payments"
    answer = await api.error(await api.post(path, payment(invoice["TimeStamp"], Amount=932.5)))
    assert "AmountInForeignCurrency" in answer["validationErrors"]
    await api.ok(
        await api.post(
            path, payment(invoice["TimeStamp"], Amount=932.5, AmountInForeignCurrency=125)
        )
    )
    payments = await api.ok(await api.get(f"/invoices/{invoice['Guid']}/payments", version=2))
    assert payments["RemainingAmount"] == 0
    assert payments["Payments"][0]["Currency"] == "EUR"
    assert payments["Payments"][0]["ExchangeRate"] == Decimal("746.0000")


async def test_credit_note_refunds(api: Api) -> None:
    invoice = await api.booked()
    note = await api.booked("/sales/creditnotes", CreditNoteFor=invoice["Guid"])
    path = f"/sales/creditnotes/{note['Guid']}/payments"
    refund = await api.ok(
        await api.post(path, payment(note["TimeStamp"], ExternalReference="refund:1"))
    )
    conforms("CreatedPaymentResponse", refund)
    payments = await api.ok(await api.get(path))
    conforms("InvoicePaymentsModel", payments)
    assert payments["Payments"][0]["ExternalReference"] == "refund:1"
    assert payments["RemainingAmount"] == 0
    assert payments["Payments"][0]["PaymentClass"] == "CreditNote"


# --- files and manual vouchers ---------------------------------------------------------------


async def upload(api: Api, content: bytes, name: str = "bilag.pdf") -> httpx.Response:
    return await api.client.post(
        api.url("/files"), files={"file": (name, content, "application/pdf")}, headers=api.headers
    )


async def test_file_upload_and_limits(api: Api) -> None:
    saved = await api.ok(await upload(api, PDF))
    conforms("FileSavedReadModel", saved)
    assert saved["FileGuid"]

    too_large = await upload(api, b"%PDF-" + b"0" * (7 * 1024 * 1024))
    assert too_large.status_code == 400
    assert too_large.headers["content-type"].startswith("text/plain")
    assert "6 MB" in too_large.text
    not_a_pdf = await upload(api, b"PK\x03\x04 a zip file", "bilag.zip")
    assert not_a_pdf.status_code == 400
    no_file = await api.client.post(api.url("/files"), data={"x": "1"}, headers=api.headers)
    assert no_file.status_code == 400


async def test_manual_voucher_with_file_is_found_through_the_file_list(api: Api) -> None:
    saved = await api.ok(await upload(api, PDF, "z-rapport.pdf"))
    unused = await api.ok(await upload(api, PDF, "unused.pdf"))
    created = await api.ok(
        await api.post(
            "/vouchers/manuel",
            {
                "VoucherDate": "2026-11-24",
                "ExternalReference": "settlement:2026-11-24",
                "FileGuid": saved["FileGuid"],
                "Lines": [
                    {
                        "Description": "Dagens salg",
                        "AccountNumber": 55000,
                        "BalancingAccountNumber": 1000,
                        "Amount": 80,
                        "AccountVatCode": None,
                        "BalancingAccountVatCode": None,
                    }
                ],
            },
        )
    )
    conforms("ManuelVoucherReadModel", created)
    assert (created["Status"], created["VoucherNumber"]) == ("Draft", None)
    assert created["Lines"][0]["AmountInclVatValue"] == Decimal("100.00")

    files = await api.ok(await api.get("/files"))
    for stored in files:
        conforms("FilteredFileReadModel", stored)
    linked = {stored["FileGuid"]: stored["Linked"] for stored in files}
    assert [link["VoucherGuid"] for link in linked[saved["FileGuid"]]] == [created["Guid"]]
    assert linked[unused["FileGuid"]] == []
    used_only = await api.ok(await api.get("/files", fileStatus="Used"))
    assert [stored["FileGuid"] for stored in used_only] == [saved["FileGuid"]]

    read = await api.ok(await api.get(f"/vouchers/manuel/{created['Guid']}"))
    assert read == created
    stale = await api.post(
        f"/vouchers/manuel/{created['Guid']}/book", {"Timestamp": "0000000000000001"}
    )
    assert (await api.error(stale))["code"] == 58
    booked = await api.ok(
        await api.post(f"/vouchers/manuel/{created['Guid']}/book", {"Timestamp": read["Timestamp"]})
    )
    conforms("ManuelVoucherReadModel", booked)
    assert (booked["Status"], booked["VoucherNumber"]) == ("Booked", 1)
    assert booked["Timestamp"] != read["Timestamp"]

    stored = (await api.client.get(f"/_sandbox/organizations/{PRO_ORG}/vouchers")).json()
    assert stored[0]["FileName"] == "z-rapport.pdf"
    assert (stored[0]["Status"], stored[0]["VoucherNumber"]) == ("Booked", 1)
    postings = {p["AccountNumber"]: p["Amount"] for p in stored[0]["Lines"][0]["Postings"]}
    assert postings == {55000: 100, 1000: -80, 7200: -20}


async def test_manual_voucher_with_an_unknown_file_is_refused(api: Api) -> None:
    answer = await api.error(
        await api.post("/vouchers/manuel", {"FileGuid": "web0nope", "Lines": []})
    )
    assert "FileGuid" in answer["validationErrors"]
    assert (await api.get(f"/vouchers/manuel/{uuid4()}")).status_code == 404

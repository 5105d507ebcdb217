import datetime as dt
import uuid
from decimal import Decimal

import httpx
import pytest

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
from tests.contract.openapi import require_spec

GUID = uuid.UUID("3a315ad3-ddcc-419d-9fc5-219280ae4816")
OTHER = uuid.UUID("74ba828f-0b4b-49e1-b5c9-ef9675755556")

LINE = InvoiceLine(
    base_amount_value=Decimal("26.664"),
    quantity=Decimal("3"),
    account_number=1000,
    description="Sokker",
    discount=Decimal("0.00"),
    unit="parts",
    line_type="Product",
)


def assert_fits_dinero(method: str, path: str, body: JsonValue) -> None:
    """The body, as sent, satisfies Dinero's own schema (skips without the description)."""
    spec = require_spec()
    request = httpx.Request(
        method,
        f"https://api.dinero.dk{path}",
        content=dumps(body),
        headers={"Content-Type": "application/json"},
    )
    assert spec.validate_request(request) == []


def test_minimal_contact_sends_only_the_required_properties() -> None:
    contact = ContactCreate(name="Karen Kunde", country_key="DK", is_person=True)
    assert contact.to_json() == {
        "Name": "Karen Kunde",
        "CountryKey": "DK",
        "IsPerson": True,
        "IsMember": False,
        "UseCvr": False,
    }
    assert_fits_dinero("POST", "/v1/1/contacts", contact.to_json())


def test_full_contact_uses_dinero_property_names() -> None:
    contact = ContactCreate(
        name="Firma ApS",
        country_key="DK",
        is_person=False,
        contact_guid=GUID,
        external_reference="shop:1:customer:7",
        street="Vestergade 1",
        zip_code="8000",
        city="Aarhus C",
        phone="+4512345678",
        email="info@firma.dk",
        vat_number="12345678",
        ean_number="5790000000000",
        att_person="Karen",
    )
    body = contact.to_json()
    assert body == {
        "ContactGuid": str(GUID),
        "ExternalReference": "shop:1:customer:7",
        "Name": "Firma ApS",
        "Street": "Vestergade 1",
        "ZipCode": "8000",
        "City": "Aarhus C",
        "CountryKey": "DK",
        "Phone": "+4512345678",
        "Email": "info@firma.dk",
        "AttPerson": "Karen",
        "VatNumber": "12345678",
        "EanNumber": "5790000000000",
        "IsPerson": False,
        "IsMember": False,
        "UseCvr": False,
    }
    assert_fits_dinero("POST", "/v1/1/contacts", body)


def test_invoice_body_and_its_exact_amounts() -> None:
    invoice = InvoiceCreate(
        guid=GUID,
        contact_guid=OTHER,
        external_reference="gw:shop-1:order-1001",
        date=dt.date(2026, 11, 24),
        currency="DKK",
        language="da-DK",
        description="Faktura",
        comment="Ordre 1001",
        show_lines_incl_vat=True,
        product_lines=(
            LINE,
            InvoiceLine(
                base_amount_value=Decimal(0),
                quantity=Decimal(0),
                account_number=1000,
                description="Tak!",
                line_type="Text",
            ),
        ),
    )
    body = invoice.to_json()
    assert body == {
        "ContactGuid": str(OTHER),
        "Guid": str(GUID),
        "ShowLinesInclVat": True,
        "Currency": "DKK",
        "Language": "da-DK",
        "ExternalReference": "gw:shop-1:order-1001",
        "Description": "Faktura",
        "Comment": "Ordre 1001",
        "Date": "2026-11-24",
        "ProductLines": [
            {
                "BaseAmountValue": Decimal("26.664"),
                "Description": "Sokker",
                "Quantity": Decimal("3"),
                "AccountNumber": 1000,
                "Unit": "parts",
                "Discount": Decimal("0.00"),
                "LineType": "Product",
            },
            {
                "BaseAmountValue": Decimal(0),
                "Description": "Tak!",
                "Quantity": Decimal(0),
                "AccountNumber": 1000,
                "Discount": Decimal(0),
                "LineType": "Text",
            },
        ],
    }
    assert b'"BaseAmountValue":26.664' in dumps(body)
    assert b'"Discount":0.00' in dumps(body)
    assert_fits_dinero("POST", "/v1/1/invoices", body)
    assert_fits_dinero("POST", "/v1/1/invoices/fetch", body)


def test_invoice_payment_conditions_are_sent_when_set() -> None:
    invoice = InvoiceCreate(
        product_lines=(LINE,), payment_condition_type="Netto", payment_condition_number_of_days=8
    )
    body = invoice.to_json()
    assert body["PaymentConditionType"] == "Netto"
    assert body["PaymentConditionNumberOfDays"] == 8
    assert_fits_dinero("POST", "/v1/1/invoices", body)


def test_credit_note_names_its_invoice() -> None:
    credit_note = CreditNoteCreate(
        credit_note_for=OTHER, guid=GUID, external_reference="gw:refund:r1", product_lines=(LINE,)
    )
    body = credit_note.to_json()
    assert body["CreditNoteFor"] == str(OTHER)
    assert body["Guid"] == str(GUID)
    assert "PaymentConditionType" not in body
    assert_fits_dinero("POST", "/v1/1/sales/creditnotes", body)


def test_payment_body() -> None:
    payment = PaymentCreate(
        timestamp="00000000020A5EA8",
        deposit_account_number=55000,
        description="Betaling, ordre 1001",
        amount=Decimal("128.99"),
        payment_date=dt.date(2026, 11, 24),
        external_reference="gw:pay:1001",
    )
    body = payment.to_json()
    assert body == {
        "Timestamp": "00000000020A5EA8",
        "DepositAccountNumber": 55000,
        "RemainderIsFee": False,
        "ExternalReference": "gw:pay:1001",
        "PaymentDate": "2026-11-24",
        "Description": "Betaling, ordre 1001",
        "Amount": Decimal("128.99"),
    }
    assert_fits_dinero("POST", f"/v1/1/invoices/{GUID}/payments", body)
    assert_fits_dinero("POST", f"/v1/1/sales/creditnotes/{GUID}/payments", body)


def test_manual_voucher_body() -> None:
    voucher = ManualVoucherCreate(
        voucher_date=dt.date(2026, 11, 24),
        file_guid="web0crmck5v0ndcx3313g6zn61tc7wgc",
        external_reference="gw:voucher:1001",
        lines=(
            ManualVoucherLine(
                description="Salg, ordre 1001",
                account_number=55000,
                balancing_account_number=1000,
                amount=Decimal("80.00"),
                balancing_account_vat_code="U25",
            ),
        ),
    )
    body = voucher.to_json()
    assert body == {
        "VoucherDate": "2026-11-24",
        "Lines": [
            {
                "Description": "Salg, ordre 1001",
                "AccountNumber": 55000,
                "BalancingAccountNumber": 1000,
                "Amount": Decimal("80.00"),
                "BalancingAccountVatCode": "U25",
            }
        ],
        "FileGuid": "web0crmck5v0ndcx3313g6zn61tc7wgc",
        "ExternalReference": "gw:voucher:1001",
    }
    assert_fits_dinero("POST", "/v1/1/vouchers/manuel", body)


def test_inputs_refuse_what_dinero_would_refuse() -> None:
    with pytest.raises(ValueError, match="128"):
        InvoiceCreate(product_lines=(LINE,), external_reference="x" * 129)
    with pytest.raises(ValueError, match="at least one line"):
        CreditNoteCreate(product_lines=())
    with pytest.raises(ValueError, match="percentage"):
        InvoiceLine(
            base_amount_value=Decimal(1),
            quantity=Decimal(1),
            account_number=1000,
            discount=Decimal(101),
        )
    with pytest.raises(ValueError, match="must not be 0"):
        PaymentCreate(
            timestamp="T", deposit_account_number=55000, description="x", amount=Decimal("0.00")
        )
    with pytest.raises(ValueError, match="Description"):
        PaymentCreate(
            timestamp="T", deposit_account_number=55000, description="", amount=Decimal(1)
        )
    with pytest.raises(ValueError, match="Name"):
        ContactCreate(name="", country_key="DK", is_person=True)


def test_inputs_are_frozen_and_keyword_only() -> None:
    with pytest.raises(AttributeError):
        LINE.quantity = Decimal(2)  # type: ignore[misc]
    with pytest.raises(TypeError):
        InvoiceLine(Decimal(1), Decimal(1), 1000)  # type: ignore[call-arg]

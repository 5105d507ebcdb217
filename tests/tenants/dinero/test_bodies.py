"""`gateway.accounting`'s drafts as Dinero's request bodies (`tenants.dinero.bodies`): what is
sent fits Dinero's published schema, and a voucher carries its file, reference and date."""

from __future__ import annotations

import uuid
from decimal import Decimal

import httpx
import pytest

from gateway.dinero import jsonmoney
from tenants.dinero import bodies
from tests.contract.openapi import require_spec
from tests.gateway.accounting.test_accounting import (
    VALID_VAT,
    credit,
    invoice,
    line,
    make_order,
    refund_of,
)
from tests.gateway.accounting.test_vouchers import EXAMPLE, sale

Q = Decimal


def test_drafts_become_dinero_request_bodies_that_fit_its_schema() -> None:
    spec = require_spec()
    order = make_order(
        [line(quantity="3", unit_price="33.33", discount="1.00", vat_rate="0")],
        country="DE",
        vat_number=VALID_VAT["DE"],
    )
    draft = invoice(order)
    guid, contact = uuid.uuid4(), uuid.uuid4()
    body = bodies.invoice(draft, guid=guid, external_reference="shop:1001", contact_guid=contact)
    request = httpx.Request(
        "POST",
        "https://api.dinero.dk/v1/123/invoices",
        content=jsonmoney.dumps(body.to_json()),
        headers={"content-type": "application/json"},
    )
    assert spec.validate_request(request) == []
    sent = jsonmoney.loads(request.content)
    assert sent["ShowLinesInclVat"] is True and sent["Currency"] == "DKK"
    assert sent["ProductLines"][1]["BaseAmountValue"] == Q("-1.00")

    refund = refund_of(order, {"id": "r1", "lines": [line(vat_rate="0")], "total": "100.00"})
    note = bodies.credit_note(
        credit(order, refund),
        guid=uuid.uuid4(),
        external_reference="shop:1001:r1",
        contact_guid=contact,
        credit_note_for=guid,
    )
    request = httpx.Request(
        "POST",
        "https://api.dinero.dk/v1/123/sales/creditnotes",
        content=jsonmoney.dumps(note.to_json()),
        headers={"content-type": "application/json"},
    )
    assert spec.validate_request(request) == []
    assert jsonmoney.loads(request.content)["CreditNoteFor"] == str(guid)

    with pytest.raises(ValueError, match="credit note"):
        bodies.invoice(credit(order, refund), guid=guid, external_reference="x", contact_guid=None)


def test_the_voucher_body_carries_file_reference_and_date() -> None:
    body = bodies.manual_voucher(
        sale(EXAMPLE), file_guid="webabc", external_reference="dg-x-vou-1001"
    )
    sent = body.to_json()
    assert sent["FileGuid"] == "webabc"
    assert sent["ExternalReference"] == "dg-x-vou-1001"
    assert sent["VoucherDate"] == "2026-11-24"
    assert len(sent["Lines"]) == 2  # type: ignore[arg-type]

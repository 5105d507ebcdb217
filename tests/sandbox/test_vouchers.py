"""Files and manual vouchers (`vouchers.py`), without HTTP."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from sandbox import rules
from sandbox.errors import DineroApiError
from sandbox.ledger import Ledger
from sandbox.vouchers import MAX_FILE_SIZE
from tests.sandbox.books import booked

D = Decimal
PDF = b"%PDF-1.7\n%sandbox\n"


def test_files_must_be_pdf_or_image_up_to_6_mb(ledger: Ledger) -> None:
    stored = ledger.vouchers.store_file("kvittering.pdf", PDF)
    assert stored.extension == "pdf" and stored.size == len(PDF)
    assert ledger.vouchers.store_file(None, b"\x89PNG\r\n\x1a\n....").name == "file.png"
    for content in (b"PK\x03\x04zip", b"", b"%PDF-" + b"0" * MAX_FILE_SIZE):
        with pytest.raises(DineroApiError) as caught:
            ledger.vouchers.store_file("x", content)
        assert caught.value.status == 400 and caught.value.text


def voucher_body(**line_fields: Any) -> dict[str, Any]:
    return rules.bind(
        rules.VOUCHER_CREATE,
        {
            "Lines": [
                {
                    "AccountNumber": 55000,
                    "BalancingAccountNumber": 1000,
                    "Amount": D("80"),
                    **line_fields,
                }
            ]
        },
    )


def test_a_sale_voucher_adds_vat_and_balances(ledger: Ledger) -> None:
    voucher = ledger.vouchers.create(voucher_body())
    (sale,) = voucher.lines
    assert (sale.excl_vat, sale.vat_amount, sale.incl_vat) == (D("80"), D("20.00"), D("100.00"))
    postings = dict(sale.postings())
    assert postings == {55000: D("100.00"), 1000: D("-80"), 7200: D("-20.00")}
    assert sum(postings.values()) == 0


def test_a_purchase_voucher_takes_vat_out_of_the_amount(ledger: Ledger) -> None:
    voucher = ledger.vouchers.create(
        voucher_body(AccountNumber=2000, BalancingAccountNumber=55000, Amount=D("125"))
    )
    (purchase,) = voucher.lines
    assert (purchase.excl_vat, purchase.vat_amount) == (D("100.00"), D("25.00"))
    assert dict(purchase.postings()) == {2000: D("100.00"), 55000: D("-125"), 7210: D("25.00")}


def test_voucher_vat_codes(ledger: Ledger) -> None:
    suppressed = ledger.vouchers.create(voucher_body(BalancingAccountVatCode="none")).lines[0]
    assert suppressed.vat_amount == 0 and suppressed.incl_vat == D("80")
    with pytest.raises(DineroApiError) as caught:
        ledger.vouchers.create(voucher_body(AccountVatCode="XX9", BalancingAccountNumber=99))
    assert set(caught.value.validation_errors) == {
        "Lines[0].AccountVatCode",
        "Lines[0].BalancingAccountNumber",
    }
    with pytest.raises(DineroApiError, match="invalid"):
        ledger.vouchers.create(voucher_body(AccountVatCode="I25"))  # VAT on both sides


def test_vouchers_have_their_own_number_series(ledger: Ledger) -> None:
    booked(ledger)
    voucher = ledger.vouchers.create(voucher_body())
    ledger.vouchers.book(voucher.guid, voucher.timestamp, None, booked_by="isv_test")
    assert voucher.number == 1 and voucher.status == "Booked"
    with pytest.raises(DineroApiError, match="already booked"):
        ledger.vouchers.book(voucher.guid, voucher.timestamp, None, booked_by="isv_test")


def test_a_voucher_links_its_file(ledger: Ledger) -> None:
    stored = ledger.vouchers.store_file("bilag.pdf", PDF)
    voucher = ledger.vouchers.create(
        rules.bind(rules.VOUCHER_CREATE, {"FileGuid": stored.guid, "Lines": []})
    )
    assert [link.voucher for link in stored.links] == [voucher]
    with pytest.raises(DineroApiError) as caught:
        ledger.vouchers.create(rules.bind(rules.VOUCHER_CREATE, {"FileGuid": "web0nope"}))
    assert "FileGuid" in caught.value.validation_errors

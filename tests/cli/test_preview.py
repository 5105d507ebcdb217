"""`gateway sources preview`, run as a real subprocess: no database, no network."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

CORPUS = Path(__file__).parents[1] / "gateway" / "shopify" / "corpus"


def preview(*args: str) -> subprocess.CompletedProcess[str]:
    # No DATABASE_URL or REDIS_URL: the preview must not need them.
    return subprocess.run(
        [sys.executable, "-m", "cli.main", "sources", "preview", *args],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
        timeout=60,
        check=False,
    )


def shown(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(result.stdout)
    return parsed


def test_a_paid_order_shows_the_canonical_order_and_its_invoice() -> None:
    result = preview("shopify", str(CORPUS / "dk_taxes_included.json"))
    assert result.returncode == 0, result.stderr
    out = shown(result)
    assert out["order"]["id"] == "5001"
    assert out["order"]["total"] == "278.85"
    [invoice] = out["documents"]
    assert invoice == {
        "kind": "invoice",
        "currency": "DKK",
        "lines": [
            {
                "description": "Uldsokker - Grå / 39-42",
                "quantity": "3",
                "unit_price": "79.95",
                "account": 1000,
                "vat_rate": "0.25",
            },
            {
                "description": "GLS Pakkeshop",
                "quantity": "1",
                "unit_price": "39.00",
                "account": 1350,
                "vat_rate": "0.25",
            },
        ],
        "total_excl_vat": "223.08",
        "total_vat": "55.77",
        "total_incl_vat": "278.85",
    }


def test_a_refund_file_adds_its_credit_note() -> None:
    result = preview(
        "shopify",
        str(CORPUS / "dk_taxes_included.json"),
        "--refund",
        str(CORPUS / "dk_partial_refund_with_shipping.refund.json"),
    )
    assert result.returncode == 0, result.stderr
    kinds = [(d["kind"], d["total_incl_vat"], d["total_vat"]) for d in shown(result)["documents"]]
    assert kinds == [("invoice", "278.85", "55.77"), ("credit_note", "118.95", "23.79")]


def test_the_same_refund_in_the_order_and_in_a_file_is_one_credit_note(tmp_path: Path) -> None:
    result = preview(
        "shopify",
        str(CORPUS / "dk_partially_refunded.json"),
        "--refund",
        str(CORPUS / "dk_partial_refund_with_shipping.refund.json"),
    )
    assert result.returncode == 0, result.stderr
    assert [d["kind"] for d in shown(result)["documents"]] == ["invoice", "credit_note"]


def test_an_unpaid_order_owes_no_documents(tmp_path: Path) -> None:
    order = json.loads((CORPUS / "dk_taxes_included.json").read_text("utf-8"))
    order["financial_status"] = "pending"
    path = tmp_path / "pending.json"
    path.write_text(json.dumps(order), "utf-8")
    result = preview("shopify", str(path))
    assert result.returncode == 0, result.stderr
    out = shown(result)
    assert out["documents"] == []
    assert out["order"]["paid_at"] is None


def test_a_refused_order_prints_the_problem_and_exits_1() -> None:
    result = preview("shopify", str(CORPUS / "python_api_order.json"))
    assert result.returncode == 1
    problem = shown(result)
    assert problem["type"] == "/api/problems/inconsistent-order"
    assert problem["status"] == 422
    [error] = problem["errors"]
    assert error["pointer"] == "/total_price"
    assert "a difference of -187.06" in error["detail"]


def test_every_invalid_field_is_listed(tmp_path: Path) -> None:
    order = json.loads((CORPUS / "dk_taxes_included.json").read_text("utf-8"))
    del order["billing_address"]["country_code"]
    order["line_items"][0]["quantity"] = 0
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(order), "utf-8")
    result = preview("shopify", str(path))
    assert result.returncode == 1
    problem = shown(result)
    assert problem["type"] == "/api/problems/invalid-event"
    assert {e["pointer"] for e in problem["errors"]} == {
        "/line_items/0/quantity",
        "/billing_address/country_code",
    }


def test_a_rate_that_does_not_fit_the_customer_is_a_vat_mismatch(tmp_path: Path) -> None:
    order = json.loads((CORPUS / "export_no.json").read_text("utf-8"))
    order["line_items"][0]["taxable"] = True
    order["line_items"][0]["tax_lines"] = [{"price": "79.95", "rate": 0.25, "title": "Moms"}]
    order["total_tax_set"]["presentment_money"]["amount"] = "79.95"
    path = tmp_path / "export_with_vat.json"
    path.write_text(json.dumps(order), "utf-8")
    result = preview("shopify", str(path))
    assert result.returncode == 1
    problem = shown(result)
    assert problem["type"] == "/api/problems/vat-mismatch"
    assert "zero-rated" in problem["errors"][0]["detail"]


WOOCOMMERCE = Path(__file__).parents[1] / "gateway" / "woocommerce" / "corpus"


def test_a_woocommerce_order_and_its_refund_show_the_invoice_and_the_credit_note() -> None:
    result = preview(
        "woocommerce",
        str(WOOCOMMERCE / "dk_partially_refunded.json"),
        "--refund",
        str(WOOCOMMERCE / "dk_partial_refund.refund.json"),
    )
    assert result.returncode == 0, result.stderr
    out = shown(result)
    assert out["order"]["id"] == "5001"
    assert out["order"]["prices_include_vat"] is True
    kinds = [(d["kind"], d["total_incl_vat"], d["total_vat"]) for d in out["documents"]]
    assert kinds == [("invoice", "278.85", "55.77"), ("credit_note", "118.95", "23.79")]
    assert out["documents"][0]["lines"][0] == {
        "description": "Uldsokker - Grå, 39-42",
        "quantity": "3",
        "unit_price": "79.95",
        "account": 1000,
        "vat_rate": "0.25",
    }


def test_a_woocommerce_order_without_tax_rates_is_refused_naming_the_field() -> None:
    # The REST API docs' own example predates `rate_percent`.
    result = preview("woocommerce", str(WOOCOMMERCE / "docs_order_create.json"))
    assert result.returncode == 1
    problem = shown(result)
    assert problem["type"] == "/api/problems/invalid-event"
    assert [e["pointer"] for e in problem["errors"]] == ["/tax_lines/0/rate_percent"]


def test_a_cancelled_unpaid_woocommerce_order_owes_nothing() -> None:
    result = preview("woocommerce", str(WOOCOMMERCE / "cancelled_unpaid.json"))
    assert result.returncode == 0, result.stderr
    assert shown(result)["documents"] == []


def test_a_tip_duties_and_a_fee_are_lines_on_their_own_accounts() -> None:
    out = shown(preview("shopify", str(CORPUS / "dk_tip.json")))
    [invoice] = out["documents"]
    assert invoice["total_incl_vat"] == "303.85"
    assert {"description": "Tip", "quantity": "1", "unit_price": "25.00", "account": 1050,
            "vat_rate": "0"} in invoice["lines"]  # fmt: skip
    assert out["order"]["fees"] == [
        {"name": "Tip", "amount": "25.00", "vat_rate": "0", "kind": "tip"}
    ]
    duties = shown(preview("shopify", str(CORPUS / "export_no_duties.json")))["documents"][0]
    assert duties["total_incl_vat"] == "545.50"
    assert [line["account"] for line in duties["lines"]] == [1255, 1255, 1050]


def test_a_gift_card_sold_needs_its_account_then_shows_it_without_vat() -> None:
    order = str(CORPUS / "gift_card_sold.json")
    refused = preview("shopify", order)
    assert refused.returncode == 1
    assert "Gift cards sold (a liability, no VAT)" in shown(refused)["detail"]
    booked = preview(
        "shopify", order, "--account", "gift_cards=6850",
        "--refund", str(CORPUS / "gift_card_sold.refund.json"),
    )  # fmt: skip
    assert booked.returncode == 0, booked.stdout
    invoice, credit_note = shown(booked)["documents"]
    assert invoice["lines"][0]["account"] == 6850 and invoice["lines"][0]["vat_rate"] == "0"
    assert (invoice["total_vat"], invoice["total_incl_vat"]) == ("20.00", "600.00")
    assert [line["account"] for line in credit_note["lines"]] == [6850]
    assert preview("shopify", order, "--account", "gift_cards=x").returncode == 2


def test_a_tip_and_duties_paid_back_show_on_the_credit_note_with_their_accounts() -> None:
    tipped = preview(
        "shopify", str(CORPUS / "dk_tip.json"), "--account", "tips=6860",
        "--refund", str(CORPUS / "dk_tip.refund.json"),
    )  # fmt: skip
    assert tipped.returncode == 0, tipped.stdout
    _, note = shown(tipped)["documents"]
    assert [(line["description"], line["account"]) for line in note["lines"]] == [
        ("Uldsokker - Grå / 39-42", 1000),
        ("Tip", 6860),
    ]
    assert (note["total_vat"], note["total_incl_vat"]) == ("15.99", "104.95")
    dutied = preview(
        "shopify", str(CORPUS / "export_no_duties.json"),
        "--refund", str(CORPUS / "export_no_duties.refund.json"),
    )  # fmt: skip
    assert dutied.returncode == 0, dutied.stdout
    _, note = shown(dutied)["documents"]
    assert [(line["account"], line["vat_rate"]) for line in note["lines"]] == [
        (1255, "0"),
        (1050, "0"),
    ]
    assert note["total_incl_vat"] == "445.25"

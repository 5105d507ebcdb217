"""A one-page PDF receipt, for a voucher whose order brought no invoice PDF of its own, so
every voucher in Dinero carries a document. Rendered with fpdf2 (pure Python and maintained;
its one binary dependency, Pillow, ships wheels) in its built-in Helvetica, whose Latin-1
covers Danish; other characters are simplified (`_latin`)."""

from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from gateway.accounting import copenhagen_date
from gateway.orders import Order, Refund

_RECEIPT_ROWS: Final = 24  # what fits one A4 page under the header


@dataclass(frozen=True)
class _ReceiptWords:
    receipt: str
    credit: str
    cancellation: str
    order: str
    invoice: str
    date: str
    customer: str
    vat_number: str
    item: str
    quantity: str
    unit_price: str
    amount: str
    shipping: str
    discount: str
    more: str
    vat: str
    total: str
    refunded: str
    footer: str


_RECEIPT_WORDS: Final[dict[str, _ReceiptWords]] = {
    "da-DK": _ReceiptWords(
        receipt="Kvittering",
        credit="Kreditering",
        cancellation="Annullering",
        order="Ordre",
        invoice="Faktura",
        date="Dato",
        customer="Kunde",
        vat_number="CVR/momsnr.",
        item="Vare",
        quantity="Antal",
        unit_price="Stykpris",
        amount="Beløb",
        shipping="Fragt",
        discount="Rabat",
        more="… og {count} linjer mere",
        vat="Heraf moms",
        total="I alt",
        refunded="Tilbageført",
        footer="Dannet af Dinero Gateway, da butikken ikke sendte sin egen faktura.",
    ),
    "en-GB": _ReceiptWords(
        receipt="Receipt",
        credit="Credit",
        cancellation="Cancellation",
        order="Order",
        invoice="Invoice",
        date="Date",
        customer="Customer",
        vat_number="VAT number",
        item="Item",
        quantity="Qty",
        unit_price="Unit price",
        amount="Amount",
        shipping="Shipping",
        discount="Discount",
        more="… and {count} more lines",
        vat="VAT included",
        total="Total",
        refunded="Reversed",
        footer="Made by Dinero Gateway because the shop sent no invoice of its own.",
    ),
}


def receipt_pdf(
    order: Order,
    shop_name: str,
    *,
    vat: Decimal,
    language: str = "da-DK",
    refund: Refund | None = None,
    reversed_total: Decimal | None = None,
    date: dt.date | None = None,
) -> bytes:
    """A one-page receipt for a voucher whose order brought no PDF: the shop, the order (and
    the shop's invoice number), the date, the customer, the lines, VAT and total. With
    `refund` it lists what was refunded; with `reversed_total` (a cancellation) the order's
    lines and the amount reversed. `vat` is the voucher's VAT, so the two agree. The same
    order renders the same bytes (no clock in the file), so a retried upload is identical."""
    # Imported here: fpdf takes a third of a second to import, which every process that
    # merely imports the posting code would otherwise pay.
    from fpdf import FPDF
    from fpdf.enums import XPos, YPos

    words = _RECEIPT_WORDS.get(language, _RECEIPT_WORDS["da-DK"])
    day = date or copenhagen_date(order.created_at)
    pdf = FPDF(format="A4", unit="mm")
    pdf.set_auto_page_break(False)
    pdf.set_creation_date(dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC))
    pdf.set_title(_latin(f"{words.receipt} {order.number}"))
    pdf.set_author(_latin(shop_name))
    pdf.set_margins(20, 20, 20)
    pdf.add_page()

    title = words.credit if refund else words.cancellation if reversed_total else words.receipt
    pdf.set_font("helvetica", "B", 18)
    pdf.cell(0, 10, _latin(shop_name, 60), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("helvetica", "", 13)
    pdf.cell(0, 8, _latin(title), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(3)

    pdf.set_font("helvetica", "", 10)
    facts = [(words.order, order.number)]
    if order.invoice is not None:
        facts.append((words.invoice, order.invoice.number))
    facts.append((words.date, day.isoformat()))
    for label, value in facts:
        pdf.cell(35, 5.5, _latin(label))
        pdf.cell(0, 5.5, _latin(value, 80), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(3)
    pdf.set_font("helvetica", "B", 10)
    pdf.cell(0, 5.5, _latin(words.customer), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("helvetica", "", 10)
    for text in _customer_lines(order, words):
        pdf.cell(0, 5, _latin(text, 90), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(5)

    rows = _receipt_rows(order, refund, words)
    widths = (90, 20, 30, 30)
    pdf.set_font("helvetica", "B", 10)
    for text, width, align in zip(
        (words.item, words.quantity, words.unit_price, words.amount),
        widths,
        ("L", "R", "R", "R"),
        strict=True,
    ):
        pdf.cell(width, 6, _latin(text), border="B", align=align)
    pdf.ln(6)
    pdf.set_font("helvetica", "", 10)
    listed = rows if len(rows) <= _RECEIPT_ROWS else rows[: _RECEIPT_ROWS - 1]
    for name, quantity, unit_price, amount in listed:
        pdf.cell(widths[0], 5.5, _latin(name, 48))
        pdf.cell(widths[1], 5.5, quantity, align="R")
        pdf.cell(widths[2], 5.5, unit_price, align="R")
        pdf.cell(widths[3], 5.5, amount, align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    if len(listed) < len(rows):
        more = words.more.format(count=len(rows) - len(listed))
        pdf.cell(0, 5.5, _latin(more), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    total = refund.total if refund else order.total
    pdf.ln(2)
    pdf.cell(sum(widths), 0, "", border="T", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(1)
    summary = [(words.vat, vat), (words.total, total)]
    if reversed_total is not None:
        summary.append((words.refunded, reversed_total))
    for index, (label, figure) in enumerate(summary):
        pdf.set_font("helvetica", "B" if index else "", 10)
        pdf.cell(sum(widths[:3]), 6, _latin(label), align="R")
        shown = f"{_money(figure)} {order.currency}"
        pdf.cell(widths[3], 6, shown, align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    pdf.set_y(-25)
    pdf.set_font("helvetica", "I", 8)
    pdf.cell(0, 5, _latin(words.footer), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    return bytes(pdf.output())


def _customer_lines(order: Order, words: _ReceiptWords) -> list[str]:
    customer = order.customer
    address = customer.address
    lines = [customer.company, customer.name if customer.company else None]
    lines += [customer.name if not customer.company else None, address.street]
    lines.append(" ".join(part for part in (address.zip, address.city) if part) or None)
    lines += [address.country, customer.email]
    if customer.vat_number:
        lines.append(f"{words.vat_number} {customer.vat_number}")
    return [line for line in lines if line]


def _receipt_rows(
    order: Order, refund: Refund | None, words: _ReceiptWords
) -> list[tuple[str, str, str, str]]:
    lines = refund.lines if refund else order.lines
    shipping = refund.shipping if refund else order.shipping
    rows = []
    for line in lines:
        rows.append(
            (line.name, _quantity(line.quantity), _money(line.unit_price), _money(line.subtotal))
        )
        if line.discount:
            rows.append((f"{words.discount}: {line.name}", "", "", _money(-line.discount)))
    if shipping is not None:
        rows.append((f"{words.shipping}: {shipping.name}", "", "", _money(shipping.price)))
    fees = refund.fees if refund else order.fees
    rows += [(fee.name, "", "", _money(fee.amount)) for fee in fees]
    if refund is None:
        rows += [
            (f"{words.discount}: {discount.name}", "", "", _money(-discount.amount))
            for discount in order.discounts
            if discount.amount
        ]
    return rows


def _money(amount: Decimal) -> str:
    return f"{amount:,.2f}".replace(",", " ")


def _quantity(quantity: Decimal) -> str:
    return f"{quantity.normalize():f}"


def _latin(text: str, limit: int = 200) -> str:
    """`text` in the PDF core fonts' Latin-1: accents kept where Latin-1 has them, else
    stripped (NFKD), else `?`; cut at `limit` characters."""
    out = []
    for char in text[:limit]:
        if ord(char) < 256:
            out.append(char)
            continue
        plain = unicodedata.normalize("NFKD", char).encode("latin-1", "ignore").decode("latin-1")
        out.append(plain or ("..." if char == "…" else "?"))
    return "".join(out)

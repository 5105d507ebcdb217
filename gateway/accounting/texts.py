"""The texts on documents: the shop's description template, and the fixed words the gateway
writes, per language."""

from __future__ import annotations

import string
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from gateway.accounting.model import Language
from gateway.orders import Order

PLACEHOLDERS: Final = ("shop", "number", "order_id", "customer")


class InvalidTemplate(ValueError):
    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


def check_template(template: str) -> list[str]:
    """What is wrong with an invoice text template (empty when it is fine)."""
    problems = []
    if len(template) > 1000:
        problems.append("the text is longer than 1000 characters")
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError:
        return [*problems, "unbalanced { or }: write {{ or }} for a literal brace"]
    allowed = ", ".join(f"{{{name}}}" for name in PLACEHOLDERS)
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if name not in PLACEHOLDERS or spec or conversion:
            shown = "{" + name + (f"!{conversion}" if conversion else "")
            shown += (f":{spec}" if spec else "") + "}"
            problems.append(f"unknown placeholder {shown}: use {allowed}")
    return problems


def invoice_text(template: str, *, shop_name: str, order: Order) -> str:
    """The template with its placeholders filled in (values inserted as they are, never
    formatted, so a template cannot reach into them)."""
    problems = check_template(template)
    if problems:
        raise InvalidTemplate(problems)
    values = {
        "shop": shop_name,
        "number": order.number,
        "order_id": order.id,
        "customer": order.customer.display_name,
    }
    out = []
    for literal, name, _, _ in string.Formatter().parse(template):
        out.append(literal)
        if name is not None:
            out.append(values[name])
    return "".join(out)


@dataclass(frozen=True)
class Words:
    """What the gateway writes on documents in one language, besides the shop's own texts."""

    rounding: str
    # invoices and credit notes
    discount: str
    vat: str
    credit_note: str
    refund: str
    cancellation: str
    already_credited: str
    reverse_charge: str
    buyer_vat_number: str
    # manual vouchers: what each is of ({document}: the shop's invoice, else the order)
    shop_invoice: str
    order: str
    refund_of: str
    cancellation_of: str
    payment_of: str


WORDS: Final[dict[Language, Words]] = {
    "da-DK": Words(
        rounding="Øreafrunding",
        discount="Rabat",
        vat="moms",
        credit_note="Kreditnota",
        refund="Refusion {refund} af ordre {number}",
        cancellation="Annullering af ordre {number}",
        already_credited="Allerede krediteret (refusion {refund})",
        reverse_charge="Omvendt betalingspligt (reverse charge): der er ikke faktureret dansk "
        "moms; køber afregner momsen.",
        buyer_vat_number="Købers momsnummer: {vat_number}",
        shop_invoice="Faktura {number}",
        order="Ordre {number}",
        refund_of="Refusion {refund} af {document}",
        cancellation_of="Annullering af {document}",
        payment_of="Betaling af {document}",
    ),
    "en-GB": Words(
        rounding="Rounding",
        discount="Discount",
        vat="VAT",
        credit_note="Credit note",
        refund="Refund {refund} of order {number}",
        cancellation="Cancellation of order {number}",
        already_credited="Already credited (refund {refund})",
        reverse_charge="Reverse charge: no VAT has been charged; the buyer accounts for the VAT.",
        buyer_vat_number="Buyer's VAT number: {vat_number}",
        shop_invoice="Invoice {number}",
        order="Order {number}",
        refund_of="Refund {refund} of {document}",
        cancellation_of="Cancellation of {document}",
        payment_of="Payment of {document}",
    ),
}

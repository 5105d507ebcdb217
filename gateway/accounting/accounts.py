"""Which account each amount goes to, by the customer's VAT treatment.

VAT follows DINERO.md's table. The treatment comes from the customer (`vat_treatment`); each
amount's account from the treatment, what it is (goods, service, shipping, fee) and the VAT rate
the shop charged, which must fit the treatment: reverse charge or export with 25 % VAT, or
foreign VAT (OSS, which Dinero cannot book), is an error to show, never a silent guess. Shipping
and fees follow the goods abroad (the goods account of the treatment); at home they have their
own roles.

Tips, duties and gift cards sold are not sales, whoever the buyer is: each carries no VAT
(any other rate is an error) and goes to its own role. Dinero's standard chart has no
account for gift cards owed to their holders, so that role has none until the owner chooses
one (`MissingAccount` until then).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from decimal import Decimal
from enum import StrEnum
from typing import Final, Literal

from stdnum.eu import vat as eu_vat

from gateway.accounting.charges import Charges
from gateway.accounting.errors import AccountingError
from gateway.orders import (
    EU_COUNTRIES,
    VAT_PREFIXES,
    Charge,
    Customer,
    FieldError,
    Line,
    Order,
    Refund,
    Shipping,
    vat_prefix,
)

SELLER_COUNTRY: Final = "DK"
DANISH_VAT: Final = Decimal("0.25")

_NO_VAT = Decimal(0)
_HUNDRED = Decimal(100)
_VAT_ROLES: Final = frozenset({"goods_dk", "services_dk", "shipping", "fees"})

_Item = Literal["goods", "service", "shipping", "fee", "tip", "duty", "gift_card"]
# No account chosen (account numbers start at 1).
UNSET: Final = 0
GIFT_CARD_SETTING: Final = "Gift cards sold (a liability, no VAT)"


class MissingAccount(AccountingError):
    """An amount needs an account the shop has not chosen; the message names the setting."""


class Treatment(StrEnum):
    DOMESTIC = "domestic"
    EU_BUSINESS = "eu_business"  # a valid VAT number from another member state: reverse charge
    EU_PRIVATE = "eu_private"
    EXPORT = "export"


class InvalidAccountPlan(ValueError):
    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


@dataclass(frozen=True)
class AccountPlan:
    """Account number per role; the defaults are Dinero's standard chart. The 25 % roles must
    be accounts with VAT code U25 and the rest accounts without VAT; no account may serve
    both. The rounding, tips and duties roles default to 1050, sales without VAT; gift cards
    sold have no standard account (`UNSET`): the owner chooses a liability account."""

    goods_dk: int = 1000
    services_dk: int = 1000
    goods_eu_business: int = 1100
    services_eu_business: int = 1200
    goods_export: int = 1255
    services_export: int = 1260
    shipping: int = 1350
    fees: int = 1000
    no_vat: int = 1050
    rounding: int = 1050
    tips: int = 1050
    duties: int = 1050
    gift_cards: int = UNSET

    def __post_init__(self) -> None:
        rates: dict[int, tuple[str, Decimal]] = {}
        problems = []
        for role, account in self.roles().items():
            if account == UNSET:
                continue
            rate = DANISH_VAT if role in _VAT_ROLES else _NO_VAT
            seen = rates.setdefault(account, (role, rate))
            if seen[1] != rate:
                problems.append(
                    f"account {account} cannot be both {seen[0]} ({rate_text(seen[1])} VAT) "
                    f"and {role} ({rate_text(rate)} VAT)"
                )
        if problems:
            raise InvalidAccountPlan(problems)

    @classmethod
    def with_overrides(cls, overrides: Mapping[str, object]) -> AccountPlan:
        """The standard plan with a shop's `account_overrides` (role → account number)."""
        known = {f.name for f in fields(cls)}
        chosen: dict[str, int] = {}
        problems = []
        for role, value in overrides.items():
            if role not in known:
                problems.append(f"unknown role {role!r}: use one of {', '.join(sorted(known))}")
            elif isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**31:
                chosen[role] = value
            elif isinstance(value, str) and value.isdigit() and 0 < int(value) < 2**31:
                chosen[role] = int(value)
            else:
                problems.append(f"{role}: {value!r} is not an account number")
        if problems:
            raise InvalidAccountPlan(problems)
        return cls(**chosen)

    def roles(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def vat_rate_of(self, account: int) -> Decimal:
        """The VAT rate the plan expects `account` to carry (to check against Dinero's chart)."""
        for role, number in self.roles().items():
            if number == account:
                return DANISH_VAT if role in _VAT_ROLES else _NO_VAT
        raise ValueError(f"account {account} is not in the plan")


def vat_treatment(customer: Customer, seller_country: str = SELLER_COUNTRY) -> Treatment:
    country = customer.address.country
    if country == seller_country:
        return Treatment.DOMESTIC
    if country not in EU_COUNTRIES:
        return Treatment.EXPORT
    number = customer.vat_number or ""
    prefix = number[:2]
    if prefix in VAT_PREFIXES - {"XI", vat_prefix(seller_country)} and eu_vat.is_valid(number):
        return Treatment.EU_BUSINESS
    return Treatment.EU_PRIVATE


def account_of(charge: Charge, plan: AccountPlan, treatment: Treatment) -> int:
    """The account `charge` goes to; `ValueError` when its rate does not fit the treatment."""
    return _account(plan, treatment, _item_of(charge), charge.vat_rate)


def _item_of(charge: Charge) -> _Item:
    if isinstance(charge, Line):
        return charge.kind
    if isinstance(charge, Shipping):
        return "shipping"
    return charge.kind


def _account(plan: AccountPlan, treatment: Treatment, item: _Item, rate: Decimal) -> int:
    """The account for one amount of `item`; `ValueError` when `rate` does not fit,
    `MissingAccount` when its role has no account yet."""
    if item in ("tip", "duty", "gift_card"):
        return _not_a_sale(plan, item, rate)
    if treatment in (Treatment.DOMESTIC, Treatment.EU_PRIVATE):
        if rate == 0:
            return plan.no_vat
        if rate == DANISH_VAT:
            return {
                "goods": plan.goods_dk,
                "service": plan.services_dk,
                "shipping": plan.shipping,
                "fee": plan.fees,
            }[item]
        if treatment is Treatment.DOMESTIC:
            raise ValueError(
                f"a Danish sale carries 25 % VAT (or 0 when exempt), not {rate_text(rate)}"
            )
        raise ValueError(
            f"{rate_text(rate)} is not Danish VAT: the destination country's VAT (OSS) cannot "
            "be booked in Dinero; charge 25 % or 0"
        )
    if rate != 0:
        why = (
            "the buyer has a valid EU VAT number, so the sale is reverse charge"
            if treatment is Treatment.EU_BUSINESS
            else "a sale to a customer outside the EU is zero-rated"
        )
        raise ValueError(f"{why}: its VAT rate must be 0, not {rate_text(rate)}")
    if treatment is Treatment.EU_BUSINESS:
        return plan.services_eu_business if item == "service" else plan.goods_eu_business
    return plan.services_export if item == "service" else plan.goods_export


def _not_a_sale(plan: AccountPlan, item: _Item, rate: Decimal) -> int:
    if rate != 0:
        why = {
            "tip": "a tip is given by the buyer, not charged for a sale",
            "duty": "duties are collected for the customs authorities, not charged for a sale",
            "gift_card": "a gift card sold is paid in advance for a sale still to come (a "
            "multi-purpose voucher: VAT is due when it is used)",
        }[item]
        raise ValueError(f"{why}: its VAT rate must be 0, not {rate_text(rate)}")
    if item == "tip":
        return plan.tips
    if item == "duty":
        return plan.duties
    if plan.gift_cards == UNSET:
        raise MissingAccount(
            "a gift card was sold, which is owed to its holder rather than earned, and Dinero's "
            "standard chart has no account for it: choose one (a liability account without "
            f'VAT) under the shop\'s Settings, Accounts, "{GIFT_CARD_SETTING}", then retry'
        )
    return plan.gift_cards


# Built once: checking a plan's accounts costs more than the whole VAT check of an order.
_STANDARD_PLAN: Final = AccountPlan()


def vat_errors(order: Order, refund: Refund | None = None) -> list[FieldError]:
    """Every amount whose VAT rate does not fit the customer's treatment, with its pointer in
    the ingest body, so the API can refuse the order up front (accounts do not matter here:
    which rates fit is the same for every plan)."""
    treatment = vat_treatment(order.customer)
    errors = vat_problems(Charges.of_order(order), treatment, _STANDARD_PLAN)
    if refund is not None:
        errors += vat_problems(Charges.of_refund(refund), treatment, _STANDARD_PLAN)
    return errors


def vat_problems(charges: Charges, treatment: Treatment, plan: AccountPlan) -> list[FieldError]:
    """Every charge whose VAT rate does not fit `treatment`, with its pointer."""
    errors = []
    for pointer, charge in charges.pointed():
        try:
            account_of(charge, plan, treatment)
        except ValueError as exc:
            errors.append(FieldError(f"{pointer}/vat_rate", str(exc)))
        except MissingAccount:
            pass  # the rate fits; which account is the shop's settings' business
    return errors


def rate_text(rate: Decimal) -> str:
    """A VAT rate as people write it: `0.25` is "25 %"."""
    return f"{(rate * _HUNDRED).normalize():f} %"

"""Dinero's standard chart of accounts, VAT types and currency rates, as the sandbox seeds them.

A line's VAT is decided by its account: each entry account carries a VAT code, each VAT code a
rate. Every organisation starts from the same chart (`Chart.standard()`); a ledger keeps its own
copy so a test can rename or add accounts for one organisation without touching the others.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

# Suppresses an account's default VAT code on a manual voucher line.
NO_VAT = "none"
# Where VAT is posted when a manual voucher is booked.
SALES_VAT_ACCOUNT = 7200
PURCHASE_VAT_ACCOUNT = 7210


@dataclass(frozen=True)
class VatType:
    code: str
    name: str
    rate: Decimal
    # Purchase VAT is contained in the amount entered on a manual voucher, sales VAT is added.
    is_purchase: bool = False


@dataclass(frozen=True)
class EntryAccount:
    number: int
    name: str
    vat_code: str | None
    category: str
    category_name: str
    is_hidden: bool = False
    is_default_sales_account: bool = False


@dataclass(frozen=True)
class DepositAccount:
    number: int
    name: str
    is_default: bool = False
    is_hidden: bool = False


_VAT_TYPES = (
    VatType("U25", "Salgsmoms 25%", Decimal("0.25")),
    VatType("I25", "Købsmoms 25%", Decimal("0.25"), is_purchase=True),
    VatType("UEUV", "Salg af varer til andre EU-lande", Decimal("0")),
    VatType("UEUY", "Salg af ydelser til andre EU-lande", Decimal("0")),
    VatType("UVV", "Salg af varer til lande uden for EU", Decimal("0")),
    VatType("UVY", "Salg af ydelser til lande uden for EU", Decimal("0")),
    VatType(NO_VAT, "Ingen moms", Decimal("0")),
)

_TURNOVER = ("Turnover", "Omsætning")
_VARIABLE = ("Variable Expenses", "Variable omkostninger")
_SALES_EXPENSES = ("Sales Expenses", "Salgsomkostninger")
_ADMINISTRATION = ("Administration Expenses", "Administrationsomkostninger")
_LIQUID = ("Liquid Assets", "Likvide beholdninger")
_RECEIVABLES = ("Receivables", "Tilgodehavender")
_SHORT_DEBT = ("Short Term Debt", "Kortfristet gæld")
_VAT_DUE = ("Vat Due", "Moms")

_ENTRY_ACCOUNTS = (
    EntryAccount(
        1000, "Salg af varer/ydelser m/moms", "U25", *_TURNOVER, is_default_sales_account=True
    ),
    EntryAccount(1050, "Salg af varer/ydelser u/moms", None, *_TURNOVER),
    EntryAccount(1100, "Salg af varer til EU", "UEUV", *_TURNOVER),
    EntryAccount(1200, "Salg af ydelser til EU", "UEUY", *_TURNOVER),
    EntryAccount(1255, "Salg af varer uden for EU", "UVV", *_TURNOVER),
    EntryAccount(1260, "Salg af ydelser uden for EU", "UVY", *_TURNOVER),
    EntryAccount(1350, "Fragt", "U25", *_TURNOVER),
    EntryAccount(2000, "Vareforbrug", "I25", *_VARIABLE),
    EntryAccount(2900, "Gebyrer til betalingsformidlere", None, *_SALES_EXPENSES),
    EntryAccount(3600, "Kontorartikler", "I25", *_ADMINISTRATION),
    EntryAccount(5800, "Debitorer", None, *_RECEIVABLES),
    EntryAccount(6800, "Kreditorer", None, *_SHORT_DEBT),
    EntryAccount(SALES_VAT_ACCOUNT, "Salgsmoms", None, *_VAT_DUE),
    EntryAccount(PURCHASE_VAT_ACCOUNT, "Købsmoms", None, *_VAT_DUE),
)

_DEPOSIT_ACCOUNTS = (
    DepositAccount(55000, "Bank", is_default=True),
    DepositAccount(55010, "Kortindløser (clearing)"),
    DepositAccount(55020, "MobilePay"),
    DepositAccount(55090, "Gammel bankkonto", is_hidden=True),
)

# Fixed rates (DKK per 100 units) so that DKK totals are reproducible; Dinero uses the day's rate.
_CURRENCY_RATES = {
    "DKK": Decimal("100"),
    "EUR": Decimal("746.00"),
    "SEK": Decimal("65.00"),
    "NOK": Decimal("63.00"),
    "USD": Decimal("690.00"),
    "GBP": Decimal("870.00"),
    "CHF": Decimal("780.00"),
    "PLN": Decimal("175.00"),
}


@dataclass
class Chart:
    """One organisation's accounts, VAT types and currency rates."""

    entry_accounts: dict[int, EntryAccount] = field(default_factory=dict)
    deposit_accounts: dict[int, DepositAccount] = field(default_factory=dict)
    vat_types: dict[str, VatType] = field(default_factory=dict)
    currency_rates: dict[str, Decimal] = field(default_factory=dict)

    @classmethod
    def standard(cls) -> Chart:
        entry = {account.number: account for account in _ENTRY_ACCOUNTS}
        # Dinero's entry accounts are "simply all accounts", deposit accounts included.
        for deposit in _DEPOSIT_ACCOUNTS:
            entry[deposit.number] = EntryAccount(
                deposit.number, deposit.name, None, *_LIQUID, is_hidden=deposit.is_hidden
            )
        return cls(
            entry_accounts=entry,
            deposit_accounts={account.number: account for account in _DEPOSIT_ACCOUNTS},
            vat_types={vat.code: vat for vat in _VAT_TYPES},
            currency_rates=dict(_CURRENCY_RATES),
        )

    def vat_rate(self, vat_code: str | None) -> Decimal:
        """The rate of a VAT code; no code (or an unknown one) means no VAT."""
        if vat_code is None:
            return Decimal("0")
        vat = self.vat_types.get(vat_code)
        return vat.rate if vat else Decimal("0")

    def account_rate(self, account_number: int) -> Decimal:
        account = self.entry_accounts.get(account_number)
        return self.vat_rate(account.vat_code) if account else Decimal("0")

    def find_vat_type(self, code: str) -> VatType | None:
        """VAT codes are matched case-insensitively, as Dinero binds input."""
        for vat in self.vat_types.values():
            if vat.code.lower() == code.lower():
                return vat
        return None

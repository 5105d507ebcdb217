"""The sandbox's Dinero API over HTTP: the gate, the chart's accounts and VAT types, and the
`/_sandbox/` listings of what the API stored."""

from __future__ import annotations

from decimal import Decimal

from tests.sandbox.apiclient import Api, conforms, line
from tests.sandbox.conftest import NOT_PRO_ORG, OTHER_PRO_ORG, PRO_ORG

# --- the gate --------------------------------------------------------------------------------


async def test_every_endpoint_sits_behind_the_gate(api: Api) -> None:
    anonymous = Api(api.client, {}, PRO_ORG)
    assert (await anonymous.get("/invoices")).status_code == 401
    not_pro = Api(api.client, api.headers, NOT_PRO_ORG)
    answer = await not_pro.error(await not_pro.post("/invoices", {"ProductLines": [line()]}), 403)
    assert answer["code"] == 90
    assert (await api.client.get("/_sandbox/organizations/1003/invoices")).json() == []


async def test_organisations_keep_their_books_apart(api: Api) -> None:
    created = await api.invoice()
    other = Api(api.client, api.headers, OTHER_PRO_ORG)
    assert (await other.get(f"/invoices/{created['Guid']}")).status_code == 404
    assert (await other.get("/invoices", fields="Guid")).json()["Collection"] == []


# --- accounts and VAT types ------------------------------------------------------------------


async def test_entry_accounts_carry_the_vat_codes_of_the_standard_chart(api: Api) -> None:
    accounts = await api.ok(await api.get("/accounts/entry", fields="AccountNumber,Name,VatCode"))
    codes = {account["AccountNumber"]: account["VatCode"] for account in accounts}
    expected = {1000: "U25", 1050: None, 1100: "UEUV", 1200: "UEUY", 1255: "UVV"}
    assert codes.items() >= {**expected, 1260: "UVY", 1350: "U25"}.items()
    default = await api.ok(await api.get("/accounts/entry"))
    assert set(default[0]) == {"AccountNumber", "Name", "IsHidden"}
    everything = await api.ok(
        await api.get(
            "/accounts/entry",
            fields="AccountNumber,Name,VatCode,Category,IsHidden,IsDefaultSalesAccount",
        )
    )
    for account in everything:
        conforms("EntryAccountReadModel", account)
    spelled = await api.ok(await api.get("/accounts/entry", fields="accountnumber"))
    assert spelled[0] == {"accountnumber": 1000}
    turnover = await api.ok(await api.get("/accounts/entry", categoryFilter="Turnover"))
    assert {account["AccountNumber"] for account in turnover} == {
        1000,
        1050,
        1100,
        1200,
        1255,
        1260,
        1350,
    }


async def test_deposit_accounts(api: Api) -> None:
    accounts = await api.ok(
        await api.get("/accounts/deposit", fields="AccountNumber,Name,IsDefault,IsHidden")
    )
    for account in accounts:
        conforms("DepositAccountReadModel", account)
    by_number = {account["AccountNumber"]: account for account in accounts}
    assert by_number[55000]["IsDefault"] is True
    assert {55000, 55010, 55020} <= by_number.keys()
    assert any(account["IsHidden"] for account in accounts)
    default = await api.ok(await api.get("/accounts/deposit"))
    assert set(default[0]) == {"AccountNumber", "Name"}


async def test_vat_types(api: Api) -> None:
    vat_types = await api.ok(await api.get("/vatTypes"))
    for vat in vat_types:
        conforms("VatTypeReadModel", vat)
    rates = {vat["VatCode"]: vat["VatRate"] for vat in vat_types}
    assert rates["U25"] == Decimal("0.25")
    assert {code: rates[code] for code in ("UEUV", "UEUY", "UVV", "UVY", "none")} == dict.fromkeys(
        ("UEUV", "UEUY", "UVV", "UVY", "none"), 0
    )


# --- control listings ------------------------------------------------------------------------


async def test_control_listings_show_the_dinero_fields(api: Api) -> None:
    invoice = await api.booked(ExternalReference="order-9")
    stored = (await api.client.get(f"/_sandbox/organizations/{PRO_ORG}/invoices")).json()
    (listed,) = stored
    for key in ("Guid", "ExternalReference", "Number", "Status", "ContactGuid", "ProductLines"):
        assert listed[key] == invoice[key]
    assert (listed["TotalExclVat"], listed["TotalVat"], listed["TotalInclVat"]) == (100, 25, 125)
    unknown = await api.client.get("/_sandbox/organizations/999/invoices")
    assert unknown.status_code == 404

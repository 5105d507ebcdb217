"""The Dinero API's organisation-scoped endpoints (`/v1/{organizationId}/...`, `/v2/...`) and
the `/_sandbox/` listings of what they stored.

Here are the routes, the chart's accounts and VAT types, and the listings; contacts, invoices
and credit notes are in `sales_api`, payments, files and manual vouchers in `settlement_api`.
What every handler shares is in `wire`, the answers' shapes in `readmodels`.

Every API handler passes the sandbox's gate first (`Sandbox.enter_api`: faults, token, Pro,
rate limit), then reads its body, binds it with `rules`, and only then works on the ledger,
synchronously: nothing is awaited between a check and the change it guards.

Choices where Dinero's documentation is silent (the other modules' docstrings list the rest):
- A `fields` entry that names no property of the listed model is a 400.
- An unknown guid is a 404 with a JSON error body; a malformed one does not match a route
  (404, plain text, as Dinero's HTML 404s are not JSON either).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from functools import partial
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from sandbox import queryfilter
from sandbox.entries import CREDIT_NOTE, INVOICE, DocumentKind
from sandbox.ledger import Ledger
from sandbox.readmodels import credit_note_model, invoice_model, payment_model, voucher_model
from sandbox.sales_api import (
    book_document,
    create_contact,
    create_document,
    delete_document,
    fetch_document,
    generate_credit_note,
    get_contact,
    get_document,
    list_contacts,
    list_documents,
)
from sandbox.settlement_api import (
    add_payment,
    book_voucher,
    create_voucher,
    get_voucher,
    list_files,
    list_payments,
    upload_file,
)
from sandbox.state import sandbox_of
from sandbox.wire import DineroJSONResponse, enter, parse_query

# --- accounts and VAT types ------------------------------------------------------------------


async def entry_accounts(request: Request) -> Response:
    ledger, _ = await enter(request)
    params = request.query_params
    category = (params.get("categoryFilter") or "").strip().lower()
    models = [
        {
            "AccountNumber": account.number,
            "PublicStandardNumber": None,
            "Name": account.name,
            "VatCode": account.vat_code,
            "Category": account.category,
            "CategoryName": account.category_name,
            "IsHidden": account.is_hidden,
            "IsDefaultSalesAccount": account.is_default_sales_account,
        }
        for account in sorted(ledger.chart.entry_accounts.values(), key=lambda a: a.number)
        if not category or account.category.lower() == category
    ]
    return _fields_of_each(params.get("fields"), "AccountNumber,Name,IsHidden", models)


async def deposit_accounts(request: Request) -> Response:
    ledger, _ = await enter(request)
    models = [
        {
            "AccountNumber": account.number,
            "PublicStandardNumber": None,
            "Name": account.name,
            "IsDefault": account.is_default,
            "IsHidden": account.is_hidden,
            "BankRegistrationNumber": None,
            "BankAccountNumber": None,
            "BankSwiftNumber": None,
            "BankIbanNumber": None,
        }
        for account in sorted(ledger.chart.deposit_accounts.values(), key=lambda a: a.number)
    ]
    return _fields_of_each(request.query_params.get("fields"), "AccountNumber,Name", models)


def _fields_of_each(text: str | None, default: str, models: list[dict[str, Any]]) -> Response:
    available = models[0].keys() if models else ()
    fields = parse_query(
        lambda: queryfilter.select_fields(text, default=default, available=available)
    )
    return DineroJSONResponse([queryfilter.project(model, fields) for model in models])


async def vat_types(request: Request) -> Response:
    ledger, _ = await enter(request)
    return DineroJSONResponse(
        [
            {"VatCode": vat.code, "Name": vat.name, "VatRate": vat.rate}
            for vat in ledger.chart.vat_types.values()
        ]
    )


# --- routes ----------------------------------------------------------------------------------

_ORG = "/v1/{organization_id:int}"
_INVOICE = _ORG + "/invoices/{guid:uuid}"
_CREDIT_NOTE = _ORG + "/sales/creditnotes/{guid:uuid}"


def api_routes() -> list[BaseRoute]:
    return [
        Route(_ORG + "/contacts", list_contacts, methods=["GET"]),
        Route(_ORG + "/contacts", create_contact, methods=["POST"]),
        Route(_ORG + "/contacts/{guid:uuid}", get_contact, methods=["GET"]),
        *_document_routes(INVOICE, _ORG + "/invoices", _INVOICE),
        Route(_INVOICE + "/generate-creditnote", generate_credit_note, methods=["POST"]),
        _for(INVOICE, _INVOICE + "/payments", add_payment, "POST"),
        _for(
            INVOICE, "/v2/{organization_id:int}/invoices/{guid:uuid}/payments", list_payments, "GET"
        ),
        *_document_routes(CREDIT_NOTE, _ORG + "/sales/creditnotes", _CREDIT_NOTE),
        _for(CREDIT_NOTE, _CREDIT_NOTE + "/payments", add_payment, "POST"),
        _for(CREDIT_NOTE, _CREDIT_NOTE + "/payments", list_payments, "GET"),
        Route(_ORG + "/accounts/entry", entry_accounts, methods=["GET"]),
        Route(_ORG + "/accounts/deposit", deposit_accounts, methods=["GET"]),
        Route(_ORG + "/vatTypes", vat_types, methods=["GET"]),
        Route(_ORG + "/files", upload_file, methods=["POST"]),
        Route(_ORG + "/files", list_files, methods=["GET"]),
        Route(_ORG + "/vouchers/manuel", create_voucher, methods=["POST"]),
        Route(_ORG + "/vouchers/manuel/{guid:uuid}", get_voucher, methods=["GET"]),
        Route(_ORG + "/vouchers/manuel/{guid:uuid}/book", book_voucher, methods=["POST"]),
    ]


def _for(
    kind: DocumentKind,
    path: str,
    endpoint: Callable[..., Awaitable[Response]],  # (request, kind)
    method: str,
) -> Route:
    """A route to a handler shared by invoices and credit notes."""
    name = f"{endpoint.__name__}[{kind}]"
    return Route(path, partial(endpoint, kind=kind), methods=[method], name=name)


def _document_routes(kind: DocumentKind, collection: str, item: str) -> list[Route]:
    return [
        _for(kind, collection, create_document, "POST"),
        _for(kind, collection, list_documents, "GET"),
        _for(kind, collection + "/fetch", fetch_document, "POST"),
        _for(kind, item, get_document, "GET"),
        _for(kind, item, delete_document, "DELETE"),
        _for(kind, item + "/book", book_document, "POST"),
    ]


# --- /_sandbox/ listings (no faults, no token: control endpoints) ----------------------------


def _control_ledger(request: Request) -> Ledger:
    organization_id: int = request.path_params["id"]
    sandbox = sandbox_of(request)
    if organization_id not in sandbox.organizations:
        raise _NoSuchOrganization(organization_id)
    return sandbox.ledger(organization_id)


class _NoSuchOrganization(Exception):
    pass


def _control(build: Callable[[Ledger], Iterable[dict[str, Any]]]) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        try:
            ledger = _control_ledger(request)
        except _NoSuchOrganization:
            return DineroJSONResponse({"errors": {"id": "no such organisation"}}, status_code=404)
        return DineroJSONResponse(list(build(ledger)))

    return endpoint


def _stored_invoices(ledger: Ledger) -> Iterable[dict[str, Any]]:
    for document in ledger.listed_documents(INVOICE):
        yield invoice_model(ledger, document)


def _stored_credit_notes(ledger: Ledger) -> Iterable[dict[str, Any]]:
    for document in ledger.listed_documents(CREDIT_NOTE):
        yield credit_note_model(ledger, document)


def _stored_payments(ledger: Ledger) -> Iterable[dict[str, Any]]:
    for payment in ledger.payments():
        yield {
            **payment_model(payment),
            "DocumentGuid": payment.document.guid,
            "DocumentType": payment.document.kind,
            "DocumentNumber": payment.document.number,
            "AmountInDkk": payment.amount_dkk,
            "RemainderIsFee": payment.remainder_is_fee,
            "Fee": payment.fee,
        }


def _stored_vouchers(ledger: Ledger) -> Iterable[dict[str, Any]]:
    for voucher in ledger.vouchers:
        model = voucher_model(voucher)
        for line, shown in zip(voucher.lines, model["Lines"], strict=True):
            shown["Postings"] = [
                {"AccountNumber": account, "Amount": amount} for account, amount in line.postings()
            ]
        yield {**model, "FileName": voucher.file.name if voucher.file else None}


def control_routes() -> list[BaseRoute]:
    base = "/_sandbox/organizations/{id:int}"
    return [
        Route(base + "/invoices", _control(_stored_invoices), methods=["GET"]),
        Route(base + "/creditnotes", _control(_stored_credit_notes), methods=["GET"]),
        Route(base + "/payments", _control(_stored_payments), methods=["GET"]),
        Route(base + "/vouchers", _control(_stored_vouchers), methods=["GET"]),
    ]

"""Contacts, invoices and credit notes: `/v1/{organizationId}/contacts`, `/invoices` and
`/sales/creditnotes`, with their lists' filters, sorting and paging.

Choices where Dinero's documentation is silent:
- Contacts listed without `fields` answer `name` and `contactGuid`, spelled so: Dinero's
  documented default, and every field comes back spelled the way it was asked for.
- `GET .../invoices/{guid}` answers JSON only (no PDF), whatever the Accept header says.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from sandbox import queryfilter, rules
from sandbox.entries import CREDIT_NOTE, INVOICE, DocumentKind
from sandbox.errors import validation_error
from sandbox.ledger import SalesDocument
from sandbox.queryfilter import ListQuery
from sandbox.readmodels import (
    contact_model,
    credit_note_model,
    fetch_model,
    invoice_model,
    list_model,
)
from sandbox.wire import DineroJSONResponse, enter, json_body, parse_query, path_guid

CONTACT_FILTERABLE = (
    "ExternalReference",
    "Name",
    "Email",
    "VatNumber",
    "EanNumber",
    "IsPerson",
    "Phone",
)
DOCUMENT_FILTERABLE = ("ExternalReference", "ContactGuid", "Description")
_STATUS_ORDER = {"Draft": 0, "Overdue": 1, "Booked": 2, "OverPaid": 3, "Paid": 4}


# --- contacts --------------------------------------------------------------------------------


async def create_contact(request: Request) -> Response:
    ledger, _ = await enter(request)
    data = rules.bind(rules.CONTACT_CREATE, await json_body(request))
    contact = ledger.create_contact(data)
    return DineroJSONResponse({"ContactGuid": contact.guid})


async def get_contact(request: Request) -> Response:
    ledger, _ = await enter(request)
    return DineroJSONResponse(contact_model(ledger.contact(path_guid(request))))


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _contact_fields() -> list[str]:
    fields = ["ContactGuid", "CreatedAt", "UpdatedAt", "DeletedAt", "IsDebitor", "IsCreditor"]
    fields += ["CompanyStatus", "VatRegionKey"]
    return fields + [name for name in rules.CONTACT_CREATE.props if name != "ContactGuid"]


async def list_contacts(request: Request) -> Response:
    ledger, _ = await enter(request)
    query = _list_query(
        request,
        filterable=CONTACT_FILTERABLE,
        default_fields="name,contactGuid",
        available_fields=_contact_fields(),
    )
    # The sandbox never deletes contacts, so `deletedOnly=true` lists none.
    contacts = [] if query.deleted_only else ledger.contacts.values()
    since = query.changes_since
    models = [
        model
        for model in map(contact_model, contacts)
        if _matches(query.conditions, model) and (since is None or model["UpdatedAt"] >= since)
    ]
    return DineroJSONResponse(query.answer(models))


def _list_query(request: Request, **how: Any) -> ListQuery:
    return parse_query(lambda: ListQuery.parse(request.query_params, **how))


def _matches(conditions: list[queryfilter.Condition], model: Mapping[str, Any]) -> bool:
    return queryfilter.matches(conditions, lambda name: _text(model[name]))


# --- invoices and credit notes ---------------------------------------------------------------

_CREATE_MODELS = {INVOICE: rules.INVOICE_CREATE, CREDIT_NOTE: rules.CREDIT_NOTE_CREATE}
_FETCH_MODELS = {INVOICE: rules.INVOICE_FETCH, CREDIT_NOTE: rules.CREDIT_NOTE_FETCH}
_LIST_FIELDS = {
    INVOICE: "Guid,ContactName,Date,Description",
    CREDIT_NOTE: "Guid,ContactName,Date,Description,Type",
}
_SORT_KEYS: dict[str, Callable[[Mapping[str, Any]], Any]] = {
    "vouchernumber": lambda model: model["Number"],
    "voucherdate": lambda model: model["Date"],
    "status": lambda model: _STATUS_ORDER.get(model["Status"], 0),
    "contact": lambda model: (model["ContactName"] or "").casefold(),
}


async def create_document(request: Request, kind: DocumentKind) -> Response:
    ledger, _ = await enter(request)
    data = rules.bind(_CREATE_MODELS[kind], await json_body(request))
    document = ledger.create_document(kind, data)
    return DineroJSONResponse({"Guid": document.guid, "TimeStamp": document.timestamp})


async def fetch_document(request: Request, kind: DocumentKind) -> Response:
    ledger, _ = await enter(request)
    data = rules.bind(_FETCH_MODELS[kind], await json_body(request))
    return DineroJSONResponse(fetch_model(ledger, ledger.preview_document(kind, data)))


async def get_document(request: Request, kind: DocumentKind) -> Response:
    ledger, _ = await enter(request)
    document = ledger.document(kind, path_guid(request))
    model = invoice_model if kind == INVOICE else credit_note_model
    return DineroJSONResponse(model(ledger, document))


async def book_document(request: Request, kind: DocumentKind) -> Response:
    ledger, _ = await enter(request)
    data = rules.bind(rules.BOOK, await json_body(request))
    document = ledger.book_document(kind, path_guid(request), data["Timestamp"], data["Number"])
    return DineroJSONResponse(invoice_model(ledger, document))


async def delete_document(request: Request, kind: DocumentKind) -> Response:
    ledger, _ = await enter(request)
    data = rules.bind_optional(rules.TIMESTAMP, await json_body(request, optional=True))
    ledger.delete_draft(kind, path_guid(request), data["Timestamp"])
    return Response(status_code=200)


async def generate_credit_note(request: Request) -> Response:
    ledger, _ = await enter(request)
    data = rules.bind_optional(rules.TIMESTAMP, await json_body(request, optional=True))
    note = ledger.generate_credit_note(path_guid(request), data["Timestamp"])
    return DineroJSONResponse({"Guid": note.guid, "TimeStamp": note.timestamp})


async def list_documents(request: Request, kind: DocumentKind) -> Response:
    ledger, _ = await enter(request)
    params = request.query_params
    query = _list_query(
        request,
        filterable=DOCUMENT_FILTERABLE,
        default_fields=_LIST_FIELDS[kind],
        available_fields=_LIST_MODEL_FIELDS,
    )
    statuses = _status_filter(params.get("statusFilter"))
    period = _period(params.get("startDate"), params.get("endDate"))
    sort_key, descending = _sort_key(params.get("sort"), params.get("sortOrder"))
    search = (params.get("freeTextSearch") or "").casefold()
    since = query.changes_since

    def listed(document: SalesDocument, model: dict[str, Any]) -> bool:
        return (
            _matches(query.conditions, model)
            and (since is None or document.changed_at() >= since)
            and (not statuses or model["Status"] in statuses)
            # Dinero: "drafts are not affected by this filter".
            and (period is None or document.status == "Draft" or document.issue_date in period)
            and (
                not search
                or any(search in (_text(model[name]) or "").casefold() for name in _SEARCHED)
            )
        )

    models = [
        model
        for document in ledger.listed_documents(kind, deleted=query.deleted_only)
        if listed(document, model := list_model(ledger, document))
    ]
    models.sort(key=sort_key, reverse=descending)
    return DineroJSONResponse(query.answer(models))


_SEARCHED = ("Number", "ContactName", "Description", "TotalInclVat")
_LIST_MODEL_FIELDS = [
    "Number",
    "Guid",
    "ExternalReference",
    "Date",
    "PaymentDate",
    "Description",
    "Status",
    "Type",
    "ContactName",
    "ContactGuid",
    "TotalInclVat",
    "TotalExclVat",
    "TotalInclVatInDkk",
    "TotalExclVatInDkk",
    "MailOutStatus",
    "LatestMailOutType",
    "Currency",
    "CreatedAt",
    "UpdatedAt",
    "DeletedAt",
]


def _status_filter(text: str | None) -> set[str]:
    statuses = {part.strip() for part in (text or "").split(",") if part.strip()}
    canonical = {status.lower(): status for status in _STATUS_ORDER}
    unknown = [status for status in statuses if status.lower() not in canonical]
    if unknown:
        raise validation_error(f"Unknown statusFilter value(s): {', '.join(sorted(unknown))}.")
    return {canonical[status.lower()] for status in statuses}


@dataclass(frozen=True)
class _Period:
    first: date
    last: date

    def __contains__(self, day: date) -> bool:
        return self.first <= day <= self.last


def _period(start: str | None, end: str | None) -> _Period | None:
    if not start and not end:
        return None
    first, last = rules.parse_date(start or ""), rules.parse_date(end or "")
    if first is None or last is None:
        raise validation_error("startDate and endDate go together, each as YYYY-MM-DD.")
    return _Period(first, last)


def _sort_key(
    sort: str | None, order: str | None
) -> tuple[Callable[[Mapping[str, Any]], tuple[Any, ...]], bool]:
    names = [name.strip().lower() for name in (sort or "VoucherNumber,VoucherDate").split(",")]
    unknown = [name for name in names if name not in _SORT_KEYS]
    if unknown:
        raise validation_error(f"Cannot sort on {', '.join(unknown)}.")
    direction = (order or "descending").strip().lower()
    if direction not in ("ascending", "descending"):
        raise validation_error("sortOrder must be ascending or descending.")
    keys = [_SORT_KEYS[name] for name in names]
    return (lambda model: tuple(key(model) for key in keys)), direction == "descending"

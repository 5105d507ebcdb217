"""The Dinero API client: one typed async method per call the gateway makes.

It maps outcomes and nothing more: no retries, no rate limiting, no token refresh. Those are
the caller's, who knows whether a document can wait; `errors` says what each failure means.
The `httpx.AsyncClient` is the process's shared one (its pool, its lifetime), so making a
`DineroClient` per job and access token costs nothing.

Every call gets an explicit timeout, `Accept: application/json`, the bearer token (added by an
`httpx.Auth`, never held in the clear by this module) and a body written by `jsonmoney` (exact
decimals). One DEBUG line per call names the method, the path (never the query string: filters
hold e-mail addresses), the status and the time taken.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from collections.abc import Callable, Generator, Sequence
from functools import partial
from typing import Any, Final, Literal, TypeVar
from uuid import UUID

import httpx

from gateway.dinero import jsonmoney
from gateway.dinero.errors import error_for_response, error_for_transport, error_for_unreadable_body
from gateway.dinero.jsonmoney import JsonValue, ObjectReader
from gateway.dinero.models import (
    ContactCreate,
    CreditNoteCreate,
    InvoiceCreate,
    ManualVoucherCreate,
    PaymentCreate,
)
from gateway.dinero.query import eq, query_filter
from gateway.dinero.readmodels import (
    ArchivedFile,
    Contact,
    Created,
    CreditNote,
    DepositAccount,
    EntryAccount,
    Invoice,
    InvoicePayments,
    InvoiceSummary,
    InvoiceTotals,
    ManualVoucher,
    Organization,
    Page,
    PaymentCreated,
    VatType,
    parse_collection,
    parse_list,
    parse_page,
)
from gateway.secret import Secret

DEFAULT_TIMEOUT: Final = httpx.Timeout(connect=5, read=30, write=30, pool=5)
MAX_PAGE_SIZE: Final = 1000

ORGANIZATION_FIELDS: Final = ("Id", "Name", "IsPro")
CONTACT_FIELDS: Final = (
    "ContactGuid",
    "Name",
    "ExternalReference",
    "Email",
    "VatNumber",
    "EanNumber",
    "IsPerson",
    "CountryKey",
    "Street",
    "ZipCode",
    "City",
    "Phone",
)
# The list fields Dinero documents for invoices and credit notes; `TimeStamp` is not one of
# them (a summary's `timestamp` is read when a deployment sends it anyway).
SUMMARY_FIELDS: Final = ("Guid", "Number", "Status", "ExternalReference")
# What `list_invoices`/`list_credit_notes` ask for unless told otherwise: enough to see each
# document's payment status and, for foreign currency, its total in DKK.
SALES_LIST_FIELDS: Final = (
    "Guid",
    "Number",
    "Status",
    "ExternalReference",
    "Currency",
    "TotalInclVat",
    "TotalInclVatInDkk",
)
# The values `statusFilter` takes (Dinero's list of a document's payment statuses).
SALES_STATUSES: Final = ("Draft", "Booked", "Paid", "OverPaid", "Overdue")
ENTRY_ACCOUNT_FIELDS: Final = ("AccountNumber", "Name", "VatCode")
DEPOSIT_ACCOUNT_FIELDS: Final = ("AccountNumber", "Name", "IsDefault", "IsHidden")

FileStatus = Literal["All", "Used", "Unused"]
CallObserver = Callable[[str, str, int | None], None]
"""Told of every call: method, path, and the status (`None` when no answer came)."""

_log = logging.getLogger("gateway.dinero")

T = TypeVar("T")
Params = dict[str, str | int]
_Files = dict[str, tuple[str, bytes, str]]
_WORD: Final = re.compile(r"[A-Za-z][A-Za-z-]*")


class DineroClient:
    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        access_token: Secret,
        *,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        on_call: CallObserver | None = None,
    ) -> None:
        self._http = http
        self._base_url = base_url.rstrip("/")
        self._auth = _BearerToken(access_token)
        self._timeout = timeout
        self._on_call = on_call

    def __repr__(self) -> str:
        return f"DineroClient(base_url={self._base_url!r})"

    # Organisations

    async def organizations(self) -> list[Organization]:
        """Every organisation the token's user can reach; also a cheap "token alive" probe."""
        params: Params = {"fields": ",".join(ORGANIZATION_FIELDS)}
        return await self._call(
            "GET", "/v1/organizations", _list_of(Organization.from_json), params=params
        )

    # Contacts

    async def find_contacts(
        self,
        org: int,
        *,
        vat_number: str | None = None,
        email: str | None = None,
        external_reference: str | None = None,
    ) -> list[Contact]:
        """Contacts equal on every key given (Dinero compares case-insensitively)."""
        keys = {"VatNumber": vat_number, "Email": email, "ExternalReference": external_reference}
        conditions = [eq(field, value) for field, value in keys.items() if value is not None]
        if not conditions:
            raise ValueError("find_contacts needs at least one key")
        page = await self.list_contacts(org, query_filter=query_filter(*conditions), page_size=100)
        return list(page.items)

    async def list_contacts(
        self,
        org: int,
        *,
        query_filter: str | None = None,
        changes_since: dt.datetime | None = None,
        page: int = 0,
        page_size: int = MAX_PAGE_SIZE,
        fields: Sequence[str] = CONTACT_FIELDS,
    ) -> Page[Contact]:
        params = _page_params(page, page_size) | {"fields": ",".join(fields)}
        if query_filter is not None:
            params["queryFilter"] = query_filter
        if changes_since is not None:
            params["changesSince"] = _utc_text(changes_since)
        parse = partial(parse_page, parse=Contact.from_json)
        return await self._call("GET", _path(org, "contacts"), parse, params=params)

    async def get_contact(self, org: int, guid: UUID) -> Contact:
        return await self._call("GET", _path(org, "contacts", guid), Contact.from_json)

    async def create_contact(self, org: int, contact: ContactCreate) -> UUID:
        path = _path(org, "contacts")
        return await self._call("POST", path, _guid_in("ContactGuid"), body=contact.to_json())

    # Invoices

    async def create_invoice(self, org: int, invoice: InvoiceCreate) -> Created:
        path = _path(org, "invoices")
        return await self._call("POST", path, Created.from_json, body=invoice.to_json())

    async def preview_invoice(self, org: int, invoice: InvoiceCreate) -> InvoiceTotals:
        """Dinero's totals for this invoice, without creating anything (so always safe)."""
        path = _path(org, "invoices", "fetch")
        return await self._call(
            "POST", path, InvoiceTotals.from_json, body=invoice.to_json(), safe=True
        )

    async def get_invoice(self, org: int, guid: UUID) -> Invoice:
        return await self._call("GET", _path(org, "invoices", guid), Invoice.from_json)

    async def find_invoices(self, org: int, *, external_reference: str) -> list[InvoiceSummary]:
        """Invoices carrying this reference (deleted ones are not listed)."""
        return await self._find(_path(org, "invoices"), external_reference)

    async def list_invoices(
        self,
        org: int,
        *,
        changes_since: dt.datetime | None = None,
        status_filter: Sequence[str] = (),
        query_filter: str | None = None,
        fields: Sequence[str] = SALES_LIST_FIELDS,
        page: int = 0,
        page_size: int = MAX_PAGE_SIZE,
    ) -> Page[InvoiceSummary]:
        """One page of the organisation's invoices: those changed since `changes_since`
        (created, paid, deleted...), with a `Status` in `status_filter` if given."""
        return await self._list_sales(
            _path(org, "invoices"),
            changes_since=changes_since,
            status_filter=status_filter,
            query_filter=query_filter,
            fields=fields,
            page=page,
            page_size=page_size,
        )

    async def book_invoice(
        self, org: int, guid: UUID, timestamp: str, *, number: int | None = None
    ) -> Invoice:
        """Books the draft; the answer is the booked invoice (number, new timestamp)."""
        path = _path(org, "invoices", guid, "book")
        body = _book_body(timestamp, number)
        return await self._call("POST", path, Invoice.from_json, body=body)

    async def delete_invoice(self, org: int, guid: UUID, timestamp: str) -> None:
        """Deletes a draft (a booked invoice can only be credited)."""
        body = {"Timestamp": _timestamp(timestamp)}
        await self._send("DELETE", _path(org, "invoices", guid), body=body)

    # Credit notes

    async def create_credit_note(self, org: int, credit_note: CreditNoteCreate) -> Created:
        path = _path(org, "sales", "creditnotes")
        return await self._call("POST", path, Created.from_json, body=credit_note.to_json())

    async def generate_credit_note(
        self, org: int, invoice_guid: UUID, timestamp: str | None = None
    ) -> Created:
        """A draft crediting the whole booked invoice. Given a `timestamp`, Dinero refuses
        (code 58) if the invoice changed since it was read."""
        path = _path(org, "invoices", invoice_guid, "generate-creditnote")
        body = {} if timestamp is None else {"Timestamp": _timestamp(timestamp)}
        return await self._call("POST", path, Created.from_json, body=body)

    async def get_credit_note(self, org: int, guid: UUID) -> CreditNote:
        path = _path(org, "sales", "creditnotes", guid)
        return await self._call("GET", path, CreditNote.from_json)

    async def find_credit_notes(self, org: int, *, external_reference: str) -> list[InvoiceSummary]:
        return await self._find(_path(org, "sales", "creditnotes"), external_reference)

    async def list_credit_notes(
        self,
        org: int,
        *,
        changes_since: dt.datetime | None = None,
        status_filter: Sequence[str] = (),
        query_filter: str | None = None,
        fields: Sequence[str] = SALES_LIST_FIELDS,
        page: int = 0,
        page_size: int = MAX_PAGE_SIZE,
    ) -> Page[InvoiceSummary]:
        """As `list_invoices`, for credit notes."""
        return await self._list_sales(
            _path(org, "sales", "creditnotes"),
            changes_since=changes_since,
            status_filter=status_filter,
            query_filter=query_filter,
            fields=fields,
            page=page,
            page_size=page_size,
        )

    async def book_credit_note(
        self, org: int, guid: UUID, timestamp: str, *, number: int | None = None
    ) -> CreditNote:
        path = _path(org, "sales", "creditnotes", guid, "book")
        body = _book_body(timestamp, number)
        return await self._call("POST", path, CreditNote.from_json, body=body)

    # Chart of accounts and VAT

    async def entry_accounts(self, org: int) -> list[EntryAccount]:
        path = _path(org, "accounts", "entry")
        params: Params = {"fields": ",".join(ENTRY_ACCOUNT_FIELDS)}
        return await self._call("GET", path, _list_of(EntryAccount.from_json), params=params)

    async def deposit_accounts(self, org: int) -> list[DepositAccount]:
        path = _path(org, "accounts", "deposit")
        params: Params = {"fields": ",".join(DEPOSIT_ACCOUNT_FIELDS)}
        return await self._call("GET", path, _list_of(DepositAccount.from_json), params=params)

    async def vat_types(self, org: int) -> list[VatType]:
        return await self._call("GET", _path(org, "vatTypes"), _list_of(VatType.from_json))

    # Payments

    async def register_invoice_payment(
        self, org: int, invoice_guid: UUID, payment: PaymentCreate
    ) -> PaymentCreated:
        """No client guid: after an uncertain outcome, look for the payment's
        `ExternalReference` in `invoice_payments` before registering it again."""
        path = _path(org, "invoices", invoice_guid, "payments")
        return await self._call("POST", path, PaymentCreated.from_json, body=payment.to_json())

    async def invoice_payments(self, org: int, invoice_guid: UUID) -> InvoicePayments:
        path = _path(org, "invoices", invoice_guid, "payments", version=2)
        return await self._call("GET", path, InvoicePayments.from_json)

    async def register_credit_note_payment(
        self, org: int, credit_note_guid: UUID, payment: PaymentCreate
    ) -> PaymentCreated:
        path = _path(org, "sales", "creditnotes", credit_note_guid, "payments")
        return await self._call("POST", path, PaymentCreated.from_json, body=payment.to_json())

    async def credit_note_payments(self, org: int, credit_note_guid: UUID) -> InvoicePayments:
        path = _path(org, "sales", "creditnotes", credit_note_guid, "payments")
        return await self._call("GET", path, InvoicePayments.from_json)

    # Files

    async def upload_file(self, org: int, filename: str, content: bytes, content_type: str) -> str:
        """Stores a PDF or image (at most 6 MB) in the file archive; answers its `FileGuid`,
        which Dinero types as a plain string (its example is no UUID). It may take Dinero a
        second before the file can be attached to anything."""
        files = {"file": (filename, content, content_type)}
        return await self._call(
            "POST",
            _path(org, "files"),
            lambda data: ObjectReader(data).text("FileGuid"),
            files=files,
        )

    async def list_files(
        self,
        org: int,
        *,
        file_status: FileStatus = "All",
        extensions: Sequence[str] = (),
        uploaded_after: dt.date | None = None,
        uploaded_before: dt.date | None = None,
        page: int = 0,
        page_size: int = MAX_PAGE_SIZE,
    ) -> list[ArchivedFile]:
        """Archived files, each with the vouchers it is linked to."""
        params = _page_params(page, page_size) | {"fileStatus": file_status}
        if extensions:
            params["extensions"] = ",".join(extensions)
        if uploaded_after is not None:
            params["uploadedAfter"] = uploaded_after.strftime("%Y/%m/%d")
        if uploaded_before is not None:
            params["uploadedBefore"] = uploaded_before.strftime("%Y/%m/%d")
        path = _path(org, "files")
        return await self._call("GET", path, _list_of(ArchivedFile.from_json), params=params)

    # Manual vouchers

    async def create_manual_voucher(self, org: int, voucher: ManualVoucherCreate) -> ManualVoucher:
        """No client guid and no search: see `ManualVoucherCreate` for finding one again."""
        path = _path(org, "vouchers", "manuel")
        return await self._call("POST", path, ManualVoucher.from_json, body=voucher.to_json())

    async def get_manual_voucher(self, org: int, guid: UUID) -> ManualVoucher:
        path = _path(org, "vouchers", "manuel", guid)
        return await self._call("GET", path, ManualVoucher.from_json)

    async def book_manual_voucher(self, org: int, guid: UUID, timestamp: str) -> ManualVoucher:
        path = _path(org, "vouchers", "manuel", guid, "book")
        body = _book_body(timestamp, None)
        return await self._call("POST", path, ManualVoucher.from_json, body=body)

    # Sending

    async def _list_sales(
        self,
        path: str,
        *,
        changes_since: dt.datetime | None,
        status_filter: Sequence[str],
        query_filter: str | None,
        fields: Sequence[str],
        page: int,
        page_size: int,
    ) -> Page[InvoiceSummary]:
        unknown = [status for status in status_filter if status not in SALES_STATUSES]
        if unknown:
            raise ValueError(f"not a status Dinero filters on: {unknown}")
        if "Guid" not in fields:
            raise ValueError("a listing needs the Guid field")
        params = _page_params(page, page_size) | {"fields": ",".join(fields)}
        if status_filter:
            params["statusFilter"] = ",".join(status_filter)
        if query_filter is not None:
            params["queryFilter"] = query_filter
        if changes_since is not None:
            params["changesSince"] = _utc_text(changes_since)
        parse = partial(parse_page, parse=InvoiceSummary.from_json)
        return await self._call("GET", path, parse, params=params)

    async def _find(self, path: str, external_reference: str) -> list[InvoiceSummary]:
        params = _page_params(0, MAX_PAGE_SIZE) | {
            "queryFilter": query_filter(eq("ExternalReference", external_reference)),
            "fields": ",".join(SUMMARY_FIELDS),
        }
        parse = partial(parse_collection, parse=InvoiceSummary.from_json)
        return await self._call("GET", path, parse, params=params)

    async def _call(
        self,
        method: str,
        path: str,
        parse: Callable[[Any], T],
        *,
        params: Params | None = None,
        body: JsonValue | None = None,
        files: _Files | None = None,
        safe: bool | None = None,
    ) -> T:
        """Sends the request and reads the answer's body with `parse`."""
        response = await self._send(method, path, params=params, body=body, files=files, safe=safe)
        try:
            return parse(jsonmoney.loads(response.content))
        except ValueError as exc:  # not JSON, not UTF-8, or a ParseError
            raise error_for_unreadable_body(
                response, method=method, path=path, why=str(exc), safe=safe
            ) from exc

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        body: JsonValue | None = None,
        files: _Files | None = None,
        safe: bool | None = None,
    ) -> httpx.Response:
        """The one place a request leaves. Any non-2xx answer or lost call raises."""
        headers = {"Accept": "application/json"}
        content = None
        if body is not None:
            content = jsonmoney.dumps(body)
            headers["Content-Type"] = "application/json"
        started = time.perf_counter()
        status: int | None = None
        try:
            response = await self._http.request(
                method,
                self._base_url + path,
                params=params,
                content=content,
                files=files,
                headers=headers,
                auth=self._auth,
                timeout=self._timeout,
            )
            status = response.status_code
        except httpx.RequestError as exc:
            raise error_for_transport(exc, method=method, path=path, safe=safe) from exc
        finally:
            self._observe(method, path, status, started)
        if not response.is_success:
            raise error_for_response(
                response, method=method, path=path, hide=self._auth.token, safe=safe
            )
        return response

    def _observe(self, method: str, path: str, status: int | None, started: float) -> None:
        elapsed_ms = (time.perf_counter() - started) * 1000
        _log.debug("%s %s -> %s in %.0f ms", method, path, status or "no answer", elapsed_ms)
        if self._on_call is not None:
            self._on_call(method, path, status)


class _BearerToken(httpx.Auth):
    """Puts the token on the request as late as possible, so that no frame of ours (which a
    traceback with locals would print) holds it in the clear."""

    def __init__(self, token: Secret) -> None:
        self.token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self.token.reveal()}"
        yield request


def _list_of(parse: Callable[[object], T]) -> Callable[[object], list[T]]:
    return partial(parse_list, parse=parse)


def _guid_in(name: str) -> Callable[[object], UUID]:
    """Reads the single guid a create answers with (`{"ContactGuid": ...}`)."""
    return lambda data: ObjectReader(data).uuid(name)


def _path(org: int, *parts: str | UUID, version: int = 1) -> str:
    """`/v1/{org}/...`. Ids are checked for type and words for shape, so no stray string
    (a guid read from somewhere as text, say) can reshape the path."""
    if isinstance(org, bool) or not isinstance(org, int) or org <= 0:
        raise ValueError(f"not an organisation id: {org!r}")
    for part in parts:
        if not isinstance(part, UUID) and not (isinstance(part, str) and _WORD.fullmatch(part)):
            raise TypeError(f"not a path segment (guids must be UUID): {part!r}")
    return "/".join((f"/v{version}", str(org), *(str(part) for part in parts)))


def _page_params(page: int, page_size: int) -> Params:
    if page < 0 or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page must be >= 0 and the page size 1-{MAX_PAGE_SIZE}")
    return {"page": page, "pageSize": page_size}


def _utc_text(moment: dt.datetime) -> str:
    """Dinero's `changesSince` format, `YYYY-MM-DDTHH:mm:ssZ`, in UTC."""
    if moment.tzinfo is None:
        raise ValueError("changes_since must be timezone-aware")
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _timestamp(value: str) -> str:
    if not value:
        raise ValueError("a Timestamp is required")
    return value


def _book_body(timestamp: str, number: int | None) -> dict[str, JsonValue]:
    """`BookModel`: the latest timestamp, and optionally the number to book under."""
    body: dict[str, JsonValue] = {"Timestamp": _timestamp(timestamp)}
    if number is not None:
        body["Number"] = number
    return body

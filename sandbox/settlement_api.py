"""Settling sales documents: payments on invoices and refunds on credit notes, uploaded files,
and manual vouchers (`/v1/{organizationId}/.../payments`, `/files`, `/vouchers/manuel`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from sandbox import rules
from sandbox.entries import DocumentKind
from sandbox.errors import DineroApiError, validation_error
from sandbox.queryfilter import Page
from sandbox.readmodels import file_model, payments_model, voucher_model
from sandbox.vouchers import MAX_FILE_SIZE
from sandbox.wire import DineroJSONResponse, enter, json_body, parse_query, path_guid

# --- payments --------------------------------------------------------------------------------


async def add_payment(request: Request, kind: DocumentKind) -> Response:
    ledger, _ = await enter(request)
    data = rules.bind(rules.PAYMENT_CREATE, await json_body(request))
    payment = ledger.add_payment(kind, path_guid(request), data)
    return DineroJSONResponse(
        {
            "Guid": payment.guid,
            "TimeStamp": payment.document.timestamp,
            "RelatedVoucherGuid": payment.related_voucher_guid,
        }
    )


async def list_payments(request: Request, kind: DocumentKind) -> Response:
    ledger, _ = await enter(request)
    document = ledger.document(kind, path_guid(request))
    return DineroJSONResponse(payments_model(document))


# --- files -----------------------------------------------------------------------------------


async def upload_file(request: Request) -> Response:
    ledger, _ = await enter(request)
    try:
        async with request.form(max_files=1, max_fields=10) as form:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise DineroApiError(400, "Post the file as the multipart field 'file'.", text=True)
            # One byte past the limit is enough to know the file is too large.
            content = await upload.read(MAX_FILE_SIZE + 1)
            name = upload.filename
    except HTTPException as exc:  # a malformed multipart body
        raise DineroApiError(400, str(exc.detail), text=True) from None
    stored = ledger.vouchers.store_file(name, content)
    return DineroJSONResponse({"FileGuid": stored.guid})


async def list_files(request: Request) -> Response:
    ledger, _ = await enter(request)
    params = request.query_params
    page = parse_query(lambda: Page.parse(params, default_size=1000))
    extensions = {
        ext.strip().lstrip(".").lower()
        for ext in params.get("extensions", "").split(",")
        if ext.strip()
    }
    status = (params.get("fileStatus") or "All").strip().lower()
    if status not in ("all", "used", "unused"):
        raise validation_error("fileStatus must be All, Used or Unused.")
    before = _upload_date(params.get("uploadedBefore"), "uploadedBefore")
    after = _upload_date(params.get("uploadedAfter"), "uploadedAfter")
    chosen = [
        stored
        for stored in ledger.vouchers.files.values()
        if (not extensions or stored.extension in extensions)
        and (status == "all" or (status == "used") == bool(stored.links))
        and (before is None or stored.uploaded_at.date() < before)
        and (after is None or stored.uploaded_at.date() > after)
    ]
    files, _ = page.cut(chosen)
    return DineroJSONResponse([file_model(stored) for stored in files])


def _upload_date(text: str | None, name: str) -> date | None:
    if not text:
        return None
    try:
        return datetime.strptime(text, "%Y/%m/%d").replace(tzinfo=UTC).date()
    except ValueError:
        raise validation_error(f"{name} must be in the format yyyy/MM/dd.") from None


# --- manual vouchers -------------------------------------------------------------------------


async def create_voucher(request: Request) -> Response:
    ledger, _ = await enter(request)
    data = rules.bind(rules.VOUCHER_CREATE, await json_body(request))
    return DineroJSONResponse(voucher_model(ledger.vouchers.create(data)))


async def get_voucher(request: Request) -> Response:
    ledger, _ = await enter(request)
    return DineroJSONResponse(voucher_model(ledger.vouchers.get(path_guid(request))))


async def book_voucher(request: Request) -> Response:
    ledger, client_id = await enter(request)
    data = rules.bind(rules.BOOK, await json_body(request))
    voucher = ledger.vouchers.book(
        path_guid(request), data["Timestamp"], data["Number"], booked_by=client_id
    )
    return DineroJSONResponse(voucher_model(voucher))

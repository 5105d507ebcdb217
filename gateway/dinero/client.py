"""The Dinero API client: one typed async method per call the gateway makes.

It maps outcomes and nothing more: no retries, no rate limiting, no token refresh. Those are
the caller's, who knows whether a document can wait; `errors` says what each failure means.
The `httpx.AsyncClient` is the process's shared one (its pool, its lifetime), so making a
`DineroClient` per job and access token costs nothing.

The calls live with their resource, one module each (`organizations`, `contacts`, `invoices`,
`creditnotes`, `payments`, `files`, `vouchers`), together with the read models they answer;
how every call is sent, timed and logged is `transport`'s.
"""

from __future__ import annotations

from gateway.dinero.contacts import ContactCalls
from gateway.dinero.creditnotes import CreditNoteCalls
from gateway.dinero.files import FileCalls
from gateway.dinero.invoices import InvoiceCalls
from gateway.dinero.organizations import OrganizationCalls
from gateway.dinero.payments import PaymentCalls
from gateway.dinero.vouchers import ManualVoucherCalls


class DineroClient(
    OrganizationCalls,
    ContactCalls,
    InvoiceCalls,
    CreditNoteCalls,
    PaymentCalls,
    FileCalls,
    ManualVoucherCalls,
):
    """Every call the gateway makes on one organisation's behalf with one access token:
    `DineroClient(http, base_url, access_token, timeout=..., on_call=...)`."""

    def __repr__(self) -> str:
        return f"DineroClient(base_url={self._base_url!r})"

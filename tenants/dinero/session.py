"""One job's conversation with one Dinero organisation.

`DineroClient` maps outcomes and nothing more; this wraps it with the two things every call a
job makes needs: a slot from the organisation's `RateBudget` before the request leaves (an
`on_call` hook would be too late, it runs after), and the 401 policy. A 401 means the token
was refused, so the request was not applied and sending it again is safe: the token is
refreshed once (`access_token_for(..., rejected=token)`) and the call repeated once. A second
401 right after a refresh means the grant is dead (`ConnectionRejected`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TypeVar
from uuid import UUID

import httpx

from gateway.db import Pool
from gateway.dinero.client import DineroClient
from gateway.dinero.errors import Unauthorized
from gateway.dinero.oauth import VismaConnect
from gateway.dinero.transport import CallObserver
from gateway.metrics import DINERO_CALLS, Metrics, dinero_outcome
from gateway.ratelimit import BudgetKey, RateBudget
from gateway.secret import Secret
from gateway.vault import Vault
from tenants.dinero.connections import service as connections

T = TypeVar("T")


class BudgetExhausted(Exception):
    """No call slot within the wait a job accepts; one frees in `wait` seconds."""

    def __init__(self, wait: float) -> None:
        super().__init__(f"the organisation's call budget is spent for {wait:.1f} s")
        self.wait = wait


class ConnectionRejected(Exception):
    """Dinero refused a token that had just been renewed: the grant is dead."""


class DineroSession:
    def __init__(
        self,
        *,
        pool: Pool,
        vault: Vault,
        visma: VismaConnect,
        http: httpx.AsyncClient,
        api_url: str,
        budget: RateBudget,
        client_id: str,
        connection_id: UUID,
        organization_id: int,
        now: datetime,
        budget_wait: float = 1.0,
        on_call: CallObserver | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self._pool = pool
        self._vault = vault
        self._visma = visma
        self._http = http
        self._api_url = api_url
        self._budget = budget
        self._key = BudgetKey(client_id, organization_id)
        self.connection_id = connection_id
        self.organization_id = organization_id
        self._now = now
        self._budget_wait = budget_wait
        self._on_call = on_call
        self._metrics = metrics
        self._answers: list[int | None] = []  # statuses seen, not yet counted
        self._token: Secret | None = None
        self._refreshed = False

    def __repr__(self) -> str:
        return f"DineroSession(organization_id={self.organization_id})"

    async def call(self, request: Callable[[DineroClient], Awaitable[T]]) -> T:
        """Runs `request` with a client for this organisation, after taking a slot.

        Raises `BudgetExhausted`, `ConnectionRejected`, what `access_token_for` raises, and
        the `DineroError` of the call itself.
        """
        client = await self._client()
        await self._take_slot()
        try:
            return await self._counted(request, client)
        except Unauthorized:
            if self._refreshed:
                raise ConnectionRejected("Dinero refused a freshly renewed token") from None
        client = await self._client(refresh=True)
        await self._take_slot()
        try:
            return await self._counted(request, client)
        except Unauthorized:
            raise ConnectionRejected("Dinero refused a freshly renewed token") from None

    async def _counted(
        self, request: Callable[[DineroClient], Awaitable[T]], client: DineroClient
    ) -> T:
        """Runs the request, then counts the calls it made by outcome (the transport's
        observer is synchronous, so the statuses wait in `_answers` until the call is over)."""
        try:
            return await request(client)
        finally:
            answers, self._answers = self._answers, []
            if self._metrics is not None:
                for status in answers:
                    await self._metrics.inc(DINERO_CALLS, outcome=dinero_outcome(status))

    def _observe(self, method: str, path: str, status: int | None) -> None:
        self._answers.append(status)
        if self._on_call is not None:
            self._on_call(method, path, status)

    async def rate_limited(self, retry_after: float) -> None:
        """Tells every worker's budget that Dinero said 429."""
        await self._budget.pause(self._key, retry_after)

    async def _take_slot(self) -> None:
        wait = await self._budget.acquire(self._key, max_wait=self._budget_wait)
        if wait:
            raise BudgetExhausted(wait)

    async def _client(self, *, refresh: bool = False) -> DineroClient:
        if refresh:
            self._token = await connections.access_token_for(
                self._pool,
                self._vault,
                self._visma,
                self.connection_id,
                now=self._now,
                rejected=self._token,
            )
            self._refreshed = True
        elif self._token is None:
            self._token = await connections.access_token_for(
                self._pool, self._vault, self._visma, self.connection_id, now=self._now
            )
        return DineroClient(self._http, self._api_url, self._token, on_call=self._observe)

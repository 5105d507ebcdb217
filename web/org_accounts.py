"""The organisation's own accounts, as the settings page offers them: its chart of entry
accounts (`/accounts/entry`) and its deposit accounts (`/accounts/deposit`, where payments
go).

Each list comes from Dinero (one call, after taking a slot from the organisation's rate
budget) and is cached in Redis for a few minutes. When it cannot be had (no connection,
Dinero unreachable, no slot free) the answer says why, and the page keeps the current
choices.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Final

from redis.exceptions import RedisError
from starlette.requests import Request

from gateway.accounting import AccountPlan
from gateway.dinero.client import DineroClient
from gateway.dinero.errors import DineroError
from gateway.ratelimit import RateBudget
from tenants.dinero.connections import service as connections
from tenants.dinero.session import BudgetExhausted, ConnectionRejected, DineroSession
from web import auth, deps

log = logging.getLogger(__name__)

CHART_TTL: Final = 300  # seconds: accounts change rarely, and each fetch costs a call
_WAIT: Final = 8.0  # the page waits this long for Dinero at most

_STANDARD: Final = AccountPlan()
# The roles whose accounts must carry 25 % sales VAT, read off the standard plan.
VAT_ROLES: Final = frozenset(
    role for role, account in _STANDARD.roles().items() if _STANDARD.vat_rate_of(account) > 0
)
# Zero-rated sales abroad carry the VAT code Dinero reports them under: sales to EU
# businesses UEUV/UEUY, sales outside the EU UVV/UVY.
_ZERO_RATED: Final = {
    "goods_eu_business": "UEU",
    "services_eu_business": "UEU",
    "goods_export": "UV",
    "services_export": "UV",
}


@dataclass(frozen=True)
class Account:
    number: int
    name: str
    vat_code: str | None


@dataclass(frozen=True)
class Chart:
    accounts: tuple[Account, ...] | None  # None: not available now
    problem: str | None  # why not: "not_connected", "needs_reconnect", "unreachable", "busy"

    def get(self, number: int) -> Account | None:
        return next((a for a in self.accounts or () if a.number == number), None)

    def choices(self, role: str) -> list[Account]:
        return [a for a in self.accounts or () if fits(role, a)]

    def without_vat(self) -> list[Account]:
        """The accounts that carry no VAT code: where a receivable can sit."""
        return [a for a in self.accounts or () if not takes_vat(a)]


def takes_vat(account: Account) -> bool:
    return account.vat_code is not None and account.vat_code != "none"


def fits(role: str, account: Account) -> bool:
    """Whether the account's VAT code suits the role: 25 % sales VAT (U25) for the VAT
    roles, the zero-rated code of the kind of sale abroad, and no VAT code for the rest."""
    code = account.vat_code
    if role in VAT_ROLES:
        return code == "U25"
    if role in _ZERO_RATED:
        return code is not None and code.startswith(_ZERO_RATED[role])
    return not takes_vat(account)


@dataclass(frozen=True)
class DepositAccount:
    number: int
    name: str
    is_default: bool


@dataclass(frozen=True)
class Deposits:
    """The deposit accounts the organisation shows (hidden ones are not offered)."""

    accounts: tuple[DepositAccount, ...] | None  # None: not available now
    problem: str | None  # as Chart.problem

    def get(self, number: int) -> DepositAccount | None:
        return next((a for a in self.accounts or () if a.number == number), None)


async def _listed(
    request: Request,
    connection: connections.DineroConnection | None,
    what: str,
    fetch: Callable[[DineroClient, int], Awaitable[Sequence[Any]]],
) -> tuple[list[dict[str, Any]] | None, str | None]:
    """The organisation's list `what` as JSON-able rows (cached, or fetched through the
    rate budget), or None and why not."""
    if connection is None or connection.status == "revoked":
        return None, "not_connected"
    if connection.status != "active":
        return None, "needs_reconnect"
    organization_id = connection.organization_id
    key = f"gateway:{what}:{organization_id}"
    redis = deps.redis(request)
    try:
        cached = await redis.get(key)
    except (RedisError, OSError):
        return None, "unreachable"  # no cache, no budget: do not call Dinero blind
    if cached:
        rows: list[dict[str, Any]] = json.loads(cached)
        return rows, None
    config = deps.settings(request)
    session = DineroSession(
        pool=deps.pool(request),
        vault=deps.vault(request),
        visma=deps.visma(request),
        http=deps.http(request),
        api_url=config.dinero_api_url,
        budget=RateBudget(redis, metrics=deps.metrics(request)),
        client_id=config.dinero_client_id,
        connection_id=connection.id,
        organization_id=organization_id,
        now=auth.now(),
        metrics=deps.metrics(request),
    )
    try:
        async with asyncio.timeout(_WAIT):
            found = await session.call(lambda c: fetch(c, organization_id))
    except BudgetExhausted:
        return None, "busy"
    except (ConnectionRejected, connections.ConnectionUnusable):
        return None, "needs_reconnect"
    except (DineroError, connections.RefreshUnavailable, TimeoutError, RedisError, OSError) as exc:
        log.info("%s of organisation %s unavailable: %s", what, organization_id, exc)
        return None, "unreachable"
    rows = [asdict(item) for item in found]
    # Shown all the same if Redis fails here; the next page asks Dinero again.
    with contextlib.suppress(RedisError, OSError):
        await redis.set(key, json.dumps(rows), ex=CHART_TTL)
    return rows, None


async def chart_for(request: Request, connection: connections.DineroConnection | None) -> Chart:
    async def fetch(client: DineroClient, organization_id: int) -> list[Account]:
        found = await client.entry_accounts(organization_id)
        return [Account(a.account_number, a.name or "", a.vat_code) for a in found]

    rows, problem = await _listed(request, connection, "chart", fetch)
    if rows is None:
        return Chart(None, problem)
    return Chart(tuple(sorted((Account(**r) for r in rows), key=lambda a: a.number)), None)


async def deposits_for(
    request: Request, connection: connections.DineroConnection | None
) -> Deposits:
    async def fetch(client: DineroClient, organization_id: int) -> list[DepositAccount]:
        found = await client.deposit_accounts(organization_id)
        return [
            DepositAccount(a.account_number, a.name or "", bool(a.is_default))
            for a in found
            if not a.is_hidden
        ]

    rows, problem = await _listed(request, connection, "deposits", fetch)
    if rows is None:
        return Deposits(None, problem)
    accounts = sorted((DepositAccount(**r) for r in rows), key=lambda a: a.number)
    return Deposits(tuple(accounts), None)

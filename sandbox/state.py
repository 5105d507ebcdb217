"""Everything the sandbox remembers, in memory: organisations, faults, rate-limit windows,
counters, each organisation's ledger, and (in `grants`) its consents and tokens.

Concurrency: the sandbox runs on one asyncio loop, and every method here that checks and
then changes state does so without an `await` in between, so concurrent requests cannot
interleave inside one. The only `await` (the injected latency in `enter_api`) comes before
any check.

Choices where Visma and Dinero leave things open (DINERO.md "Unsure"; the token choices are
in `grants`):
- The one sandbox user reaches every organisation the sandbox has; any other id is 403
  with Dinero's code 41 ("insufficient permissions"); a non-Pro one is 403 with code 90.
- The 100-a-minute limit is a sliding 60-second window per (organisation, client id);
  calls refused with 429 do not use up the window, and `GET /v1/organizations` (which
  names no organisation) is not limited.
- GET/HEAD calls need the `dineropublicapi:read` or `:write` scope, others `:write`;
  a missing scope is 403 with code 41.

`SCOPES`, `AuthorizeRequest`, `TokenPolicy`, `pkce_s256` and the token prefixes live in
`grants`; they are re-exported here for code outside the sandbox that imports them from here.
"""

from __future__ import annotations

import asyncio
import hmac
import random
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from starlette.requests import Request

from gateway.settings import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET
from sandbox.errors import DineroApiError
from sandbox.grants import ACCESS_TOKEN_PREFIX as ACCESS_TOKEN_PREFIX
from sandbox.grants import READ_SCOPE, WRITE_SCOPE, Grant, Grants, User
from sandbox.grants import REFRESH_TOKEN_PREFIX as REFRESH_TOKEN_PREFIX
from sandbox.grants import SCOPES as SCOPES
from sandbox.grants import AuthorizeRequest as AuthorizeRequest
from sandbox.grants import TokenPolicy as TokenPolicy
from sandbox.grants import pkce_s256 as pkce_s256
from sandbox.ledger import Ledger

RATE_LIMIT: Final = 100
RATE_WINDOW: Final = timedelta(seconds=60)

NO_ACCESS_CODE: Final = 41  # Dinero: "The user has insufficient permissions ..."
NOT_PRO_CODE: Final = 90
QUOTA_EXCEEDED: Final = "API calls quota exceeded!"


@dataclass(frozen=True)
class Organization:
    id: int
    name: str
    is_pro: bool


@dataclass(frozen=True)
class Client:
    client_id: str
    secret: str = field(repr=False)
    name: str


@dataclass
class Faults:
    error_rate: float = 0.0
    latency_ms: float = 0.0
    rate_limit_429_rate: float = 0.0
    drop_after_commit_rate: float = 0.0
    outage: bool = False


@dataclass(frozen=True)
class ApiContext:
    organization: Organization
    client_id: str
    ledger: Ledger


@dataclass
class Stats:
    token_requests: Counter[tuple[str, str]] = field(default_factory=Counter)
    api_calls: Counter[int] = field(default_factory=Counter)
    organization_list_calls: int = 0
    rate_limited: Counter[int] = field(default_factory=Counter)
    unauthorized: int = 0
    forbidden: Counter[int] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)

    def to_json(self) -> dict[str, Any]:
        by_grant: dict[str, dict[str, int]] = {}
        for (grant_type, outcome), n in sorted(self.token_requests.items()):
            by_grant.setdefault(grant_type, {})[outcome] = n
        return {
            "token_requests": by_grant,
            "api_calls": {str(k): v for k, v in sorted(self.api_calls.items())},
            "organization_list_calls": self.organization_list_calls,
            "rate_limited": {str(k): v for k, v in sorted(self.rate_limited.items())},
            "unauthorized": self.unauthorized,
            "forbidden": {str(k): v for k, v in sorted(self.forbidden.items())},
            "faults": dict(sorted(self.faults.items())),
        }


SANDBOX_USER: Final = User(id="sandbox-user", name="Sandra Sandbox", email="sandra@sandbox.test")
SEED_ORGANIZATIONS: Final = (
    Organization(1001, "Sokkeriet ApS", is_pro=True),
    Organization(1002, "Strikkeriet I/S", is_pro=True),
    Organization(1003, "Hobbyværkstedet", is_pro=False),
)
SANDBOX_CLIENT: Final = Client(SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, "Dinero Gateway (sandbox)")


def _utcnow() -> datetime:
    return datetime.now(UTC)


def sandbox_of(request: Request) -> Sandbox:
    """The sandbox behind the app serving `request` (`app.create_sandbox_app` puts it there)."""
    sandbox: Sandbox = request.app.state.sandbox
    return sandbox


class Sandbox:
    def __init__(
        self,
        *,
        clock: Callable[[], datetime] | None = None,
        rng: random.Random | None = None,
        seed: bool = True,
        policy: TokenPolicy | None = None,
    ) -> None:
        self._clock = clock or _utcnow
        self._initial_policy = policy or TokenPolicy()
        self.rng = rng or random.Random()
        self._seed = seed
        self.user = SANDBOX_USER
        self.clients = {SANDBOX_CLIENT.client_id: SANDBOX_CLIENT}
        self.reset()

    def reset(self) -> None:
        """Back to the state just after start: seeded organisations, the token policy given
        to the constructor, no tokens, no faults, no ledgers, counters at zero."""
        self._offset = timedelta()
        self.organizations: dict[int, Organization] = (
            {o.id: o for o in SEED_ORGANIZATIONS} if self._seed else {}
        )
        self.faults = Faults()
        # Dinero's; a test may raise it (`/_sandbox/settings`) together with its own budget.
        self.rate_limit = RATE_LIMIT
        self.grants = Grants(replace(self._initial_policy), now=self.now)
        self.stats = Stats()
        self._ledgers: dict[int, Ledger] = {}
        self._windows: dict[tuple[int, str], deque[datetime]] = {}

    # -- time and organisations -------------------------------------------------------

    def now(self) -> datetime:
        return self._clock() + self._offset

    def advance_clock(self, seconds: float) -> datetime:
        self._offset += timedelta(seconds=seconds)
        return self.now()

    def ledger(self, organization_id: int) -> Ledger:
        ledger = self._ledgers.get(organization_id)
        if ledger is None:
            ledger = self._ledgers[organization_id] = Ledger(organization_id, now=self.now)
        return ledger

    def add_organization(self, name: str, *, is_pro: bool) -> Organization:
        new_id = max(self.organizations, default=1000) + 1
        organization = self.organizations[new_id] = Organization(new_id, name, is_pro)
        return organization

    def organizations_of(self, user: User) -> list[Organization]:
        # One user, who reaches every organisation (see the module docstring).
        return sorted(self.organizations.values(), key=lambda o: o.id)

    # -- clients and consent ----------------------------------------------------------

    def authenticate_client(self, client_id: str, secret: str) -> Client | None:
        client = self.clients.get(client_id)
        if client is None or not hmac.compare_digest(client.secret.encode(), secret.encode()):
            return None
        return client

    def issue_code(self, request: AuthorizeRequest) -> str:
        """The sandbox's one user approves `request`: a code for the token endpoint."""
        return self.grants.issue_code(request, self.user)

    def count_token_request(self, grant_type: str, outcome: str) -> None:
        self.stats.token_requests[grant_type, outcome] += 1

    # -- revocation and expiry (control endpoints) ------------------------------------

    def _grants_reaching(self, organization_id: int | None) -> Iterable[Grant]:
        for grant in self.grants:
            reachable = {o.id for o in self.organizations_of(grant.user)}
            if organization_id is None or organization_id in reachable:
                yield grant

    def revoke_organization(self, organization_id: int) -> int:
        """Revokes every live grant whose user can reach the organisation; answers how many."""
        return self.grants.revoke(self._grants_reaching(organization_id))

    def expire_access_tokens(self, organization_id: int | None = None) -> int:
        return self.grants.expire_access_tokens(self._grants_reaching(organization_id))

    # -- the gate in front of the Dinero API ------------------------------------------

    async def enter_api(self, request: Request, organization_id: int) -> ApiContext:
        """Faults, bearer token, access, Pro, scope and rate limit, in the order Dinero's
        front door would apply them. Raises `DineroApiError`."""
        await self._apply_faults(organization_id)
        grant = self._bearer_grant(request)
        organization = self.organizations.get(organization_id)
        if organization is None or organization not in self.organizations_of(grant.user):
            self.stats.forbidden[organization_id] += 1
            raise DineroApiError(
                403, "You do not have access to this organization.", code=NO_ACCESS_CODE
            )
        if not organization.is_pro:
            self.stats.forbidden[organization_id] += 1
            raise DineroApiError(
                403,
                "The organization does not have an active Pro subscription.",
                code=NOT_PRO_CODE,
            )
        needed = {READ_SCOPE, WRITE_SCOPE} if request.method in ("GET", "HEAD") else {WRITE_SCOPE}
        if not needed & grant.scopes:
            self.stats.forbidden[organization_id] += 1
            raise DineroApiError(
                403, "The token lacks the scope for this call.", code=NO_ACCESS_CODE
            )
        self._take_rate_slot(organization_id, grant.client_id)
        self.stats.api_calls[organization_id] += 1
        return ApiContext(organization, grant.client_id, self.ledger(organization_id))

    async def enter_user_api(self, request: Request) -> User:
        """The gate for calls about the token's user (`GET /v1/organizations`): faults and
        the bearer token, no organisation and no rate limit."""
        await self._apply_faults(None)
        grant = self._bearer_grant(request)
        self.stats.organization_list_calls += 1
        return grant.user

    async def _apply_faults(self, organization_id: int | None) -> None:
        if self.faults.latency_ms > 0:
            await asyncio.sleep(self.faults.latency_ms / 1000)
        faults = self.faults
        if faults.outage:
            self.stats.faults["outage"] += 1
            raise DineroApiError(503, "Service Unavailable", text=True)
        if faults.error_rate > 0 and self.rng.random() < faults.error_rate:
            self.stats.faults["error"] += 1
            raise DineroApiError(500, "An error has occurred.")
        if faults.rate_limit_429_rate > 0 and self.rng.random() < faults.rate_limit_429_rate:
            self.stats.faults["rate_limit"] += 1
            if organization_id is not None:
                self.stats.rate_limited[organization_id] += 1
            raise DineroApiError(429, QUOTA_EXCEEDED, text=True)

    def _bearer_grant(self, request: Request) -> Grant:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        grant = self.grants.access_grant(value.strip()) if scheme.lower() == "bearer" else None
        if grant is None:
            self.stats.unauthorized += 1
            challenge = 'Bearer error="invalid_token"' if value else "Bearer"
            raise DineroApiError(
                401, "Unauthorized", empty=True, headers={"WWW-Authenticate": challenge}
            )
        return grant

    def _take_rate_slot(self, organization_id: int, client_id: str) -> None:
        now = self.now()
        window = self._windows.setdefault((organization_id, client_id), deque())
        while window and window[0] <= now - RATE_WINDOW:
            window.popleft()
        if len(window) >= self.rate_limit:
            self.stats.rate_limited[organization_id] += 1
            raise DineroApiError(429, QUOTA_EXCEEDED, text=True)
        window.append(now)

    def should_drop_response(self) -> bool:
        """Rolls the "commit, then drop the response" fault for one successful change."""
        rate = self.faults.drop_after_commit_rate
        if rate > 0 and self.rng.random() < rate:
            self.stats.faults["drop_after_commit"] += 1
            return True
        return False

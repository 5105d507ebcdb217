"""What the sandbox's Visma Connect remembers: consents, authorisation codes, grants, and
the access and refresh tokens issued from them.

Codes and tokens are filed under their SHA-256 (`_key`), so no repr of this state shows one.
As everywhere in the sandbox, no method here awaits between a check and the change it guards.

Choices where Visma leaves things open (DINERO.md "Unsure"):
- One-time refresh tokens lapse `refresh_idle_lifetime` seconds (default 30 days) after
  they were issued unless used; re-use-mode tokens live `refresh_absolute_lifetime`
  (default 365 days) from consent. Both are settings.
- Inside the grace window a rotated refresh token works exactly once more, and only while
  its successor is still unused; it answers a fresh access token and the *same* successor
  refresh token, so a client that lost the first answer ends up holding the token the
  sandbox expects next. Any other use of a rotated token is treated as token theft:
  `invalid_grant`, and the whole grant (every access and refresh token from that consent)
  is revoked, as Visma's reuse protection does.
- A grant keeps the refresh mode in force when the user consented; a changed mode applies
  to later consents only (as Visma says). Grace window and lifetimes apply at once.
- Re-using an authorisation code revokes the grant issued from it (RFC 6749 §4.1.2).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final, Literal

RefreshMode = Literal["one_time", "reuse"]
REFRESH_MODES: Final[tuple[RefreshMode, ...]] = ("one_time", "reuse")

READ_SCOPE: Final = "dineropublicapi:read"
WRITE_SCOPE: Final = "dineropublicapi:write"
OFFLINE_SCOPE: Final = "offline_access"
SCOPES: Final = (READ_SCOPE, WRITE_SCOPE, OFFLINE_SCOPE)

CODE_LIFETIME: Final = timedelta(minutes=5)
CONSENT_LIFETIME: Final = timedelta(minutes=30)

# Recognisable, so the test suite can prove no token ever reaches a log line or a dump.
ACCESS_TOKEN_PREFIX: Final = "sbx_at_"
REFRESH_TOKEN_PREFIX: Final = "sbx_rt_"


@dataclass(frozen=True)
class User:
    id: str
    name: str
    email: str


@dataclass
class TokenPolicy:
    """How the sandbox client's tokens behave (an app-level setting at Visma)."""

    refresh_mode: RefreshMode = "one_time"
    grace_seconds: int = 30
    access_token_ttl: int = 3600
    refresh_idle_lifetime: int = 30 * 24 * 3600
    refresh_absolute_lifetime: int = 365 * 24 * 3600


@dataclass(frozen=True)
class AuthorizeRequest:
    """A validated request to `/connect/authorize`, as shown on the consent page."""

    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    state: str | None
    code_challenge: str | None
    response_mode: Literal["query", "form_post"]


@dataclass(eq=False)
class Grant:
    """One consent: every token issued from it dies with it."""

    id: int
    user: User
    client_id: str
    scopes: frozenset[str]
    refresh_mode: RefreshMode
    created_at: datetime
    revoked: bool = False


@dataclass(eq=False)
class _Code:
    request: AuthorizeRequest
    user: User
    expires_at: datetime
    used: bool = False
    grant: Grant | None = None


@dataclass(eq=False)
class _AccessToken:
    grant: Grant
    expires_at: datetime


@dataclass(eq=False)
class _RefreshToken:
    value: str = field(repr=False)
    grant: Grant
    issued_at: datetime
    successor: _RefreshToken | None = None
    rotated_at: datetime | None = None
    grace_used: bool = False


@dataclass(frozen=True)
class TokenSet:
    access_token: str = field(repr=False)
    expires_in: int
    refresh_token: str | None = field(repr=False)
    scope: str


class GrantError(Exception):
    """An OAuth error from the token endpoint: `error` is the RFC 6749 code, never a secret."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


def _key(secret: str) -> str:
    """What the sandbox files a code or token under, so no repr of its state shows one."""
    return hashlib.sha256(secret.encode()).hexdigest()


def pkce_s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class Grants:
    """Every consent form, code, grant and token handed out (since the last reset), and the
    policy they are issued under."""

    def __init__(self, policy: TokenPolicy, *, now: Callable[[], datetime]) -> None:
        self.policy = policy
        self.now = now
        self._grants: list[Grant] = []
        self._consents: dict[str, tuple[AuthorizeRequest, datetime]] = {}
        self._codes: dict[str, _Code] = {}
        self._access: dict[str, _AccessToken] = {}
        self._refresh: dict[str, _RefreshToken] = {}

    def __iter__(self) -> Iterator[Grant]:
        return iter(self._grants)

    # -- consent ----------------------------------------------------------------------

    def remember_consent(self, request: AuthorizeRequest) -> str:
        """A single-use token for one rendering of the consent page (anti-forgery)."""
        now = self.now()
        self._consents = {k: v for k, v in self._consents.items() if v[1] > now}
        token = secrets.token_urlsafe(24)
        self._consents[_key(token)] = (request, now + CONSENT_LIFETIME)
        return token

    def take_consent(self, token: str, request: AuthorizeRequest) -> bool:
        """True once for a token rendered for exactly this request, and not expired."""
        remembered = self._consents.pop(_key(token), None)
        return remembered is not None and remembered[0] == request and remembered[1] > self.now()

    def issue_code(self, request: AuthorizeRequest, user: User) -> str:
        now = self.now()
        self._codes = {k: c for k, c in self._codes.items() if c.expires_at > now or c.used}
        code = secrets.token_urlsafe(32)
        self._codes[_key(code)] = _Code(request, user, now + CODE_LIFETIME)
        return code

    # -- the token endpoint -----------------------------------------------------------

    def redeem_code(
        self, code: str, *, client_id: str, redirect_uri: str | None, code_verifier: str | None
    ) -> TokenSet:
        entry = self._codes.get(_key(code))
        if entry is None or entry.request.client_id != client_id:
            raise GrantError("invalid_grant")
        if entry.used:
            if entry.grant is not None:
                self._revoke(entry.grant)
            raise GrantError("invalid_grant")
        entry.used = True  # whatever happens next, a code is tried once
        request = entry.request
        if entry.expires_at <= self.now() or redirect_uri != request.redirect_uri:
            raise GrantError("invalid_grant")
        if request.code_challenge is None:
            if code_verifier is not None:
                raise GrantError("invalid_grant")
        elif code_verifier is None or not hmac.compare_digest(
            pkce_s256(code_verifier).encode(), request.code_challenge.encode()
        ):
            raise GrantError("invalid_grant")
        grant = Grant(
            id=len(self._grants) + 1,
            user=entry.user,
            client_id=client_id,
            scopes=frozenset(request.scopes),
            refresh_mode=self.policy.refresh_mode,
            created_at=self.now(),
        )
        self._grants.append(grant)
        entry.grant = grant
        refresh = self._new_refresh(grant) if OFFLINE_SCOPE in grant.scopes else None
        return self._token_set(grant, refresh)

    def refresh(self, token: str, *, client_id: str, scope: str | None) -> TokenSet:
        now = self.now()
        current = self._refresh.get(_key(token))
        if current is None or current.grant.client_id != client_id:
            raise GrantError("invalid_grant")
        grant = current.grant
        if grant.revoked or now >= self._refresh_expiry(current):
            raise GrantError("invalid_grant")
        if scope is not None and not set(scope.split()) <= grant.scopes:
            raise GrantError("invalid_scope")
        if grant.refresh_mode == "reuse":
            return self._token_set(grant, current)
        if current.successor is None:
            current.successor = self._new_refresh(grant)
            current.rotated_at = now
            return self._token_set(grant, current.successor)
        assert current.rotated_at is not None
        in_grace = now <= current.rotated_at + timedelta(seconds=self.policy.grace_seconds)
        if in_grace and not current.grace_used and current.successor.successor is None:
            current.grace_used = True
            return self._token_set(grant, current.successor)
        self._revoke(grant)
        raise GrantError("invalid_grant")

    def _refresh_expiry(self, token: _RefreshToken) -> datetime:
        if token.grant.refresh_mode == "reuse":
            return token.issued_at + timedelta(seconds=self.policy.refresh_absolute_lifetime)
        return token.issued_at + timedelta(seconds=self.policy.refresh_idle_lifetime)

    def _new_refresh(self, grant: Grant) -> _RefreshToken:
        value = REFRESH_TOKEN_PREFIX + secrets.token_urlsafe(32)
        token = self._refresh[_key(value)] = _RefreshToken(value, grant, self.now())
        return token

    def _token_set(self, grant: Grant, refresh: _RefreshToken | None) -> TokenSet:
        ttl = self.policy.access_token_ttl
        access = ACCESS_TOKEN_PREFIX + secrets.token_urlsafe(32)
        self._access[_key(access)] = _AccessToken(grant, self.now() + timedelta(seconds=ttl))
        return TokenSet(
            access_token=access,
            expires_in=ttl,
            refresh_token=refresh.value if refresh else None,
            scope=" ".join(s for s in SCOPES if s in grant.scopes),
        )

    # -- using, revoking and expiring -------------------------------------------------

    def access_grant(self, token: str) -> Grant | None:
        """The grant behind a live access token; None for one unknown, expired or revoked."""
        access = self._access.get(_key(token))
        if access is None or access.grant.revoked or access.expires_at <= self.now():
            return None
        return access.grant

    def _revoke(self, grant: Grant) -> None:
        grant.revoked = True

    def revoke(self, grants: Iterable[Grant]) -> int:
        """Revokes those of `grants` still live; answers how many."""
        live = [g for g in grants if not g.revoked]
        for grant in live:
            self._revoke(grant)
        return len(live)

    def expire_access_tokens(self, grants: Iterable[Grant]) -> int:
        """Ends every live access token issued from `grants`; answers how many."""
        now = self.now()
        chosen = set(map(id, grants))
        expired = 0
        for token in self._access.values():
            if id(token.grant) in chosen and token.expires_at > now:
                token.expires_at = now
                expired += 1
        return expired

"""Visma Connect, the OAuth 2.0 server that grants access to the Dinero API.

Authorisation code flow with PKCE (S256); the client authenticates with `client_secret_post`
(`client_id` and `client_secret` in the form body), as Dinero documents it. Both endpoints
hang off the configured auth URL, so no discovery round-trip happens at run time.

Why authlib's protocol helpers and not its `AsyncOAuth2Client`: that client *is* an
`httpx.AsyncClient` (a subclass), so it cannot send through the process's shared client and
pool; it keeps a token on itself, while ours live encrypted in Postgres and are refreshed
under a row lock; and it folds every failure into `OAuthError` or an HTTP status error, and
its form decoding quotes the request body (client secret included) in its `ValueError`. So
authlib builds what the protocol defines (the authorization URL, the token request body,
the client authentication, the S256 challenge), and this module sends it with the shared
client under an explicit timeout and reads the answer itself, which is what lets it tell
the three outcomes a caller must treat differently apart:

- `InvalidGrant`: the grant is dead (revoked, expired, a one-time refresh token reused after
  its grace window). Mark the connection `needs_reconnect` and stop refreshing.
- `ConnectUnavailable`: try again later. When `uncertain` is set the server may have acted on
  the request, e.g. rotated the refresh token and lost the answer, so the retry must reuse
  the same refresh token and come soon, inside Visma's grace window.
- `ConnectRejected`: any other OAuth error (`invalid_client`, `invalid_scope`, ...), which is
  a configuration problem that retrying will not fix.

Nothing here puts a token, code, verifier or the client secret into a message, a repr or a
log line; error descriptions from the server are cleaned of them as well.
"""

from __future__ import annotations

import logging
import math
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from urllib.parse import urlsplit

import httpx
from authlib.oauth2.auth import ClientAuth
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from gateway.logs import redact
from gateway.metrics import TOKEN_REFRESHES, Metrics
from gateway.secret import MASK, Secret

DEFAULT_SCOPES: Final = ("dineropublicapi:read", "dineropublicapi:write", "offline_access")
DEFAULT_TIMEOUT: Final = httpx.Timeout(10.0, connect=5.0)
# RFC 6749 makes `expires_in` only RECOMMENDED. Visma sends it; should it ever be missing we
# assume the documented one-hour lifetime: if the real one is shorter, the API's 401 makes
# the caller refresh early, which costs one request and loses nothing.
ASSUMED_EXPIRES_IN: Final = 3600

_log = logging.getLogger(__name__)

# Failures raised before a single byte of the request left this process.
_NOT_SENT: Final = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.ProxyError,
    httpx.UnsupportedProtocol,
)
_DESCRIPTION_LIMIT: Final = 200
_ERROR_CODE_LIMIT: Final = 64
# Access tokens live about an hour; a day caps a nonsense value (and keeps the sum in range).
_LONGEST_EXPIRES_IN: Final = 86400


class ConnectError(Exception):
    """A token call failed. The message never contains a token, code or secret."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class InvalidGrant(ConnectError):
    """The code or refresh token is dead: the user has to connect again."""

    def __init__(self, description: str | None, *, status: int | None) -> None:
        message = "Visma Connect: invalid_grant, the grant is no longer valid"
        super().__init__(f"{message} ({description})" if description else message, status=status)
        self.description = description


class ConnectUnavailable(ConnectError):
    """Transient. `uncertain`: the server may have received and acted on the request."""

    def __init__(self, message: str, *, uncertain: bool, status: int | None = None) -> None:
        super().__init__(f"Visma Connect unavailable: {message}", status=status)
        self.uncertain = uncertain


class ConnectRejected(ConnectError):
    """Any other OAuth error: our request or our client registration is wrong."""

    def __init__(self, error: str, description: str | None, *, status: int | None) -> None:
        message = f"Visma Connect rejected the request: {error}"
        super().__init__(f"{message} ({description})" if description else message, status=status)
        self.error = error
        self.description = description


@dataclass(frozen=True)
class Pkce:
    verifier: Secret
    challenge: str


def new_pkce() -> Pkce:
    # 64 random bytes give an 86-character verifier, inside RFC 7636's 43–128 and its alphabet.
    verifier = secrets.token_urlsafe(64)
    return Pkce(verifier=Secret(verifier), challenge=create_s256_code_challenge(verifier))


@dataclass(frozen=True)
class TokenSet:
    access_token: Secret
    refresh_token: Secret | None
    expires_at: datetime
    scope: str  # as granted; "" when the server left it out, which means "as requested"
    token_type: str


class VismaConnect:
    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        auth_url: str,
        client_id: str,
        client_secret: Secret,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        metrics: Metrics | None = None,
    ) -> None:
        base = auth_url.rstrip("/")
        parts = urlsplit(base)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("auth_url must be an http(s) URL")
        self._http = http
        self._client_id = client_id
        self._client_secret = client_secret
        self._timeout = timeout
        self._metrics = metrics
        self.authorize_endpoint = f"{base}/connect/authorize"
        self.token_endpoint = f"{base}/connect/token"

    def __repr__(self) -> str:
        return f"VismaConnect({self.token_endpoint!r}, client_id={self._client_id!r})"

    def authorization_url(
        self,
        *,
        redirect_uri: str,
        state: str,
        code_challenge: str,
        scopes: Iterable[str] = DEFAULT_SCOPES,
        form_post: bool = False,
        prompt: str | None = None,
    ) -> str:
        """Where to send the user's browser to consent. `state` must be single use."""
        # authlib silently drops empty values; a URL without them would be an open door.
        if not state or not code_challenge or not redirect_uri:
            raise ValueError("state, code_challenge and redirect_uri are required")
        url: str = prepare_grant_uri(
            self.authorize_endpoint,
            client_id=self._client_id,
            response_type="code",
            redirect_uri=redirect_uri,
            scope=list(scopes),
            state=state,
            code_challenge=code_challenge,
            code_challenge_method="S256",
            response_mode="form_post" if form_post else None,
            prompt=prompt,
        )
        return url

    async def exchange_code(
        self, *, code: str, redirect_uri: str, code_verifier: Secret, now: datetime
    ) -> TokenSet:
        if not code or not code_verifier:
            raise ValueError("code and code_verifier are required")
        now = _utc(now)
        verifier = code_verifier.reveal()
        answer = await self._token_call(
            "authorization_code",
            {"code": code, "redirect_uri": redirect_uri, "code_verifier": verifier},
            sensitive=(code, verifier),
        )
        return _token_set(answer, now=now, previous_refresh_token=None)

    async def refresh(self, refresh_token: Secret, *, now: datetime) -> TokenSet:
        """A new access token. The result always carries the refresh token to store next:
        the rotated one (one-time mode), or the one given here when the server sends none
        back (re-use mode may omit it, RFC 6749 §6), so callers never handle that case."""
        if not refresh_token:
            raise ValueError("refresh_token is required")
        now = _utc(now)
        token = refresh_token.reveal()
        try:
            answer = await self._token_call(
                "refresh_token", {"refresh_token": token}, sensitive=(token,)
            )
            tokens = _token_set(answer, now=now, previous_refresh_token=refresh_token)
        except ConnectError as exc:
            await self._count_refresh(
                "invalid_grant"
                if isinstance(exc, InvalidGrant)
                else "unavailable"
                if isinstance(exc, ConnectUnavailable)
                else "rejected"
            )
            raise
        await self._count_refresh("ok")
        return tokens

    async def _count_refresh(self, outcome: str) -> None:
        if self._metrics is not None:
            await self._metrics.inc(TOKEN_REFRESHES, outcome=outcome)

    async def _token_call(
        self, grant_type: str, fields: Mapping[str, str], *, sensitive: tuple[str, ...]
    ) -> dict[str, Any]:
        sensitive = (*sensitive, self._client_secret.reveal())
        started = time.perf_counter()
        outcome = "-"
        try:
            response = await self._http.post(
                self.token_endpoint,
                content=self._token_request_body(grant_type, fields),
                headers={
                    "Content-Type": "application/x-www-form-urlencoded",
                    "Accept": "application/json",
                },
                timeout=self._timeout,
            )
            outcome = str(response.status_code)
        except httpx.RequestError as exc:
            outcome = type(exc).__name__
            raise ConnectUnavailable(
                f"token request failed ({outcome})", uncertain=not isinstance(exc, _NOT_SENT)
            ) from exc
        finally:
            elapsed_ms = (time.perf_counter() - started) * 1000
            _log.debug(
                "token call grant_type=%s status=%s elapsed_ms=%.0f",
                grant_type,
                outcome,
                elapsed_ms,
            )
        return _read_answer(response, sensitive)

    def _token_request_body(self, grant_type: str, fields: Mapping[str, str]) -> str:
        body = prepare_token_request(grant_type, **fields)
        client = ClientAuth(self._client_id, self._client_secret.reveal(), "client_secret_post")
        _, _, body = client.prepare("POST", self.token_endpoint, {}, body)
        return str(body)


def _read_answer(response: httpx.Response, sensitive: tuple[str, ...]) -> dict[str, Any]:
    status = response.status_code
    if status in (408, 429) or response.is_server_error:
        # 408 and 429 turn a request away unprocessed; a 5xx may come after the work was done.
        uncertain = response.is_server_error
        raise ConnectUnavailable(
            f"token endpoint answered {status}", uncertain=uncertain, status=status
        )
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        # A proxy's page, most likely. After a 2xx the server may have rotated the token.
        raise ConnectUnavailable(
            f"token endpoint answered {status} without a JSON object",
            uncertain=response.is_success,
            status=status,
        )

    if "error" in answer:
        error = _clean(answer["error"], sensitive, _ERROR_CODE_LIMIT) or "unknown_error"
        description = _clean(answer.get("error_description"), sensitive, _DESCRIPTION_LIMIT)
        if error == "invalid_grant":
            raise InvalidGrant(description, status=status)
        # RFC 6749's two transient error codes, in case a server uses them here.
        if error == "temporarily_unavailable":
            raise ConnectUnavailable(error, uncertain=False, status=status)
        if error == "server_error":
            raise ConnectUnavailable(error, uncertain=True, status=status)
        raise ConnectRejected(error, description, status=status)
    if not response.is_success:
        raise ConnectRejected(f"http_{status}", None, status=status)
    return answer


def _token_set(
    answer: Mapping[str, Any], *, now: datetime, previous_refresh_token: Secret | None
) -> TokenSet:
    access_token = answer.get("access_token")
    if not isinstance(access_token, str) or not access_token:
        # Malformed, but the server did answer: for a refresh, the token may have rotated.
        raise ConnectUnavailable("token endpoint answered without an access_token", uncertain=True)
    refresh_token = answer.get("refresh_token")
    token_type = answer.get("token_type")
    scope = answer.get("scope")
    return TokenSet(
        access_token=Secret(access_token),
        refresh_token=(
            Secret(refresh_token)
            if isinstance(refresh_token, str) and refresh_token
            else previous_refresh_token
        ),
        expires_at=now + timedelta(seconds=_expires_in(answer.get("expires_in"))),
        scope=scope if isinstance(scope, str) else "",
        token_type=token_type if isinstance(token_type, str) and token_type else "Bearer",
    )


def _utc(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(UTC)


def _expires_in(value: object) -> int:
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return ASSUMED_EXPIRES_IN
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return ASSUMED_EXPIRES_IN
    return min(max(0, int(value)), _LONGEST_EXPIRES_IN)


def _clean(text: object, sensitive: tuple[str, ...], limit: int) -> str | None:
    """Server text made fit for a message: no secrets we sent, one printable line, short."""
    if not isinstance(text, str):
        return None
    for value in sensitive:
        if value:
            text = text.replace(value, MASK)
    text = " ".join("".join(ch if ch.isprintable() else " " for ch in redact(text)).split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text or None

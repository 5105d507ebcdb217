"""How a Dinero call leaves and how its answer is read: the base of every resource's calls.

Every call gets an explicit timeout, `Accept: application/json`, the bearer token (added by an
`httpx.Auth`, never held in the clear by this module) and a body written by `jsonmoney` (exact
decimals). One DEBUG line per call names the method, the path (never the query string: filters
hold e-mail addresses), the status and the time taken. Non-2xx answers, lost calls and
unreadable bodies become the errors of `errors`.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Generator
from typing import Any, Final, TypeVar
from uuid import UUID

import httpx

from gateway.dinero import jsonmoney
from gateway.dinero.errors import error_for_response, error_for_transport, error_for_unreadable_body
from gateway.dinero.jsonmoney import JsonValue
from gateway.secret import Secret

DEFAULT_TIMEOUT: Final = httpx.Timeout(connect=5, read=30, write=30, pool=5)

CallObserver = Callable[[str, str, int | None], None]
"""Told of every call: method, path, and the status (`None` when no answer came)."""

Params = dict[str, str | int]

_log = logging.getLogger("gateway.dinero")

T = TypeVar("T")
_Files = dict[str, tuple[str, bytes, str]]
_WORD: Final = re.compile(r"[A-Za-z][A-Za-z-]*")


class Transport:
    """Sends the calls of one access token through the process's shared `httpx.AsyncClient`.
    The resource classes (`ContactCalls`, `InvoiceCalls`, ...) build on it."""

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


def api_path(org: int, *parts: str | UUID, version: int = 1) -> str:
    """`/v1/{org}/...`. Ids are checked for type and words for shape, so no stray string
    (a guid read from somewhere as text, say) can reshape the path."""
    if isinstance(org, bool) or not isinstance(org, int) or org <= 0:
        raise ValueError(f"not an organisation id: {org!r}")
    for part in parts:
        if not isinstance(part, UUID) and not (isinstance(part, str) and _WORD.fullmatch(part)):
            raise TypeError(f"not a path segment (guids must be UUID): {part!r}")
    return "/".join((f"/v{version}", str(org), *(str(part) for part in parts)))

"""What can go wrong when calling Dinero, sorted into the few kinds a caller acts on.

The line that matters most is between `ServerError` (the request certainly had no effect, so
trying again is safe) and `Uncertain` (it may have been applied: look before trying again).
A GET never changes anything, so every failed GET is a `ServerError`; a POST, PUT or DELETE
that got as far as being sent and then lost its answer, or got a 5xx, is `Uncertain`.

Dinero's error bodies vary: `{"code", "message", "validationErrors", "languageSpecificMessages"}`
in any key casing, a bare JSON string, plain text ("API calls quota exceeded!"), an HTML page
(404), or nothing at all (401). None of them may crash the mapping, and none of them is kept
whole: messages are cut to a short, single-line excerpt.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Final

import httpx

from gateway.dinero import jsonmoney
from gateway.logs import redact
from gateway.secret import MASK, Secret

DEFAULT_RATE_LIMIT_RETRY: Final = 20.0
"""Seconds to wait after a 429 that names no time: Dinero's quota is per minute."""

TIMESTAMP_OUTDATED: Final = 58
NOT_PRO_CODES: Final = frozenset({90, 48})  # 48 in older documentation

_SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
# Transport failures that happen before any byte of the request reaches Dinero.
_NOT_SENT: Final = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.ProxyError,
    httpx.UnsupportedProtocol,
)
_EXCERPT_CHARS: Final = 300
_EXCERPT_SOURCE_BYTES: Final = 16_384  # an error page's text of interest is near its top

_TAG: Final = re.compile(r"<[^>]*>")
_BLOCK: Final = re.compile(r"<(script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_SPACE: Final = re.compile(r"\s+")
_ALREADY_EXISTS: Final = re.compile(r"already\s+(exist|in\s+use|used|taken)|duplicate", re.I)
_GUID_MENTION: Final = re.compile(r"guid|\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-", re.I)


class DineroError(Exception):
    """A call to Dinero that did not succeed. `path` never includes the query string."""

    def __init__(
        self,
        message: str,
        *,
        method: str,
        path: str,
        status: int | None = None,
        code: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.method = method
        self.path = path
        self.status = status
        self.code = code

    @property
    def is_transient(self) -> bool:
        """True when the same call may succeed later without anyone changing anything."""
        return False

    def __str__(self) -> str:
        answer = f"HTTP {self.status}" if self.status is not None else "no answer"
        code = f" (code {self.code})" if self.code is not None else ""
        return f"{self.method} {self.path}: {answer}{code}: {self.message}"

    def __reduce__(self) -> str | tuple[Any, ...]:
        # Keyword-only arguments defeat Exception's default pickling, and arq pickles the
        # exceptions jobs raise.
        return (_rebuild, (type(self), self.__dict__.copy()))


def _rebuild(cls: type[DineroError], state: dict[str, Any]) -> DineroError:
    error = cls.__new__(cls)
    error.__dict__.update(state)
    error.args = (state.get("message", ""),)
    return error


class Unauthorized(DineroError):
    """401: the access token expired or was revoked."""


class Forbidden(DineroError):
    """403: no access to this organisation, or (`not_pro`) it has no Dinero Pro."""

    @property
    def not_pro(self) -> bool:
        return self.code in NOT_PRO_CODES


class NotFound(DineroError):
    """404: no such organisation or object (or a deleted one)."""


class RateLimited(DineroError):
    """429: over the quota of 100 calls a minute per organisation and client."""

    def __init__(
        self,
        message: str,
        *,
        method: str,
        path: str,
        status: int | None = 429,
        code: int | None = None,
        retry_after: float = DEFAULT_RATE_LIMIT_RETRY,
    ) -> None:
        super().__init__(message, method=method, path=path, status=status, code=code)
        self.retry_after = retry_after

    @property
    def is_transient(self) -> bool:
        return True


class ValidationFailed(DineroError):
    """400 (or another 4xx refusal): Dinero rejected the request; it was not applied."""

    def __init__(
        self,
        message: str,
        *,
        method: str,
        path: str,
        status: int | None = 400,
        code: int | None = None,
        field_errors: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message, method=method, path=path, status=status, code=code)
        self.field_errors = dict(field_errors or {})

    @property
    def duplicate_guid(self) -> bool:
        """Dinero refused a client-chosen Guid because it already exists: read that one back."""
        texts = [self.message, *self.field_errors.values()]
        exists = any(_ALREADY_EXISTS.search(text) for text in texts)
        names_guid = any(_GUID_MENTION.search(text) for text in [*texts, *self.field_errors])
        return exists and names_guid

    def __str__(self) -> str:
        fields = "; ".join(f"{name}: {text}" for name, text in self.field_errors.items())
        return f"{super().__str__()} [{fields}]" if fields else super().__str__()


class TimestampOutdated(ValidationFailed):
    """Code 58: the `Timestamp` sent is not the object's latest; re-read it and retry once."""


class ServerError(DineroError):
    """Dinero failed or was unreachable, and the request certainly had no effect."""

    @property
    def is_transient(self) -> bool:
        return True


class Uncertain(DineroError):
    """The request may or may not have been applied: find out before sending it again."""

    @property
    def is_transient(self) -> bool:
        return True


def _changes_nothing(method: str, safe: bool | None) -> bool:
    """Whether a failed call certainly left nothing applied. `safe` overrides the method for
    calls that change nothing whatever their method (Dinero's preview is a POST)."""
    return method.upper() in _SAFE_METHODS if safe is None else safe


def error_for_response(
    response: httpx.Response,
    *,
    method: str,
    path: str,
    hide: Secret | None = None,
    safe: bool | None = None,
) -> DineroError:
    """The error for a non-2xx answer. `hide` is a value (the token) no message may contain,
    even when the body echoes it; `safe`: see `_changes_nothing`."""
    status = response.status_code
    code, message, field_errors = _read_body(response.content)
    message = _clean(message or response.reason_phrase or "no message", hide)
    field_errors = {_clean(k, hide): _clean(v, hide) for k, v in field_errors.items()}
    where: dict[str, Any] = {"method": method, "path": path, "status": status, "code": code}

    if status == 401:
        return Unauthorized(message, **where)
    if status == 403:
        return Forbidden(message, **where)
    if status == 404:
        return NotFound(message, **where)
    if status == 429:
        return RateLimited(message, **where, retry_after=retry_after(response.headers))
    if status == 408:  # the server gave up reading the request: nothing was applied
        return ServerError(message, **where)
    if 400 <= status < 500 and status != 480:
        kind = TimestampOutdated if code == TIMESTAMP_OUTDATED else ValidationFailed
        return kind(message, **where, field_errors=field_errors)
    # A 5xx, or 480 ("deprecated endpoint"), to a write promises nothing about its effect.
    # Anything else (a redirect we were not told to follow) was certainly not applied.
    maybe_applied = (500 <= status <= 599 or status == 480) and not _changes_nothing(method, safe)
    return (Uncertain if maybe_applied else ServerError)(message, **where)


def error_for_transport(
    exc: httpx.RequestError, *, method: str, path: str, safe: bool | None = None
) -> DineroError:
    """The error for a call that got no HTTP answer at all."""
    what = type(exc).__name__
    if isinstance(exc, _NOT_SENT):
        return ServerError(f"{what}: the request was not sent", method=method, path=path)
    if _changes_nothing(method, safe):
        return ServerError(f"{what}: no answer", method=method, path=path)
    return Uncertain(f"{what} after sending: it may have been applied", method=method, path=path)


def error_for_unreadable_body(
    response: httpx.Response, *, method: str, path: str, why: str, safe: bool | None = None
) -> DineroError:
    """A 2xx answer whose body is not what the call returns. After a write, what Dinero did
    is unknown to us, so the caller must look."""
    message = f"unexpected answer body ({why})"
    kind = ServerError if _changes_nothing(method, safe) else Uncertain
    return kind(message, method=method, path=path, status=response.status_code)


def retry_after(headers: httpx.Headers, *, now: datetime | None = None) -> float:
    """Seconds from a `Retry-After` header (seconds or HTTP-date), else the default."""
    value = headers.get("retry-after", "").strip()
    if not value:
        return DEFAULT_RATE_LIMIT_RETRY
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return DEFAULT_RATE_LIMIT_RETRY
        if when.tzinfo is None:  # HTTP-dates are GMT by definition
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if not math.isfinite(seconds):
        return DEFAULT_RATE_LIMIT_RETRY
    return max(0.0, seconds)


def _read_body(content: bytes) -> tuple[int | None, str, dict[str, str]]:
    """Dinero's code, message and field errors, from whatever the body turns out to be."""
    if not content.strip():
        return None, "", {}
    try:
        body = jsonmoney.loads(content)
    except ValueError:  # includes UnicodeDecodeError
        return None, _excerpt(content), {}
    if isinstance(body, str):
        return None, body, {}
    if not isinstance(body, dict):
        return None, _excerpt(content), {}
    fields = {str(key).lower(): value for key, value in body.items()}
    message = fields.get("message")
    if not isinstance(message, str) or not message.strip():
        message = _language_message(fields.get("languagespecificmessages")) or ""
    return _code(fields.get("code")), message, _field_errors(fields.get("validationerrors"))


def _code(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _field_errors(value: object) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    errors: dict[str, str] = {}
    for field, text in value.items():
        if isinstance(text, list):
            text = "; ".join(str(item) for item in text)
        errors[str(field)] = str(text)
    return errors


def _language_message(value: object) -> str | None:
    """Dinero sends `[{"en-GB": "..."}]` or `{"en-GB": "..."}`: prefer English."""
    entries = value if isinstance(value, list) else [value]
    texts: dict[str, str] = {}
    for entry in entries:
        if isinstance(entry, dict):
            texts.update({str(k).lower(): v for k, v in entry.items() if isinstance(v, str)})
    return texts.get("en-gb") or next(iter(texts.values()), None)


def _excerpt(content: bytes) -> str:
    """Readable text from the start of a non-JSON body (an HTML error page, usually)."""
    text = content[:_EXCERPT_SOURCE_BYTES].decode("utf-8", "replace")
    if "<" in text:
        text = html.unescape(_TAG.sub(" ", _BLOCK.sub(" ", text)))
    return text


def _clean(text: str, hide: Secret | None) -> str:
    text = _SPACE.sub(" ", "".join(c if c.isprintable() else " " for c in text)).strip()
    if hide:
        text = text.replace(hide.reveal(), MASK)
    text = redact(text)
    return text if len(text) <= _EXCERPT_CHARS else text[: _EXCERPT_CHARS - 1] + "…"

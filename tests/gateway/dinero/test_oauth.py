from __future__ import annotations

import base64
import hashlib
import logging
import re
import traceback
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import respx

from gateway.dinero.oauth import (
    DEFAULT_SCOPES,
    ConnectError,
    ConnectRejected,
    ConnectUnavailable,
    InvalidGrant,
    TokenSet,
    VismaConnect,
    new_pkce,
)
from gateway.secret import Secret

AUTH_URL = "https://connect.example.test"
TOKEN_URL = f"{AUTH_URL}/connect/token"
REDIRECT_URI = "https://gateway.example.test/oauth/dinero/callback"
CLIENT_ID = "isv_gateway_test"
CLIENT_SECRET = "client-secret-SHOULD-NOT-LEAK"
CODE = "authcode-SHOULD-NOT-LEAK"
VERIFIER = "verifier-SHOULD-NOT-LEAK-" + "v" * 30
ACCESS = "access-token-SHOULD-NOT-LEAK"
REFRESH = "refresh-token-SHOULD-NOT-LEAK"
ROTATED = "rotated-refresh-token-SHOULD-NOT-LEAK"
SENSITIVE = (CLIENT_SECRET, CODE, VERIFIER, ACCESS, REFRESH, ROTATED)
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
TIMEOUT = httpx.Timeout(3.0, connect=1.0)


def _form(request: httpx.Request) -> dict[str, str]:
    fields = parse_qs(request.content.decode(), keep_blank_values=True, strict_parsing=True)
    assert all(len(values) == 1 for values in fields.values()), fields
    return {name: values[0] for name, values in fields.items()}


def _s256(verifier: str) -> str:
    # RFC 7636 §4.2, computed here independently of the code under test.
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _token_answer(**overrides: Any) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "access_token": ACCESS,
        "refresh_token": ROTATED,
        "expires_in": 3600,
        "token_type": "Bearer",
        "scope": " ".join(DEFAULT_SCOPES),
    }
    answer.update(overrides)
    return {key: value for key, value in answer.items() if value is not None}


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def connect(http: httpx.AsyncClient) -> VismaConnect:
    return VismaConnect(
        http,
        auth_url=AUTH_URL + "/",
        client_id=CLIENT_ID,
        client_secret=Secret(CLIENT_SECRET),
        timeout=TIMEOUT,
    )


@pytest.fixture
def token_route() -> Iterator[respx.Route]:
    with respx.mock(assert_all_called=False) as router:
        yield router.post(TOKEN_URL)


async def _exchange(connect: VismaConnect, now: datetime = NOW) -> TokenSet:
    return await connect.exchange_code(
        code=CODE, redirect_uri=REDIRECT_URI, code_verifier=Secret(VERIFIER), now=now
    )


async def _refresh(connect: VismaConnect, now: datetime = NOW) -> TokenSet:
    return await connect.refresh(Secret(REFRESH), now=now)


# --- authorisation URL ----------------------------------------------------------------


def test_authorization_url_carries_every_parameter(connect: VismaConnect) -> None:
    pkce = new_pkce()

    url = connect.authorization_url(
        redirect_uri=REDIRECT_URI, state="state-123", code_challenge=pkce.challenge
    )

    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == (
        "https",
        "connect.example.test",
        "/connect/authorize",
    )
    query = parse_qs(parts.query, strict_parsing=True)
    assert query == {
        "response_type": ["code"],
        "client_id": [CLIENT_ID],
        "redirect_uri": [REDIRECT_URI],
        "scope": ["dineropublicapi:read dineropublicapi:write offline_access"],
        "state": ["state-123"],
        "code_challenge": [_s256(pkce.verifier.reveal())],
        "code_challenge_method": ["S256"],
    }


def test_authorization_url_form_post_prompt_and_scopes(connect: VismaConnect) -> None:
    url = connect.authorization_url(
        redirect_uri=REDIRECT_URI,
        state="s",
        code_challenge="c" * 43,
        scopes=["dineropublicapi:read", "offline_access"],
        form_post=True,
        prompt="consent",
    )

    query = parse_qs(urlsplit(url).query)
    assert query["response_mode"] == ["form_post"]
    assert query["prompt"] == ["consent"]
    assert query["scope"] == ["dineropublicapi:read offline_access"]


@pytest.mark.parametrize("missing", ["state", "code_challenge", "redirect_uri"])
def test_authorization_url_refuses_to_leave_out_a_required_value(
    connect: VismaConnect, missing: str
) -> None:
    values = {"redirect_uri": REDIRECT_URI, "state": "s", "code_challenge": "c" * 43}
    values[missing] = ""
    with pytest.raises(ValueError, match=missing):
        connect.authorization_url(
            redirect_uri=values["redirect_uri"],
            state=values["state"],
            code_challenge=values["code_challenge"],
        )


def test_new_pkce_makes_a_fresh_rfc7636_verifier_and_its_s256_challenge() -> None:
    first, second = new_pkce(), new_pkce()

    verifier = first.verifier.reveal()
    assert re.fullmatch(r"[A-Za-z0-9._~-]{43,128}", verifier)
    assert first.challenge == _s256(verifier)
    assert first.verifier != second.verifier
    assert verifier not in repr(first)


def test_endpoints_come_from_the_auth_url_and_repr_hides_the_secret(
    connect: VismaConnect,
) -> None:
    assert connect.authorize_endpoint == f"{AUTH_URL}/connect/authorize"
    assert connect.token_endpoint == TOKEN_URL
    assert CLIENT_SECRET not in repr(connect)
    assert CLIENT_ID in repr(connect)


def test_a_url_that_is_not_http_is_refused(http: httpx.AsyncClient) -> None:
    with pytest.raises(ValueError, match="auth_url"):
        VismaConnect(http, auth_url="connect.visma.com", client_id="x", client_secret=Secret("y"))


# --- code exchange and refresh ---------------------------------------------------------


async def test_exchange_code_posts_exactly_the_form_fields(
    connect: VismaConnect, token_route: respx.Route
) -> None:
    token_route.respond(200, json=_token_answer())

    tokens = await _exchange(connect)

    request = token_route.calls.last.request
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert "authorization" not in request.headers  # client_secret_post, not basic
    assert request.extensions["timeout"] == TIMEOUT.as_dict()
    assert _form(request) == {
        "grant_type": "authorization_code",
        "code": CODE,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": VERIFIER,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }
    assert tokens == TokenSet(
        access_token=Secret(ACCESS),
        refresh_token=Secret(ROTATED),
        expires_at=NOW + timedelta(hours=1),
        scope="dineropublicapi:read dineropublicapi:write offline_access",
        token_type="Bearer",
    )


async def test_exchange_without_offline_access_has_no_refresh_token(
    connect: VismaConnect, token_route: respx.Route
) -> None:
    token_route.respond(200, json=_token_answer(refresh_token=None, scope=None))

    tokens = await _exchange(connect)

    assert tokens.refresh_token is None
    assert tokens.scope == ""


async def test_refresh_posts_the_right_fields_and_takes_the_rotated_token(
    connect: VismaConnect, token_route: respx.Route
) -> None:
    token_route.respond(200, json=_token_answer(refresh_token=ROTATED))

    tokens = await _refresh(connect)

    assert _form(token_route.calls.last.request) == {
        "grant_type": "refresh_token",
        "refresh_token": REFRESH,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }
    assert tokens.access_token == Secret(ACCESS)
    assert tokens.refresh_token == Secret(ROTATED)


@pytest.mark.parametrize(
    "answered", [REFRESH, None, ""], ids=["same-token-back", "left-out", "empty"]
)
async def test_refresh_in_reuse_mode_keeps_the_refresh_token(
    connect: VismaConnect, token_route: respx.Route, answered: str | None
) -> None:
    answer = _token_answer(refresh_token=None)
    if answered is not None:
        answer["refresh_token"] = answered
    token_route.respond(200, json=answer)

    tokens = await _refresh(connect)

    assert tokens.refresh_token == Secret(REFRESH)


@pytest.mark.parametrize(
    ("expires_in", "lifetime"),
    [
        (1800, timedelta(minutes=30)),
        ("1200", timedelta(minutes=20)),
        (None, timedelta(hours=1)),  # missing: the documented hour is assumed
        ("soon", timedelta(hours=1)),
        (-5, timedelta(0)),
    ],
)
async def test_expires_in_is_honoured(
    connect: VismaConnect, token_route: respx.Route, expires_in: object, lifetime: timedelta
) -> None:
    token_route.respond(200, json=_token_answer(expires_in=expires_in))

    tokens = await _refresh(connect)

    assert tokens.expires_at == NOW + lifetime


async def test_expires_at_is_utc_whatever_zone_now_is_in(
    connect: VismaConnect, token_route: respx.Route
) -> None:
    token_route.respond(200, json=_token_answer(expires_in=60))
    copenhagen_winter = timezone(timedelta(hours=1))

    tokens = await _refresh(connect, now=NOW.astimezone(copenhagen_winter))

    assert tokens.expires_at.utcoffset() == timedelta(0)
    assert tokens.expires_at == NOW + timedelta(seconds=60)


async def test_a_naive_now_is_refused_before_anything_is_sent(
    connect: VismaConnect, token_route: respx.Route
) -> None:
    token_route.respond(200, json=_token_answer())

    with pytest.raises(ValueError, match="timezone"):
        await _refresh(connect, now=datetime(2025, 3, 1, 12, 0))  # noqa: DTZ001
    assert not token_route.called


# --- failures --------------------------------------------------------------------------


@pytest.mark.parametrize("call", [_exchange, _refresh])
async def test_invalid_grant_means_the_grant_is_dead(
    connect: VismaConnect, token_route: respx.Route, call: Any
) -> None:
    token_route.respond(400, json={"error": "invalid_grant"})

    with pytest.raises(InvalidGrant) as caught:
        await call(connect)

    assert caught.value.status == 400
    assert "invalid_grant" in str(caught.value)


@pytest.mark.parametrize("status", [400, 401])
async def test_invalid_client_is_rejected_not_retried(
    connect: VismaConnect, token_route: respx.Route, status: int
) -> None:
    token_route.respond(
        status, json={"error": "invalid_client", "error_description": "Unknown client"}
    )

    with pytest.raises(ConnectRejected) as caught:
        await _refresh(connect)

    assert not isinstance(caught.value, ConnectUnavailable | InvalidGrant)
    assert (caught.value.error, caught.value.description) == ("invalid_client", "Unknown client")
    assert caught.value.status == status
    assert (
        str(caught.value) == "Visma Connect rejected the request: invalid_client (Unknown client)"
    )


async def test_a_4xx_json_answer_without_an_error_code_is_rejected(
    connect: VismaConnect, token_route: respx.Route
) -> None:
    token_route.respond(403, json={"message": "forbidden"})

    with pytest.raises(ConnectRejected) as caught:
        await _refresh(connect)

    assert caught.value.error == "http_403"


async def test_an_error_description_is_one_short_printable_line(
    connect: VismaConnect, token_route: respx.Route
) -> None:
    noisy = "line one\r\nline\ttwo\x1b[31m " + "x" * 500
    token_route.respond(400, json={"error": "invalid_request", "error_description": noisy})

    with pytest.raises(ConnectRejected) as caught:
        await _refresh(connect)

    description = caught.value.description
    assert description is not None
    assert description.startswith("line one line two [31m xxx")
    assert len(description) == 200
    assert description.isprintable()


@pytest.mark.parametrize(
    ("status", "body", "uncertain"),
    [
        (500, {"error": "server_error"}, True),
        (502, "<html>Bad gateway</html>", True),
        (503, "", True),
        (429, "API calls quota exceeded!", False),
        (429, {"error": "rate_limited"}, False),
        (408, "", False),
        (200, "<html>maintenance</html>", True),
        (200, ["not", "an", "object"], True),
        (200, {"token_type": "Bearer"}, True),  # 2xx without an access token
        (400, "<html>Bad request</html>", False),
        (400, {"error": "temporarily_unavailable"}, False),
        (400, {"error": "server_error"}, True),
    ],
)
async def test_transient_answers_are_unavailable(
    connect: VismaConnect,
    token_route: respx.Route,
    status: int,
    body: object,
    uncertain: bool,
) -> None:
    if isinstance(body, str):
        token_route.respond(status, text=body)
    else:
        token_route.respond(status, json=body)

    with pytest.raises(ConnectUnavailable) as caught:
        await _refresh(connect)

    assert caught.value.uncertain is uncertain


@pytest.mark.parametrize(
    ("failure", "uncertain"),
    [
        (httpx.ConnectError, False),
        (httpx.ConnectTimeout, False),
        (httpx.PoolTimeout, False),
        (httpx.ReadTimeout, True),
        (httpx.WriteTimeout, True),
        (httpx.ReadError, True),
        (httpx.RemoteProtocolError, True),
    ],
)
async def test_transport_failures_are_unavailable(
    connect: VismaConnect,
    token_route: respx.Route,
    failure: type[httpx.RequestError],
    uncertain: bool,
) -> None:
    token_route.side_effect = failure

    with pytest.raises(ConnectUnavailable) as caught:
        await _refresh(connect)

    assert caught.value.uncertain is uncertain
    assert caught.value.status is None
    assert isinstance(caught.value.__cause__, failure)
    assert failure.__name__ in str(caught.value)


# --- logging and leaks -----------------------------------------------------------------


async def test_every_token_call_logs_grant_type_status_and_time(
    connect: VismaConnect, token_route: respx.Route, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="gateway.dinero.oauth")
    token_route.respond(200, json=_token_answer())
    await _exchange(connect)
    token_route.side_effect = httpx.ReadTimeout

    with pytest.raises(ConnectUnavailable):
        await _refresh(connect)

    lines = [r.getMessage() for r in caplog.records if r.name == "gateway.dinero.oauth"]
    assert len(lines) == 2
    assert re.fullmatch(
        r"token call grant_type=authorization_code status=200 elapsed_ms=\d+", lines[0]
    )
    assert re.fullmatch(
        r"token call grant_type=refresh_token status=ReadTimeout elapsed_ms=\d+", lines[1]
    )
    assert all(
        r.levelno == logging.DEBUG for r in caplog.records if r.name == "gateway.dinero.oauth"
    )


def _quoting(status: int, error: str | None = None) -> Callable[[httpx.Request], httpx.Response]:
    """A token endpoint that quotes every value it received back in its error answer."""

    def answer(request: httpx.Request) -> httpx.Response:
        quoted = " ".join(f"{name} {value}" for name, value in _form(request).items())
        if error is None:
            return httpx.Response(status, text=quoted)
        first_value = next(iter(_form(request).values()))
        return httpx.Response(
            status,
            json={"error": error.format(first_value), "error_description": f"got {quoted}"},
        )

    return answer


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(200, json=_token_answer()),
        _quoting(400, "invalid_grant"),
        _quoting(401, "invalid_client"),
        _quoting(400, "bad_{}"),
        _quoting(500),
        _quoting(400),
        httpx.Response(200, text=f"access_token={ACCESS}"),
        httpx.Response(200, json={"refresh_token": ROTATED}),
        httpx.ReadTimeout("timed out"),
        httpx.ConnectError("refused"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
    ],
    ids=[
        "success",
        "invalid_grant",
        "invalid_client",
        "quoted-error-code",
        "500-quoting",
        "400-quoting",
        "200-form-encoded",
        "200-no-access-token",
        "ReadTimeout",
        "ConnectError",
        "RemoteProtocolError",
    ],
)
async def test_no_secret_shows_in_any_exception_or_log_record(
    connect: VismaConnect,
    token_route: respx.Route,
    caplog: pytest.LogCaptureFixture,
    answer: httpx.Response | Exception | Callable[[httpx.Request], httpx.Response],
) -> None:
    caplog.set_level(logging.DEBUG)
    if isinstance(answer, httpx.Response):
        token_route.return_value = answer
    else:
        token_route.side_effect = answer

    shown: list[str] = [repr(connect)]
    for call in (_exchange, _refresh):
        try:
            shown.append(repr(await call(connect)))
        except ConnectError as exc:
            shown += [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
            shown += [repr(vars(exc))]
    shown += [record.getMessage() for record in caplog.records]
    shown += [repr(record.args) for record in caplog.records]

    assert token_route.call_count == 2
    text = "\n".join(shown)
    for value in SENSITIVE:
        assert value not in text

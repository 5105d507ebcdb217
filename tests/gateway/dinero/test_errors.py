import pickle
from datetime import UTC, datetime

import httpx
import pytest

from gateway.dinero.errors import (
    DEFAULT_RATE_LIMIT_RETRY,
    DineroError,
    Forbidden,
    NotFound,
    RateLimited,
    ServerError,
    TimestampOutdated,
    Unauthorized,
    Uncertain,
    ValidationFailed,
    error_for_response,
    error_for_transport,
    retry_after,
)
from gateway.secret import Secret

NOW = datetime(2026, 11, 24, 10, 0, 0, tzinfo=UTC)


def answer(status: int, content: bytes | str = b"", **headers: str) -> httpx.Response:
    body = content.encode() if isinstance(content, str) else content
    return httpx.Response(status, content=body, headers=headers)


def mapped(status: int, content: bytes | str = b"", method: str = "POST") -> DineroError:
    return error_for_response(answer(status, content), method=method, path="/v1/1/invoices")


@pytest.mark.parametrize(
    "body",
    [
        '{"code": 3, "message": "Invalid", "validationErrors": {"ProductLines": "Required"}}',
        '{"Code": 3, "Message": "Invalid", "ValidationErrors": {"ProductLines": "Required"}}',
        '{"CODE": "3", "MESSAGE": "Invalid", "validationerrors": {"ProductLines": ["Required"]}}',
    ],
)
def test_validation_body_in_any_casing(body: str) -> None:
    error = mapped(400, body)
    assert type(error) is ValidationFailed
    assert (error.status, error.code, error.message) == (400, 3, "Invalid")
    assert error.field_errors == {"ProductLines": "Required"}
    assert "ProductLines: Required" in str(error)
    assert not error.is_transient


def test_message_falls_back_to_the_english_language_specific_one() -> None:
    body = '{"code": 3, "languageSpecificMessages": [{"da-DK": "Ugyldig"}, {"en-GB": "Invalid"}]}'
    assert mapped(400, body).message == "Invalid"
    assert mapped(400, '{"languageSpecificMessages": {"da-DK": "Ugyldig"}}').message == "Ugyldig"


def test_code_58_is_timestamp_outdated() -> None:
    error = mapped(400, '{"code": 58, "message": "Timestamp outdated"}')
    assert isinstance(error, TimestampOutdated) and isinstance(error, ValidationFailed)
    assert error.code == 58


@pytest.mark.parametrize(
    ("body", "duplicate"),
    [
        (
            '{"code": 3, "message": "An invoice with Guid '
            '3a315ad3-ddcc-419d-9fc5-219280ae4816 already exists"}',
            True,
        ),
        ('{"message": "3A315AD3-DDCC-419D-9FC5-219280AE4816 ALREADY EXISTS"}', True),
        ('{"message": "Invalid", "validationErrors": {"Guid": "Already exists"}}', True),
        ('"Entity with guid 3a315ad3-ddcc-419d-9fc5-219280ae4816 already exists"', True),
        ('{"message": "Number 12 is already taken"}', False),
        ('{"message": "Guid is not valid"}', False),
        ("", False),
    ],
)
def test_duplicate_guid(body: str, duplicate: bool) -> None:
    error = mapped(400, body)
    assert isinstance(error, ValidationFailed)
    assert error.duplicate_guid is duplicate


@pytest.mark.parametrize(
    "body", [b"", b"   ", b"null", b"[1, 2]", b"\xff\xfe not utf-8", b"{bad json"]
)
def test_odd_bodies_never_crash(body: bytes) -> None:
    for status in (400, 401, 403, 404, 429, 500):
        error = mapped(status, body)
        assert error.status == status
        assert error.message  # never empty: falls back to the reason phrase


def test_non_json_bodies_become_a_short_single_line_excerpt() -> None:
    page = (
        "<html><head><title>404 - Not found</title><style>p{color:red}</style>"
        "<script>var token='x'</script></head><body><p>The resource &amp; page\n\n"
        + "you want is gone. " * 50
        + "</p></body></html>"
    )
    error = mapped(404, page, method="GET")
    assert isinstance(error, NotFound)
    assert error.message.startswith("404 - Not found The resource & page you want is gone.")
    assert "<" not in error.message and "\n" not in error.message and "color" not in error.message
    assert len(error.message) <= 300


def test_hidden_values_and_bearer_tokens_are_masked_in_messages() -> None:
    body = '{"message": "bad token s3cr3t-value, header was Bearer abc.def"}'
    error = error_for_response(
        answer(401, body), method="GET", path="/v1/organizations", hide=Secret("s3cr3t-value")
    )
    assert isinstance(error, Unauthorized)
    assert "s3cr3t-value" not in str(error) and "abc.def" not in str(error)
    assert "***" in error.message


def test_forbidden_knows_a_missing_pro_subscription() -> None:
    assert isinstance(mapped(403, '{"code": 90, "message": "No Pro"}'), Forbidden)
    assert mapped_forbidden('{"code": 90}').not_pro
    assert mapped_forbidden('{"Code": 48}').not_pro
    assert not mapped_forbidden('{"code": 3}').not_pro
    assert not mapped_forbidden("").not_pro


def mapped_forbidden(body: str) -> Forbidden:
    error = mapped(403, body)
    assert isinstance(error, Forbidden)
    return error


@pytest.mark.parametrize(
    ("status", "method", "kind"),
    [
        (500, "GET", ServerError),
        (502, "GET", ServerError),
        (503, "GET", ServerError),
        (480, "GET", ServerError),
        (500, "POST", Uncertain),
        (503, "PUT", Uncertain),
        (504, "DELETE", Uncertain),
        (480, "POST", Uncertain),
        (408, "POST", ServerError),
        (409, "POST", ValidationFailed),
        (422, "POST", ValidationFailed),
        (302, "POST", ServerError),
    ],
)
def test_status_and_method_decide_the_kind(
    status: int, method: str, kind: type[DineroError]
) -> None:
    assert type(mapped(status, "", method=method)) is kind


def test_a_call_declared_safe_is_never_uncertain() -> None:
    error = error_for_response(answer(500), method="POST", path="/v1/1/invoices/fetch", safe=True)
    assert type(error) is ServerError
    request = httpx.Request("POST", "https://api.dinero.dk/v1/1/invoices/fetch")
    timeout = httpx.ReadTimeout("timed out", request=request)
    assert type(error_for_transport(timeout, method="POST", path="/x", safe=True)) is ServerError


def test_transport_failures() -> None:
    request = httpx.Request("POST", "https://api.dinero.dk/v1/1/invoices")
    not_sent = [httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout]
    maybe_sent = [httpx.ReadTimeout, httpx.WriteTimeout, httpx.ReadError, httpx.RemoteProtocolError]
    for exc_type in not_sent:
        for method in ("GET", "POST"):
            error = error_for_transport(exc_type("x", request=request), method=method, path="/p")
            assert type(error) is ServerError and error.status is None
    for exc_type in maybe_sent:
        post = error_for_transport(exc_type("x", request=request), method="POST", path="/p")
        get = error_for_transport(exc_type("x", request=request), method="GET", path="/p")
        assert (type(post), type(get)) == (Uncertain, ServerError)
        assert exc_type.__name__ in post.message


def test_retry_after_in_seconds_or_as_an_http_date() -> None:
    assert retry_after(httpx.Headers({"Retry-After": "7"}), now=NOW) == 7.0
    assert retry_after(httpx.Headers({"Retry-After": " 2.5 "}), now=NOW) == 2.5
    http_date = "Tue, 24 Nov 2026 10:00:42 GMT"
    assert retry_after(httpx.Headers({"Retry-After": http_date}), now=NOW) == 42.0
    past = "Tue, 24 Nov 2026 09:59:00 GMT"
    assert retry_after(httpx.Headers({"Retry-After": past}), now=NOW) == 0.0
    assert retry_after(httpx.Headers({"Retry-After": "-5"}), now=NOW) == 0.0
    for junk in ("", "soon", "inf", "nan", "Tue, 99 Foo 2026"):
        assert (
            retry_after(httpx.Headers({"Retry-After": junk}), now=NOW) == DEFAULT_RATE_LIMIT_RETRY
        )
    assert retry_after(httpx.Headers(), now=NOW) == DEFAULT_RATE_LIMIT_RETRY


def test_rate_limited_carries_retry_after_and_is_transient() -> None:
    response = answer(429, "API calls quota exceeded!", **{"Retry-After": "3"})
    error = error_for_response(response, method="POST", path="/v1/1/invoices")
    assert isinstance(error, RateLimited)
    assert (error.retry_after, error.message, error.is_transient) == (
        3.0,
        "API calls quota exceeded!",
        True,
    )


def test_transience() -> None:
    assert ServerError("x", method="GET", path="/p").is_transient
    assert Uncertain("x", method="POST", path="/p").is_transient
    for kind in (Unauthorized, Forbidden, NotFound, ValidationFailed, TimestampOutdated):
        assert not kind("x", method="GET", path="/p").is_transient


def test_str_names_the_call_without_a_query_string() -> None:
    error = mapped(400, '{"code": 3, "message": "Invalid"}')
    assert str(error) == "POST /v1/1/invoices: HTTP 400 (code 3): Invalid"
    assert (
        str(ServerError("ConnectError", method="GET", path="/p"))
        == "GET /p: no answer: ConnectError"
    )


def test_errors_survive_pickling_for_the_job_queue() -> None:
    errors = [
        mapped(400, '{"code": 3, "message": "m", "validationErrors": {"F": "e"}}'),
        error_for_response(answer(429, "", **{"Retry-After": "3"}), method="GET", path="/p"),
        mapped(403, '{"code": 90}'),
        mapped(503),
    ]
    for error in errors:
        copy = pickle.loads(pickle.dumps(error))  # noqa: S301 (our own bytes)
        assert type(copy) is type(error)
        assert copy.__dict__ == error.__dict__
        assert str(copy) == str(error)

import io
import json
import logging
from collections.abc import Iterator

import pytest

from gateway.logs import _ContextFilter, configure_logging, redact, request_id
from gateway.secret import Secret
from gateway.settings import Settings


@pytest.mark.parametrize(
    ("text", "leak"),
    [
        ("Authorization: Bearer eyJhbGciOi.abc-def_ghi", "eyJhbGciOi"),
        ('{"access_token": "at-123", "expires_in": 3600}', "at-123"),
        ("refresh_token=rt-456&grant_type=refresh_token", "rt-456"),
        ("client_secret='cs-789'", "cs-789"),
        ("postgresql://gateway:db-pass@db/gateway", "db-pass"),
        ("PASSWORD=hunter2 CLIENT_SECRET: cs-0", "hunter2"),
        ("authorization: BEARER tok.en", "tok.en"),
    ],
)
def test_redact_masks_known_secret_shapes(text: str, leak: str) -> None:
    masked = redact(text)
    assert leak not in masked
    assert "***" in masked


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    stream = io.StringIO()
    configure_logging(Settings.from_env({"GATEWAY_ENV": "production", **_PROD}), process="test")
    root.handlers[0].setStream(stream)  # type: ignore[attr-defined]
    yield stream
    root.handlers[:], _ = saved
    root.setLevel(saved[1])


_PROD = {
    "DATABASE_URL": "postgresql://db.internal/gateway",
    "REDIS_URL": "redis://redis.internal/0",
    "GATEWAY_BASE_URL": "https://gateway.example.com",
    "GATEWAY_SECRET_KEY": "x" * 40,
    "GATEWAY_TOKEN_KEYS": "k1:" + "a" * 43 + "=",
    "DINERO_CLIENT_ID": "isv_real",
    "DINERO_CLIENT_SECRET": "real",
    "SHOPIFY_CLIENT_ID": "0a1b2c3d",
    "SHOPIFY_CLIENT_SECRET": "shpss_real",
    "GATEWAY_METRICS_TOKEN": "m" * 40,
    "GATEWAY_SMTP_URL": "off",
}


def test_production_logs_are_json_with_request_id_and_no_secrets(captured: io.StringIO) -> None:
    token = request_id.set("req-12345678")
    try:
        log = logging.getLogger("gateway.test")
        log.info("refreshing with %s", Secret("rt-secret-value"))
        log.warning("dinero said: %s", '{"access_token": "at-secret-value"}')
        try:
            raise RuntimeError("Bearer tok-secret-value rejected")
        except RuntimeError:
            log.exception("call failed")
    finally:
        request_id.reset(token)
    lines = [json.loads(line) for line in captured.getvalue().splitlines()]
    assert [line["level"] for line in lines] == ["info", "warning", "error"]
    assert {line["request_id"] for line in lines} == {"req-12345678"}
    text = captured.getvalue()
    for leak in ("rt-secret-value", "at-secret-value", "tok-secret-value"):
        assert leak not in text
    assert "RuntimeError" in lines[2]["exc"]


@pytest.mark.parametrize(
    ("text", "leak"),
    [
        ("GET /invite/AbC123-_xyz 200", "AbC123-_xyz"),
        ("GET /reset/tok-9 200", "tok-9"),
        ("secret is whsec_Zm9vYmFy_-x", "Zm9vYmFy_-x"),
        ("callback?code=oauth-code-1&state=s", "oauth-code-1"),
    ],
)
def test_redact_masks_links_and_codes(text: str, leak: str) -> None:
    assert leak not in redact(text)


def test_a_line_with_nothing_to_mask_is_kept_as_it_is() -> None:
    line = "POST /api/v1/shops/8c0b7a0e-1f2b-4c3d-9e8f-0123456789ab/events 202 3.1ms"
    assert redact(line) is line


def test_the_filter_lets_a_bad_format_string_through_to_the_handler() -> None:
    # Filters run in the caller, outside logging's error handling: ours must never raise.
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "%s %s", ("only one",), None)
    assert _ContextFilter().filter(record)

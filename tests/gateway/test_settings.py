import base64
import dataclasses

import pytest

from gateway.settings import DEV_TOKEN_KEY, Settings, SettingsError

KEY = base64.b64encode(b"k" * 32).decode()
PRODUCTION = {
    "GATEWAY_ENV": "production",
    "DATABASE_URL": "postgresql://gw:pw@db.internal/gateway",
    "REDIS_URL": "redis://redis.internal:6379/0",
    "GATEWAY_BASE_URL": "https://gateway.example.com",
    "GATEWAY_SECRET_KEY": "s" * 48,
    "GATEWAY_TOKEN_KEYS": f"k2:{KEY}",
    "DINERO_CLIENT_ID": "isv_realshop",
    "DINERO_CLIENT_SECRET": "real-secret",
    "SHOPIFY_CLIENT_ID": "0a1b2c3d4e5f",
    "SHOPIFY_CLIENT_SECRET": "shpss_real",
    "GATEWAY_METRICS_TOKEN": "m" * 40,
    "GATEWAY_SMTP_URL": "smtp://gateway%40example.com:smtp-pa%3Ass@mail.example.com:587",
    "GATEWAY_MAIL_FROM": "Dinero Gateway <alerts@example.com>",
}


def test_development_has_working_defaults() -> None:
    settings = Settings.from_env({})
    assert settings.env == "development"
    assert settings.token_keys[0].key == DEV_TOKEN_KEY
    assert settings.dinero_api_url == "https://api.dinero.dk"
    assert settings.dinero_auth_url == "https://connect.visma.com"


def test_production_accepts_complete_configuration() -> None:
    settings = Settings.from_env(PRODUCTION)
    assert settings.is_production
    assert [k.kid for k in settings.token_keys] == ["k2"]


def test_settings_are_frozen_and_hide_secrets() -> None:
    settings = Settings.from_env(PRODUCTION)
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.env = "test"  # type: ignore[misc]
    text = repr(settings)
    for secret in ("s" * 48, "real-secret", KEY, "pw@", "gw:pw", "m" * 40, "smtp-pa"):
        assert secret not in text
    assert "isv_realshop" in text


@pytest.mark.parametrize("missing", sorted(PRODUCTION.keys() - {"GATEWAY_ENV"}))
def test_production_names_each_missing_variable(missing: str) -> None:
    environ = {k: v for k, v in PRODUCTION.items() if k != missing}
    with pytest.raises(SettingsError) as error:
        Settings.from_env(environ)
    assert any(missing in problem for problem in error.value.problems)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("GATEWAY_SECRET_KEY", "development-secret-key-do-not-use-in-production"),
        ("GATEWAY_SECRET_KEY", "too-short"),
        ("GATEWAY_TOKEN_KEYS", "dev:" + base64.b64encode(DEV_TOKEN_KEY).decode()),
        ("DINERO_CLIENT_ID", "isv_gateway_dev"),
        ("DINERO_CLIENT_SECRET", "sandbox-secret"),
        ("DINERO_API_URL", "http://127.0.0.1:8081"),
        ("DINERO_AUTH_URL", "https://localhost:8081"),
        ("DINERO_API_URL", "https://sandbox.example.com"),
        ("DINERO_AUTH_URL", "http://connect.visma.com"),
        ("GATEWAY_BASE_URL", "http://gateway.example.com"),
        ("SHOPIFY_CLIENT_ID", "sandbox-shopify-app"),
        ("SHOPIFY_CLIENT_SECRET", "sandbox-shopify-secret"),
        ("SHOPIFY_API_VERSION", "latest"),
        ("SHOPIFY_SHOP_URL", "https://stores.example.com/"),
        ("SHOPIFY_SHOP_URL", "http://{shop}"),
        ("GATEWAY_METRICS_TOKEN", "too-short"),
        ("GATEWAY_SMTP_URL", "http://mail.example.com"),
        ("GATEWAY_SMTP_URL", "smtp://:pw@mail.example.com"),
        ("GATEWAY_SMTP_URL", "smtp://mail.example.com:99999"),
        ("GATEWAY_MAIL_FROM", "not an address"),
        ("GATEWAY_MAIL_FROM", "Dinero Gateway <gateway@localhost>"),
    ],
)
def test_production_refuses_development_values(variable: str, value: str) -> None:
    with pytest.raises(SettingsError) as error:
        Settings.from_env({**PRODUCTION, variable: value})
    assert any(variable in problem for problem in error.value.problems)


def test_all_problems_are_reported_at_once() -> None:
    with pytest.raises(SettingsError) as error:
        Settings.from_env({"GATEWAY_ENV": "production"})
    assert len(error.value.problems) >= 7
    assert "GATEWAY_TOKEN_KEYS" in str(error.value)


@pytest.mark.parametrize(
    "raw",
    [
        "nokid",
        "a:notbase64!",
        "a:" + base64.b64encode(b"short").decode(),
        f"a:{KEY},a:{KEY}",
        f"bad kid:{KEY}",
    ],
)
def test_malformed_token_keys_are_refused(raw: str) -> None:
    with pytest.raises(SettingsError, match="GATEWAY_TOKEN_KEYS"):
        Settings.from_env({"GATEWAY_TOKEN_KEYS": raw})


def test_first_token_key_is_current() -> None:
    other = base64.b64encode(b"o" * 32).decode()
    settings = Settings.from_env({"GATEWAY_TOKEN_KEYS": f"new:{other}, old:{KEY}"})
    assert [k.kid for k in settings.token_keys] == ["new", "old"]


def test_unknown_environment_is_refused() -> None:
    with pytest.raises(SettingsError, match="GATEWAY_ENV"):
        Settings.from_env({"GATEWAY_ENV": "staging"})


def test_shopify_store_urls_follow_the_template() -> None:
    default = Settings.from_env({})
    assert default.shopify_store_url("a.myshopify.com") == "https://a.myshopify.com"
    sandbox = Settings.from_env({"SHOPIFY_SHOP_URL": "http://127.0.0.1:8081/_shopify/{shop}/"})
    assert sandbox.shopify_store_url("a.myshopify.com") == (
        "http://127.0.0.1:8081/_shopify/a.myshopify.com"
    )


def test_shopify_store_pages_have_one_origin_for_the_csp() -> None:
    assert Settings.from_env({}).shopify_stores_origin == "https://*.myshopify.com"
    sandbox = Settings.from_env({"SHOPIFY_SHOP_URL": "http://127.0.0.1:8081/_shopify/{shop}"})
    assert sandbox.shopify_stores_origin == "http://127.0.0.1:8081"


def test_smtp_url_is_parsed_and_its_password_never_shown() -> None:
    settings = Settings.from_env(PRODUCTION)
    smtp = settings.smtp
    assert smtp is not None
    assert (smtp.host, smtp.port, smtp.implicit_tls) == ("mail.example.com", 587, False)
    assert smtp.username == "gateway@example.com"
    assert smtp.password is not None and smtp.password.reveal() == "smtp-pa:ss"
    assert "smtp-pa" not in repr(smtp) and "smtp-pa" not in smtp.display
    assert settings.mail_from == "Dinero Gateway <alerts@example.com>"

    implicit = Settings.from_env({**PRODUCTION, "GATEWAY_SMTP_URL": "smtps://u:p@mail.example.com"})
    assert implicit.smtp is not None
    assert (implicit.smtp.port, implicit.smtp.implicit_tls) == (465, True)


def test_a_bad_smtp_url_is_refused_without_repeating_it() -> None:
    with pytest.raises(SettingsError) as error:
        Settings.from_env({**PRODUCTION, "GATEWAY_SMTP_URL": "smtp://u:secret-pw@host/path"})
    assert "GATEWAY_SMTP_URL" in str(error.value)
    assert "secret-pw" not in str(error.value)


def test_production_may_say_mail_is_off_and_development_is_off_by_default() -> None:
    environ = {k: v for k, v in PRODUCTION.items() if k != "GATEWAY_MAIL_FROM"}
    assert Settings.from_env({**environ, "GATEWAY_SMTP_URL": "off"}).smtp is None
    assert Settings.from_env({}).smtp is None
    assert Settings.from_env({"GATEWAY_SMTP_URL": "smtp://127.0.0.1:2525"}).smtp is not None

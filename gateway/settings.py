"""Configuration, built once from the environment at start-up and passed in explicitly.

Only `Settings.from_env` looks at environment variables, and it is handed the mapping to
read, so tests and `gateway dev` build settings without touching `os.environ`.

Development and test get working defaults (a fixed secret key, a fixed token key, the
sandbox's client). Production refuses every one of those defaults, and any URL that points
at a sandbox, with a message naming the variable to fix.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Literal, cast
from urllib.parse import urlsplit

from gateway.mail import (
    DEV_MAIL_FROM,
    MAIL_OFF,
    SmtpConfig,
    SmtpUrlError,
    parse_mail_from,
    parse_smtp_url,
)
from gateway.secret import Secret

Env = Literal["development", "test", "production"]
ENVS: Final[tuple[Env, ...]] = ("development", "test", "production")

DEV_SECRET_KEY: Final = "development-secret-key-do-not-use-in-production"
DEV_TOKEN_KEY_ID: Final = "dev"
DEV_TOKEN_KEY: Final = hashlib.sha256(b"dinero-gateway development token key").digest()
SANDBOX_CLIENT_ID: Final = "isv_gateway_dev"
SANDBOX_CLIENT_SECRET: Final = "sandbox-secret"
DEFAULT_AUTH_URL: Final = "https://connect.visma.com"
DEFAULT_API_URL: Final = "https://api.dinero.dk"
SANDBOX_SHOPIFY_CLIENT_ID: Final = "sandbox-shopify-app"
SANDBOX_SHOPIFY_CLIENT_SECRET: Final = "sandbox-shopify-secret"
_SANDBOX_SHOPIFY_SECRET: Final = Secret(SANDBOX_SHOPIFY_CLIENT_SECRET)  # immutable, shareable
# A stable Admin API version (Shopify supports each for a year); the webhooks we subscribe
# to carry this version's payloads.
DEFAULT_SHOPIFY_API_VERSION: Final = "2025-10"
DEFAULT_SHOPIFY_SHOP_URL: Final = "https://{shop}"
_SHOPIFY_API_VERSION = re.compile(r"^\d{4}-(01|04|07|10)$")

_KID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_LOG_LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR")


class SettingsError(ValueError):
    """Raised with every problem found, one per line, each naming its variable."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid configuration:\n" + "\n".join(f"  - {p}" for p in problems))


@dataclass(frozen=True)
class TokenKey:
    """One AES-256 key of the token keyring; `kid` travels in every ciphertext it makes."""

    kid: str
    key: bytes = field(repr=False)


@dataclass(frozen=True)
class Settings:
    env: Env
    database_url: str = field(repr=False)
    redis_url: str = field(repr=False)
    base_url: str
    secret_key: Secret
    token_keys: tuple[TokenKey, ...]
    dinero_client_id: str
    dinero_client_secret: Secret
    dinero_auth_url: str
    dinero_api_url: str
    log_level: str = "INFO"
    shopify_client_id: str = SANDBOX_SHOPIFY_CLIENT_ID
    shopify_client_secret: Secret = _SANDBOX_SHOPIFY_SECRET
    shopify_api_version: str = DEFAULT_SHOPIFY_API_VERSION
    # A store's base URL, `{shop}` standing for its myshopify.com domain.
    shopify_shop_url: str = DEFAULT_SHOPIFY_SHOP_URL
    # The bearer token `/metrics` asks for; None (never in production): no `/metrics` at all.
    metrics_token: Secret | None = None
    # Where mail goes out (`GATEWAY_SMTP_URL`); None: mail is off and alerts wait in the outbox.
    smtp: SmtpConfig | None = None
    mail_from: str = DEV_MAIL_FROM

    def shopify_store_url(self, shop: str) -> str:
        return self.shopify_shop_url.replace("{shop}", shop).rstrip("/")

    @property
    def shopify_stores_origin(self) -> str:
        """Where every store's pages are, as a CSP source: `https://*.myshopify.com` when
        the store is the host, else the template's origin (the sandbox)."""
        scheme, _, rest = self.shopify_shop_url.partition("://")
        host = rest.split("/", 1)[0]
        if "{shop}" in host:
            return f"{scheme}://*.myshopify.com"
        return f"{scheme}://{host}"

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        problems: list[str] = []

        def get(name: str) -> str | None:
            value = environ.get(name, "").strip()
            return value or None

        env_raw = get("GATEWAY_ENV") or "development"
        if env_raw not in ENVS:
            problems.append(f"GATEWAY_ENV must be one of {', '.join(ENVS)}, not {env_raw!r}")
            env_raw = "production"  # judge the rest as strictly as possible
        env = cast(Env, env_raw)
        prod = env == "production"

        def required_in_production(name: str, dev_default: str) -> str:
            value = get(name)
            if value is None and prod:
                problems.append(f"{name} is required in production")
            return value or dev_default

        database_url = required_in_production(
            "DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/gateway_dev"
        )
        if urlsplit(database_url).scheme not in ("postgres", "postgresql"):
            problems.append("DATABASE_URL must be a postgresql:// URL")

        redis_url = required_in_production("REDIS_URL", "redis://127.0.0.1:6379/0")
        if urlsplit(redis_url).scheme not in ("redis", "rediss", "unix"):
            problems.append("REDIS_URL must be a redis://, rediss:// or unix:// URL")

        base_url = required_in_production("GATEWAY_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
        problems += _check_url("GATEWAY_BASE_URL", base_url, prod=prod)

        secret_key = required_in_production("GATEWAY_SECRET_KEY", DEV_SECRET_KEY)
        if prod and secret_key == DEV_SECRET_KEY:
            problems.append("GATEWAY_SECRET_KEY is the development secret; set a random one")
        elif prod and len(secret_key) < 32:
            problems.append("GATEWAY_SECRET_KEY must be at least 32 characters")

        token_keys_raw = get("GATEWAY_TOKEN_KEYS")
        if token_keys_raw is None:
            if prod:
                problems.append("GATEWAY_TOKEN_KEYS is required in production")
            token_keys: tuple[TokenKey, ...] = (TokenKey(DEV_TOKEN_KEY_ID, DEV_TOKEN_KEY),)
        else:
            token_keys, key_problems = _parse_token_keys(token_keys_raw)
            problems += key_problems
            if prod and any(k.key == DEV_TOKEN_KEY for k in token_keys):
                problems.append("GATEWAY_TOKEN_KEYS contains the development key")

        client_id = required_in_production("DINERO_CLIENT_ID", SANDBOX_CLIENT_ID)
        if prod and client_id == SANDBOX_CLIENT_ID:
            problems.append("DINERO_CLIENT_ID is the sandbox client; use your Visma client id")
        client_secret = required_in_production("DINERO_CLIENT_SECRET", SANDBOX_CLIENT_SECRET)
        if prod and client_secret == SANDBOX_CLIENT_SECRET:
            problems.append("DINERO_CLIENT_SECRET is the sandbox secret")

        auth_url = (get("DINERO_AUTH_URL") or DEFAULT_AUTH_URL).rstrip("/")
        api_url = (get("DINERO_API_URL") or DEFAULT_API_URL).rstrip("/")
        problems += _check_url("DINERO_AUTH_URL", auth_url, prod=prod)
        problems += _check_url("DINERO_API_URL", api_url, prod=prod)

        shopify_id = required_in_production("SHOPIFY_CLIENT_ID", SANDBOX_SHOPIFY_CLIENT_ID)
        if prod and get("SHOPIFY_CLIENT_ID") == SANDBOX_SHOPIFY_CLIENT_ID:
            problems.append("SHOPIFY_CLIENT_ID is the sandbox app; use your Shopify app's id")
        shopify_secret = required_in_production(
            "SHOPIFY_CLIENT_SECRET", SANDBOX_SHOPIFY_CLIENT_SECRET
        )
        if prod and get("SHOPIFY_CLIENT_SECRET") == SANDBOX_SHOPIFY_CLIENT_SECRET:
            problems.append("SHOPIFY_CLIENT_SECRET is the sandbox app's secret")
        shopify_version = get("SHOPIFY_API_VERSION") or DEFAULT_SHOPIFY_API_VERSION
        if not _SHOPIFY_API_VERSION.match(shopify_version):
            problems.append("SHOPIFY_API_VERSION must look like 2025-10 (a quarterly release)")
        shopify_shop_url = get("SHOPIFY_SHOP_URL") or DEFAULT_SHOPIFY_SHOP_URL
        if "{shop}" not in shopify_shop_url:
            problems.append("SHOPIFY_SHOP_URL must contain {shop}")
        else:
            problems += _check_url(
                "SHOPIFY_SHOP_URL",
                shopify_shop_url.replace("{shop}", "example.myshopify.com"),
                prod=prod,
            )

        metrics_token = get("GATEWAY_METRICS_TOKEN")
        if prod and metrics_token is None:
            problems.append("GATEWAY_METRICS_TOKEN is required in production")
        elif prod and metrics_token is not None and len(metrics_token) < 32:
            problems.append("GATEWAY_METRICS_TOKEN must be at least 32 characters")

        smtp, mail_from, mail_problems = _mail(
            get("GATEWAY_SMTP_URL"), get("GATEWAY_MAIL_FROM"), prod
        )
        problems += mail_problems

        log_level = (get("GATEWAY_LOG_LEVEL") or "INFO").upper()
        if log_level not in _LOG_LEVELS:
            problems.append(f"GATEWAY_LOG_LEVEL must be one of {', '.join(_LOG_LEVELS)}")

        if problems:
            raise SettingsError(problems)
        return cls(
            env=env,
            database_url=database_url,
            redis_url=redis_url,
            base_url=base_url,
            secret_key=Secret(secret_key),
            token_keys=token_keys,
            dinero_client_id=client_id,
            dinero_client_secret=Secret(client_secret),
            dinero_auth_url=auth_url,
            dinero_api_url=api_url,
            log_level=log_level,
            shopify_client_id=shopify_id,
            shopify_client_secret=Secret(shopify_secret),
            shopify_api_version=shopify_version,
            shopify_shop_url=shopify_shop_url,
            metrics_token=Secret(metrics_token) if metrics_token else None,
            smtp=smtp,
            mail_from=mail_from,
        )


def _mail(
    smtp_url: str | None, mail_from: str | None, prod: bool
) -> tuple[SmtpConfig | None, str, list[str]]:
    """Production names its mail server or says, with `GATEWAY_SMTP_URL=off`, that it sends
    no mail; elsewhere an unset URL means off (`gateway dev` sets its own sink)."""
    problems: list[str] = []
    smtp = None
    if smtp_url is None:
        if prod:
            problems.append(
                "GATEWAY_SMTP_URL is required in production "
                f"(smtp://user:password@host:587, smtps://…, or {MAIL_OFF!r} to send no mail)"
            )
    elif smtp_url != MAIL_OFF:
        try:
            smtp = parse_smtp_url(smtp_url)
        except SmtpUrlError as exc:
            problems.append(f"GATEWAY_SMTP_URL {exc}")
    sender = DEV_MAIL_FROM
    if mail_from is None:
        if prod and smtp is not None:
            problems.append("GATEWAY_MAIL_FROM is required when GATEWAY_SMTP_URL is set")
    else:
        try:
            sender = parse_mail_from(mail_from)
        except ValueError as exc:
            problems.append(f"GATEWAY_MAIL_FROM {exc}")
    if prod and sender == DEV_MAIL_FROM and smtp is not None:
        problems.append("GATEWAY_MAIL_FROM is the development sender; use your own address")
    return smtp, sender, problems


def _parse_token_keys(raw: str) -> tuple[tuple[TokenKey, ...], list[str]]:
    keys: list[TokenKey] = []
    problems: list[str] = []
    for position, item in enumerate(raw.split(","), start=1):
        kid, sep, encoded = item.strip().partition(":")
        if not sep or not _KID.match(kid):
            problems.append(
                f"GATEWAY_TOKEN_KEYS entry {position} must look like "
                "'kid:base64-of-32-bytes' with a kid of letters, digits, '-' or '_'"
            )
            continue
        try:
            key = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            key = b""
        if len(key) != 32:
            problems.append(f"GATEWAY_TOKEN_KEYS key {kid!r} must be 32 bytes, base64-encoded")
            continue
        if any(k.kid == kid for k in keys):
            problems.append(f"GATEWAY_TOKEN_KEYS names key {kid!r} twice")
            continue
        keys.append(TokenKey(kid, key))
    if not keys and not problems:
        problems.append("GATEWAY_TOKEN_KEYS holds no key")
    return tuple(keys), problems


def _check_url(name: str, url: str, *, prod: bool) -> list[str]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return [f"{name} must be an http(s) URL with a host, not {url!r}"]
    if not prod:
        return []
    problems = []
    if parts.scheme != "https":
        problems.append(f"{name} must use https in production")
    if _is_local_host(parts.hostname):
        problems.append(f"{name} points at a local or sandbox address ({parts.hostname})")
    return problems


def _is_local_host(host: str) -> bool:
    if host == "localhost" or host.endswith((".localhost", ".local")) or "sandbox" in host:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_private or address.is_unspecified

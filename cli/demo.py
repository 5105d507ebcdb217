"""Demo data for `gateway dev`: one platform admin, one owner, two shops. Idempotent.

The demo shops are activated, so an order placed in the demo store reaches Dinero as soon
as the shop is connected; a shop made with `gateway shops create` or by the admin starts
in its set-up guide (only its test order posts until the owner activates it)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final
from uuid import UUID

import httpx

from gateway import passwords
from gateway.db import Connection, Pool
from gateway.dinero.client import DineroClient
from gateway.dinero.oauth import VismaConnect, new_pkce
from gateway.secret import Secret
from gateway.vault import Vault
from tenants.accounts import users
from tenants.dinero.connections import linking
from tenants.shops import repository as shops
from tenants.shops import settings
from tenants.shops.settings import DocumentKind

ADMIN_EMAIL: Final = "admin@example.com"
ADMIN_PASSWORD: Final = "admin-demo-password"
OWNER_EMAIL: Final = "owner@example.com"
OWNER_PASSWORD: Final = "owner-demo-password"
SHOP_NAMES: Final = ("Sokkeriet", "Strikkeriet")
# Each demo shop shows one way of settling with Dinero (the sandbox's standard chart's
# accounts): Sokkeriet's orders become invoices with the customer's payment registered on
# them; Strikkeriet sends its own invoices, so its orders are booked as vouchers carrying
# that invoice's PDF, against the bank (paid) or the debtors account (unpaid).
_DEPOSIT_ACCOUNTS: Final = {"default": 55000, "card": 55010, "mobilepay": 55020}
DEMO_SETTINGS: Final[dict[str, tuple[DocumentKind, bool]]] = {  # kind, register payments
    "Sokkeriet": ("invoice", True),
    "Strikkeriet": ("voucher", False),
}
RECEIVABLE_ACCOUNT: Final = 5800
# The sandbox's Shopify store the demo owner connects Sokkeriet to (one click, on its page).
SHOPIFY_STORE: Final = "demo-shop.myshopify.com"
# The sandbox's WooCommerce store the demo owner connects Strikkeriet to.
WOOCOMMERCE_STORE: Final = "strikkeriet"


@dataclass(frozen=True)
class DemoShop:
    id: UUID
    name: str
    ingest_secret: Secret


async def seed(pool: Pool, vault: Vault) -> list[DemoShop]:
    async with pool.acquire() as conn, conn.transaction():
        # One seeder at a time, so two `gateway dev` runs never both create the owner.
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('gateway demo seed'))")
        if await users.get_by_email(conn, ADMIN_EMAIL) is None:
            await users.create_user(
                conn,
                email=ADMIN_EMAIL,
                name="Demo Admin",
                is_platform_admin=True,
                password_hash=await asyncio.to_thread(passwords.hash_password, ADMIN_PASSWORD),
            )
        owner = await users.get_by_email(conn, OWNER_EMAIL)
        if owner is None:
            owner = await users.create_user(
                conn,
                email=OWNER_EMAIL,
                name="Demo Owner",
                password_hash=await asyncio.to_thread(passwords.hash_password, OWNER_PASSWORD),
            )
        demo: list[DemoShop] = []
        for name in SHOP_NAMES:
            shop_id = await shops.id_by_slug(conn, shops.slugify(name))
            if shop_id is None:
                shop, secret = await shops.create_shop(
                    conn, vault, name=name, owner_id=owner.id, activated_at=datetime.now(UTC)
                )
                await _settle(conn, shop.id, DEMO_SETTINGS[name])
                demo.append(DemoShop(shop.id, name, secret))
            else:
                stored = await shops.ingest_secret(conn, vault, shop_id)
                assert stored is not None
                demo.append(DemoShop(shop_id, name, stored))
        return demo


async def _settle(conn: Connection, shop_id: UUID, choice: tuple[DocumentKind, bool]) -> None:
    """The demo shop's document type, payments and accounts, saved as the owner's settings
    page saves them."""
    current = await settings.shop_settings(conn, shop_id)
    assert current is not None
    document_kind, register_payments = choice
    change = settings.SettingsChange(
        trigger=current.trigger,
        mode=current.mode,
        invoice_text=current.invoice_text,
        language=current.language,
        account_overrides=current.account_overrides,
        register_payments=register_payments,
        payment_accounts=_DEPOSIT_ACCOUNTS,
        document_kind=document_kind,
        receivable_account=RECEIVABLE_ACCOUNT,
        time_zone=current.time_zone,
    )
    await settings.save_settings(conn, shop_id, change, now=datetime.now(UTC))


async def connect_to_sandbox(
    pool: Pool,
    vault: Vault,
    visma: VismaConnect,
    dinero: Callable[[Secret], DineroClient],
    *,
    http: httpx.AsyncClient,
    sandbox_url: str,
    redirect_uri: str,
    now: datetime,
) -> str:
    """Connects both demo shops to the sandbox's first Pro organisation, as if the owner had
    pressed Connect and Approve. A fresh sandbox knows no earlier tokens, so `gateway dev`
    does this at every start. Returns the organisation's name."""
    pkce = new_pkce()
    url = visma.authorization_url(
        redirect_uri=redirect_uri, state=secrets.token_urlsafe(16), code_challenge=pkce.challenge
    )
    answer = await http.post(f"{sandbox_url}/_sandbox/consent", json={"authorize_url": url})
    answer.raise_for_status()
    tokens = await visma.exchange_code(
        code=answer.json()["code"], redirect_uri=redirect_uri, code_verifier=pkce.verifier, now=now
    )
    organization = next(o for o in await dinero(tokens.access_token).organizations() if o.is_pro)
    grant = linking.Grant(
        organization_id=organization.id,
        organization_name=organization.name or str(organization.id),
        is_pro=True,
        tokens=tokens,
    )
    async with pool.acquire() as conn, conn.transaction():
        for name in SHOP_NAMES:
            shop_id = await shops.id_by_slug(conn, shops.slugify(name))
            assert shop_id is not None  # made by seed
            await linking.connect_shop(
                conn, vault, shop_id=shop_id, grant=grant, user_id=None, now=now
            )
    return grant.organization_name


async def open_shopify_store(http: httpx.AsyncClient, sandbox_url: str) -> str:
    """Opens the demo store in the sandbox's Shopify; returns the store's admin page, where
    orders are placed and refunded."""
    answer = await http.post(f"{sandbox_url}/_sandbox/shopify/stores", json={"shop": SHOPIFY_STORE})
    answer.raise_for_status()
    return f"{answer.json()['shop_url']}/admin"


async def open_woocommerce_store(http: httpx.AsyncClient, sandbox_url: str) -> tuple[str, str]:
    """Opens the demo store in the sandbox's WooCommerce; returns its URL (what the owner
    types on the shop page) and its admin page, where orders are placed and refunded."""
    answer = await http.post(
        f"{sandbox_url}/_sandbox/woocommerce/stores", json={"name": WOOCOMMERCE_STORE}
    )
    answer.raise_for_status()
    store_url: str = answer.json()["store_url"]
    return store_url, f"{store_url}/wp-admin"

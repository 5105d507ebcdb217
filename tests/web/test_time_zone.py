"""A shop's time zone: chosen in its settings from the time zone database (anything else is
refused and nothing stored), and the zone its pages show times in, saying which; stored
times stay UTC."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import httpx

from gateway.db import Pool
from gateway.vault import Vault
from tests.web.test_settings_pages import form
from tests.web.test_shops import owner_of_shop
from web import i18n

SUMMER = datetime(2026, 7, 1, 22, 30, tzinfo=UTC)


def test_a_translator_shows_times_in_its_zone_and_names_it() -> None:
    new_york = ZoneInfo("America/New_York")
    assert i18n.Translator("en", new_york).datetime(SUMMER) == "1 Jul 2026, 18:30 EDT"
    assert i18n.Translator("da", new_york).datetime(SUMMER) == "1. jul. 2026 kl. 18.30 EDT"
    assert i18n.Translator("en", ZoneInfo("Asia/Tokyo")).date(SUMMER) == "2 Jul 2026"
    assert i18n.Translator("en").datetime(SUMMER) == "2 Jul 2026, 00:30 CEST"  # the default


async def test_the_owner_chooses_the_zone_and_the_shop_page_shows_times_in_it(
    client: httpx.AsyncClient, pool: Pool, vault: Vault
) -> None:
    shop, csrf = await owner_of_shop(client, pool, vault)
    await pool.execute("UPDATE shops SET activated_at = $2 WHERE id = $1", shop.id, SUMMER)
    settings = (await client.get(f"/shops/{shop.id}/settings")).text
    assert "<option selected>Europe/Copenhagen</option>" in settings
    assert "<option>America/New_York</option>" in settings
    assert "Live since 2 Jul 2026, 00:30 CEST" in (await client.get(f"/shops/{shop.id}")).text

    saved = await client.post(
        f"/shops/{shop.id}/settings", data=form(csrf, time_zone="America/New_York")
    )

    assert saved.status_code == 303
    stored = await pool.fetchrow("SELECT time_zone, activated_at FROM shops WHERE id = $1", shop.id)
    assert stored is not None
    assert (stored["time_zone"], stored["activated_at"]) == ("America/New_York", SUMMER)
    assert "Live since 1 Jul 2026, 18:30 EDT" in (await client.get(f"/shops/{shop.id}")).text
    again = (await client.get(f"/shops/{shop.id}/settings")).text
    assert "<option selected>America/New_York</option>" in again


async def test_a_zone_the_database_does_not_know_is_refused_and_nothing_is_stored(
    client: httpx.AsyncClient, pool: Pool, vault: Vault
) -> None:
    shop, csrf = await owner_of_shop(client, pool, vault)
    for name in ("Mars/Olympus_Mons", "", "Europe/../../etc/passwd", "CET; DROP TABLE shops"):
        refused = await client.post(
            f"/shops/{shop.id}/settings", data=form(csrf, time_zone=name, mode="draft")
        )
        assert refused.status_code == 422, name
        problems = dict(re.findall(r'<li data-field="([^"]+)">([^<]+)</li>', refused.text))
        assert problems == {"time_zone": "Choose a time zone from the list."}
    stored = await pool.fetchrow("SELECT time_zone, mode FROM shops WHERE id = $1", shop.id)
    assert stored is not None and (stored["time_zone"], stored["mode"]) == (
        "Europe/Copenhagen",
        "booked",
    )
    danish = await client.post(
        f"/shops/{shop.id}/settings",
        data=form(csrf, time_zone="Mars/Olympus_Mons"),
        headers={"Accept-Language": "da"},
    )
    assert "Vælg en tidszone på listen." in danish.text

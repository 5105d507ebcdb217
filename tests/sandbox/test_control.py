"""`/_sandbox/`: faults, revocation, expiry, organisations, settings, clock, stats, reset."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette

from gateway.dinero.oauth import VismaConnect, new_pkce
from gateway.secret import Secret
from gateway.settings import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET
from sandbox.app import DroppedResponse, DroppedResponseLogFilter
from sandbox.state import Sandbox
from tests.sandbox.conftest import OTHER_PRO_ORG, PRO_ORG, REDIRECT_URI, GetTokens

NO_FAULTS = {
    "error_rate": 0.0,
    "latency_ms": 0.0,
    "rate_limit_429_rate": 0.0,
    "drop_after_commit_rate": 0.0,
    "outage": False,
}
PROBE = f"/v1/{PRO_ORG}/_probe"


async def set_faults(client: httpx.AsyncClient, **faults: Any) -> dict[str, Any]:
    response = await client.post("/_sandbox/faults", json=faults)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def refresh(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post(
        "/connect/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": token,
            "client_id": SANDBOX_CLIENT_ID,
            "client_secret": SANDBOX_CLIENT_SECRET,
        },
    )


async def test_faults_are_replaced_as_a_whole_and_cleared_by_an_empty_body(
    sandbox_client: httpx.AsyncClient,
) -> None:
    assert (await sandbox_client.get("/_sandbox/faults")).json() == NO_FAULTS
    set_ = await set_faults(sandbox_client, error_rate=0.5, outage=True)
    assert set_ == {**NO_FAULTS, "error_rate": 0.5, "outage": True}
    assert await set_faults(sandbox_client, latency_ms=5) == {**NO_FAULTS, "latency_ms": 5.0}
    assert await set_faults(sandbox_client) == NO_FAULTS


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"error_rate": 1.5}, "error_rate"),
        ({"rate_limit_429_rate": -0.1}, "rate_limit_429_rate"),
        ({"drop_after_commit_rate": "0.5"}, "drop_after_commit_rate"),
        ({"latency_ms": True}, "latency_ms"),
        ({"outage": 1}, "outage"),
        ({"eror_rate": 0.1}, "eror_rate"),
        ([], "body"),
    ],
)
async def test_invalid_faults_are_400_naming_the_field(
    sandbox_client: httpx.AsyncClient, body: Any, field: str
) -> None:
    await set_faults(sandbox_client, error_rate=0.25)
    response = await sandbox_client.post("/_sandbox/faults", json=body)
    assert response.status_code == 400
    assert list(response.json()["errors"]) == [field]
    assert (await sandbox_client.get("/_sandbox/faults")).json()["error_rate"] == 0.25


async def test_outage_is_503_for_the_api_only(
    sandbox_client: httpx.AsyncClient, auth_headers: dict[str, str], probe: list[int]
) -> None:
    await set_faults(sandbox_client, outage=True)
    for path in (PROBE, "/v1/organizations"):
        assert (await sandbox_client.get(path, headers=auth_headers)).status_code == 503
    assert (await sandbox_client.post(PROBE, headers=auth_headers)).status_code == 503
    assert probe == []
    discovery = await sandbox_client.get("/.well-known/openid-configuration")
    assert discovery.status_code == 200
    assert (await sandbox_client.get("/_sandbox/stats")).json()["faults"] == {"outage": 3}


async def test_error_rate_one_is_500_before_anything_is_committed(
    sandbox_client: httpx.AsyncClient, auth_headers: dict[str, str], probe: list[int]
) -> None:
    await set_faults(sandbox_client, error_rate=1.0)
    response = await sandbox_client.post(PROBE, headers=auth_headers)
    assert response.status_code == 500
    assert set(response.json()) >= {"code", "message"}
    assert probe == []


async def test_error_rate_is_a_probability(
    sandbox_client: httpx.AsyncClient, auth_headers: dict[str, str], probe: list[int]
) -> None:
    await set_faults(sandbox_client, error_rate=0.5)
    statuses = [
        (await sandbox_client.get(PROBE, headers=auth_headers)).status_code for _ in range(60)
    ]
    assert 10 < statuses.count(500) < 50
    assert statuses.count(500) + statuses.count(200) == 60


async def test_rate_limit_fault_answers_the_real_429(
    sandbox: Sandbox,
    sandbox_client: httpx.AsyncClient,
    auth_headers: dict[str, str],
    probe: list[int],
) -> None:
    await set_faults(sandbox_client, rate_limit_429_rate=1.0)
    response = await sandbox_client.post(PROBE, headers=auth_headers)
    assert (response.status_code, response.text) == (429, "API calls quota exceeded!")
    assert probe == []
    assert sandbox.stats.rate_limited[PRO_ORG] == 1


async def test_latency_delays_api_calls(
    sandbox_client: httpx.AsyncClient, auth_headers: dict[str, str], probe: list[int]
) -> None:
    await set_faults(sandbox_client, latency_ms=300)
    started = time.monotonic()
    assert (await sandbox_client.get(PROBE, headers=auth_headers)).status_code == 200
    assert time.monotonic() - started >= 0.29
    started = time.monotonic()
    assert (await sandbox_client.get("/_sandbox/faults")).status_code == 200
    assert time.monotonic() - started < 0.29  # control endpoints are never delayed


async def test_drop_after_commit_in_process_raises_after_the_change(
    sandbox_client: httpx.AsyncClient, auth_headers: dict[str, str], probe: list[int]
) -> None:
    await set_faults(sandbox_client, drop_after_commit_rate=1.0)
    with pytest.raises(DroppedResponse):
        await sandbox_client.post(PROBE, headers=auth_headers)
    assert probe == [PRO_ORG]
    # Reads and failed changes are never dropped.
    assert (await sandbox_client.get(PROBE, headers=auth_headers)).status_code == 200
    assert (await sandbox_client.post(PROBE)).status_code == 401


@pytest.fixture
async def served(sandbox_app: Starlette) -> AsyncIterator[str]:
    """The sandbox app on real uvicorn, on a free port; answers its base URL."""
    config = uvicorn.Config(sandbox_app, host="127.0.0.1", port=0, lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.01)
    assert server.started
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


async def test_drop_after_commit_over_a_real_server_cuts_the_connection(
    served: str,
    auth_headers: dict[str, str],
    probe: list[int],
    caplog: pytest.LogCaptureFixture,
) -> None:
    logging.getLogger("uvicorn.error").addFilter(log_filter := DroppedResponseLogFilter())
    try:
        async with httpx.AsyncClient(base_url=served) as client:
            assert (await set_faults(client, drop_after_commit_rate=1.0))[
                "drop_after_commit_rate"
            ] == 1.0
            with pytest.raises(httpx.RemoteProtocolError):
                await client.post(PROBE, headers=auth_headers)
            assert probe == [PRO_ORG]
            stats = (await client.get("/_sandbox/stats")).json()
            assert stats["faults"] == {"drop_after_commit": 1}
    finally:
        logging.getLogger("uvicorn.error").removeFilter(log_filter)
    dropped = [r for r in caplog.records if "dropped the response" in r.getMessage()]
    assert dropped and all(r.exc_info is None for r in dropped)


async def test_a_dropped_contact_create_is_stored_all_the_same(
    served: str, auth_headers: dict[str, str]
) -> None:
    contact = {
        "ContactGuid": str(uuid.uuid4()),
        "Name": "Karen Kunde",
        "CountryKey": "DK",
        "IsPerson": True,
        "IsMember": False,
        "UseCvr": False,
        "Email": "karen@example.dk",
    }
    async with httpx.AsyncClient(base_url=served, headers=auth_headers) as client:
        await set_faults(client, drop_after_commit_rate=1.0)
        with pytest.raises(httpx.RemoteProtocolError):
            await client.post(f"/v1/{PRO_ORG}/contacts", json=contact)
        found = await client.get(
            f"/v1/{PRO_ORG}/contacts",
            params={"queryFilter": "Email eq 'karen@example.dk'", "fields": "ContactGuid"},
        )
    assert found.status_code == 200, found.text
    assert [c["ContactGuid"] for c in found.json()["Collection"]] == [contact["ContactGuid"]]


async def test_revoke_kills_access_and_refresh_tokens(
    sandbox_client: httpx.AsyncClient, get_tokens: GetTokens
) -> None:
    tokens = await get_tokens()
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (await sandbox_client.get("/v1/organizations", headers=headers)).status_code == 200

    response = await sandbox_client.post(f"/_sandbox/organizations/{OTHER_PRO_ORG}/revoke")
    assert response.json() == {"revoked_grants": 1}
    assert (await sandbox_client.get("/v1/organizations", headers=headers)).status_code == 401
    refused = await refresh(sandbox_client, tokens["refresh_token"])
    assert (refused.status_code, refused.json()) == (400, {"error": "invalid_grant"})
    # A new consent works again.
    assert (await get_tokens())["access_token"]
    assert (await sandbox_client.post("/_sandbox/organizations/9999/revoke")).status_code == 404


async def test_expire_tokens_expires_access_but_refresh_still_works(
    sandbox_client: httpx.AsyncClient, get_tokens: GetTokens
) -> None:
    tokens = await get_tokens()
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    filtered = await sandbox_client.post("/_sandbox/tokens/expire", json={"organization_id": 9999})
    assert filtered.json() == {"expired": 0}
    assert (await sandbox_client.get("/v1/organizations", headers=headers)).status_code == 200

    expired = await sandbox_client.post("/_sandbox/tokens/expire")
    assert expired.json() == {"expired": 1}
    assert (await sandbox_client.get("/v1/organizations", headers=headers)).status_code == 401
    renewed = (await refresh(sandbox_client, tokens["refresh_token"])).json()
    headers = {"Authorization": f"Bearer {renewed['access_token']}"}
    assert (await sandbox_client.get("/v1/organizations", headers=headers)).status_code == 200


async def test_organisations_can_be_listed_and_added(sandbox_client: httpx.AsyncClient) -> None:
    listed = (await sandbox_client.get("/_sandbox/organizations")).json()
    assert listed == [
        {"id": 1001, "name": "Sokkeriet ApS", "is_pro": True},
        {"id": 1002, "name": "Strikkeriet I/S", "is_pro": True},
        {"id": 1003, "name": "Hobbyværkstedet", "is_pro": False},
    ]
    created = await sandbox_client.post(
        "/_sandbox/organizations", json={"name": "Garnhuset", "is_pro": False}
    )
    assert (created.status_code, created.json()) == (
        201,
        {"id": 1004, "name": "Garnhuset", "is_pro": False},
    )
    assert len((await sandbox_client.get("/_sandbox/organizations")).json()) == 4
    bad = await sandbox_client.post("/_sandbox/organizations", json={"name": " "})
    assert (bad.status_code, list(bad.json()["errors"])) == (400, ["name"])


async def test_settings_change_the_token_policy(
    sandbox: Sandbox, sandbox_client: httpx.AsyncClient, get_tokens: GetTokens
) -> None:
    response = await sandbox_client.post(
        "/_sandbox/settings",
        json={"refresh_mode": "reuse", "grace_seconds": 5, "access_token_ttl": 120},
    )
    assert response.json()["refresh_mode"] == "reuse"
    assert (sandbox.grants.policy.grace_seconds, sandbox.grants.policy.access_token_ttl) == (5, 120)
    tokens = await get_tokens()
    assert tokens["expires_in"] == 120
    again = (await refresh(sandbox_client, tokens["refresh_token"])).json()
    assert again["refresh_token"] == tokens["refresh_token"]

    for body, field in (
        ({"refresh_mode": "sometimes"}, "refresh_mode"),
        ({"grace_seconds": 1.5}, "grace_seconds"),
        ({"access_token_ttl": 0}, "access_token_ttl"),
    ):
        bad = await sandbox_client.post("/_sandbox/settings", json=body)
        assert (bad.status_code, list(bad.json()["errors"])) == (400, [field])


async def test_a_test_may_raise_or_lower_the_rate_limit_until_the_next_reset(
    sandbox_client: httpx.AsyncClient, auth_headers: dict[str, str], probe: list[int]
) -> None:
    assert (await sandbox_client.get("/_sandbox/settings")).json()["rate_limit_per_minute"] == 100
    changed = await sandbox_client.post("/_sandbox/settings", json={"rate_limit_per_minute": 3})
    assert changed.json()["rate_limit_per_minute"] == 3
    statuses = [
        (await sandbox_client.get(PROBE, headers=auth_headers)).status_code for _ in range(4)
    ]
    assert statuses == [200, 200, 200, 429]
    for bad in (0, 2.5, "many"):
        refused = await sandbox_client.post(
            "/_sandbox/settings", json={"rate_limit_per_minute": bad}
        )
        assert (refused.status_code, list(refused.json()["errors"])) == (
            400,
            ["rate_limit_per_minute"],
        )

    await sandbox_client.post("/_sandbox/reset")

    assert (await sandbox_client.get("/_sandbox/settings")).json()["rate_limit_per_minute"] == 100


async def test_clock_advances(sandbox_client: httpx.AsyncClient) -> None:
    before = (await sandbox_client.get("/_sandbox/clock")).json()["now"]
    after = await sandbox_client.post("/_sandbox/clock", json={"advance_seconds": 90})
    assert before == "2026-11-24T10:00:00+00:00"
    assert after.json() == {"now": "2026-11-24T10:01:30+00:00"}
    bad = await sandbox_client.post("/_sandbox/clock", json={"advance_seconds": -1})
    assert bad.status_code == 400


async def test_stats_count_token_requests_by_grant_type_and_outcome(
    sandbox_client: httpx.AsyncClient, get_tokens: GetTokens
) -> None:
    tokens = await get_tokens()
    await refresh(sandbox_client, tokens["refresh_token"])
    await refresh(sandbox_client, "nonsense")
    stats = (await sandbox_client.get("/_sandbox/stats")).json()
    assert stats["token_requests"] == {
        "authorization_code": {"ok": 1},
        "refresh_token": {"invalid_grant": 1, "ok": 1},
    }


async def test_reset_restores_the_seeded_state(
    sandbox: Sandbox,
    sandbox_client: httpx.AsyncClient,
    get_tokens: GetTokens,
    probe: list[int],
) -> None:
    tokens = await get_tokens()
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    await sandbox_client.post(PROBE, headers=headers)
    ledger = sandbox.ledger(PRO_ORG)
    await sandbox_client.post("/_sandbox/organizations", json={"name": "Extra", "is_pro": True})
    await sandbox_client.post("/_sandbox/settings", json={"refresh_mode": "reuse"})
    await sandbox_client.post("/_sandbox/clock", json={"advance_seconds": 100})
    await set_faults(sandbox_client, outage=True)

    assert (await sandbox_client.post("/_sandbox/reset")).status_code == 200

    assert (await sandbox_client.get("/_sandbox/faults")).json() == NO_FAULTS
    assert len((await sandbox_client.get("/_sandbox/organizations")).json()) == 3
    assert (await sandbox_client.get("/_sandbox/settings")).json()["refresh_mode"] == "one_time"
    assert (
        (await sandbox_client.get("/_sandbox/clock"))
        .json()["now"]
        .startswith("2026-11-24T10:00:00")
    )
    assert sandbox.ledger(PRO_ORG) is not ledger
    assert (await sandbox_client.get(PROBE, headers=headers)).status_code == 401
    stats = (await sandbox_client.get("/_sandbox/stats")).json()
    assert stats["api_calls"] == {} and stats["token_requests"] == {}


async def test_consent_without_a_browser_issues_a_code(
    sandbox_client: httpx.AsyncClient,
) -> None:
    pkce = new_pkce()
    visma = VismaConnect(
        sandbox_client,
        auth_url="http://sandbox.test",
        client_id=SANDBOX_CLIENT_ID,
        client_secret=Secret(SANDBOX_CLIENT_SECRET),
    )
    url = visma.authorization_url(
        redirect_uri=REDIRECT_URI, state="st-1", code_challenge=pkce.challenge
    )
    answer = await sandbox_client.post("/_sandbox/consent", json={"authorize_url": url})
    assert answer.status_code == 200
    assert answer.json()["state"] == "st-1"
    tokens = await visma.exchange_code(
        code=answer.json()["code"],
        redirect_uri=REDIRECT_URI,
        code_verifier=pkce.verifier,
        now=datetime.now(UTC),
    )
    assert tokens.refresh_token is not None

    # Checked as the consent page checks: a foreign redirect URI gets no code.
    evil = url.replace("127.0.0.1%3A8000", "evil.example")
    refused = await sandbox_client.post("/_sandbox/consent", json={"authorize_url": evil})
    assert refused.status_code == 400
    assert "redirect" in refused.json()["errors"]["authorize_url"]

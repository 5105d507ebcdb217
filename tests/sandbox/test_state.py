"""The API gate (`Sandbox.enter_api`): tokens, access, Pro, scopes, the rate limit."""

from __future__ import annotations

import secrets

import httpx
import pytest

from sandbox.grants import AuthorizeRequest, TokenPolicy, pkce_s256
from sandbox.state import QUOTA_EXCEEDED, RATE_LIMIT, Client, Sandbox
from tests.sandbox.conftest import (
    NOT_PRO_ORG,
    OTHER_PRO_ORG,
    PRO_ORG,
    REDIRECT_URI,
    SCOPE,
    GetTokens,
)


def probe_url(organization_id: int) -> str:
    return f"/v1/{organization_id}/_probe"


def bearer(tokens: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


async def test_a_valid_token_passes_the_gate(
    sandbox_client: httpx.AsyncClient, auth_headers: dict[str, str], probe: list[int]
) -> None:
    response = await sandbox_client.post(probe_url(PRO_ORG), headers=auth_headers)
    assert response.json() == {"organization": PRO_ORG, "changes": 1}
    assert probe == [PRO_ORG]


@pytest.mark.parametrize(
    ("headers", "challenge"),
    [
        ({}, "Bearer"),
        ({"Authorization": "Bearer made-up"}, 'Bearer error="invalid_token"'),
        ({"Authorization": "Basic abc"}, 'Bearer error="invalid_token"'),
    ],
    ids=["missing", "unknown", "wrong scheme"],
)
async def test_no_valid_token_is_401_with_an_empty_body(
    sandbox_client: httpx.AsyncClient, probe: list[int], headers: dict[str, str], challenge: str
) -> None:
    response = await sandbox_client.post(probe_url(PRO_ORG), headers=headers)
    assert response.status_code == 401
    assert response.content == b""
    assert response.headers["www-authenticate"] == challenge
    assert probe == []


async def test_non_pro_organisation_is_403_code_90(
    sandbox_client: httpx.AsyncClient, auth_headers: dict[str, str], probe: list[int]
) -> None:
    response = await sandbox_client.get(probe_url(NOT_PRO_ORG), headers=auth_headers)
    assert response.status_code == 403
    assert response.json()["code"] == 90


async def test_unreachable_organisation_is_403_code_41(
    sandbox_client: httpx.AsyncClient, auth_headers: dict[str, str], probe: list[int]
) -> None:
    response = await sandbox_client.get(probe_url(424242), headers=auth_headers)
    assert response.status_code == 403
    assert response.json()["code"] == 41


async def test_read_only_token_may_read_but_not_write(
    sandbox_client: httpx.AsyncClient, get_tokens: GetTokens, probe: list[int]
) -> None:
    headers = bearer(await get_tokens(scope="dineropublicapi:read offline_access"))
    assert (await sandbox_client.get(probe_url(PRO_ORG), headers=headers)).status_code == 200
    refused = await sandbox_client.post(probe_url(PRO_ORG), headers=headers)
    assert (refused.status_code, refused.json()["code"]) == (403, 41)
    assert probe == []


async def test_101st_call_in_a_minute_is_429_until_the_window_moves_on(
    sandbox: Sandbox,
    sandbox_client: httpx.AsyncClient,
    auth_headers: dict[str, str],
    probe: list[int],
) -> None:
    for _ in range(RATE_LIMIT // 2):
        assert (await sandbox_client.get(probe_url(PRO_ORG), headers=auth_headers)).is_success
    sandbox.advance_clock(30)
    for _ in range(RATE_LIMIT - RATE_LIMIT // 2):
        assert (await sandbox_client.get(probe_url(PRO_ORG), headers=auth_headers)).is_success

    limited = await sandbox_client.post(probe_url(PRO_ORG), headers=auth_headers)
    assert limited.status_code == 429
    assert limited.text == QUOTA_EXCEEDED == "API calls quota exceeded!"
    assert "retry-after" not in limited.headers
    assert probe == []
    # Another organisation has a window of its own.
    assert (await sandbox_client.get(probe_url(OTHER_PRO_ORG), headers=auth_headers)).is_success

    sandbox.advance_clock(30)  # the first 50 calls are now a minute old
    for _ in range(RATE_LIMIT // 2):
        assert (await sandbox_client.get(probe_url(PRO_ORG), headers=auth_headers)).is_success
    assert (await sandbox_client.get(probe_url(PRO_ORG), headers=auth_headers)).status_code == 429

    stats = sandbox.stats.to_json()
    assert stats["api_calls"] == {str(PRO_ORG): 150, str(OTHER_PRO_ORG): 1}
    assert stats["rate_limited"] == {str(PRO_ORG): 2}


async def test_the_limit_is_per_client(
    sandbox: Sandbox,
    sandbox_client: httpx.AsyncClient,
    auth_headers: dict[str, str],
    probe: list[int],
) -> None:
    sandbox.clients["isv_other"] = Client("isv_other", "other-secret", "Other app")
    verifier = secrets.token_urlsafe(48)
    code = sandbox.issue_code(
        AuthorizeRequest(
            "isv_other", REDIRECT_URI, tuple(SCOPE.split()), None, pkce_s256(verifier), "query"
        )
    )
    other = sandbox.grants.redeem_code(
        code, client_id="isv_other", redirect_uri=REDIRECT_URI, code_verifier=verifier
    )
    for _ in range(RATE_LIMIT):
        await sandbox_client.get(probe_url(PRO_ORG), headers=auth_headers)
    assert (await sandbox_client.get(probe_url(PRO_ORG), headers=auth_headers)).status_code == 429
    headers = {"Authorization": f"Bearer {other.access_token}"}
    assert (await sandbox_client.get(probe_url(PRO_ORG), headers=headers)).is_success


async def test_organisations_list_is_not_rate_limited(
    sandbox: Sandbox, sandbox_client: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    for _ in range(RATE_LIMIT + 5):
        response = await sandbox_client.get("/v1/organizations", headers=auth_headers)
        assert response.status_code == 200
    assert sandbox.stats.organization_list_calls == RATE_LIMIT + 5


def test_ledgers_are_created_once_per_organisation_and_dropped_on_reset() -> None:
    sandbox = Sandbox()
    ledger = sandbox.ledger(PRO_ORG)
    assert sandbox.ledger(PRO_ORG) is ledger
    assert sandbox.ledger(OTHER_PRO_ORG) is not ledger
    sandbox.reset()
    assert sandbox.ledger(PRO_ORG) is not ledger


def test_seeded_organisations_and_new_ones() -> None:
    sandbox = Sandbox()
    assert [(o.id, o.is_pro) for o in sandbox.organizations_of(sandbox.user)] == [
        (1001, True),
        (1002, True),
        (1003, False),
    ]
    added = sandbox.add_organization("Fjerde ApS", is_pro=True)
    assert added.id == 1004
    assert Sandbox(seed=False).organizations == {}


def test_clock_is_aware_utc_and_advances() -> None:
    sandbox = Sandbox()
    before = sandbox.now()
    offset = before.utcoffset()
    assert offset is not None and offset.total_seconds() == 0
    assert (sandbox.advance_clock(3600) - before).total_seconds() >= 3600


def test_no_token_or_secret_in_reprs() -> None:
    sandbox = Sandbox()
    verifier = secrets.token_urlsafe(48)
    client_id = next(iter(sandbox.clients))
    code = sandbox.issue_code(
        AuthorizeRequest(
            client_id, REDIRECT_URI, tuple(SCOPE.split()), None, pkce_s256(verifier), "query"
        )
    )
    tokens = sandbox.grants.redeem_code(
        code, client_id=client_id, redirect_uri=REDIRECT_URI, code_verifier=verifier
    )
    assert tokens.refresh_token is not None
    text = repr(tokens) + repr(sandbox.clients) + repr(vars(sandbox)) + repr(vars(sandbox.grants))
    for secret in (tokens.access_token, tokens.refresh_token, "sandbox-secret"):
        assert secret not in text


def test_a_token_policy_given_to_the_constructor_survives_reset() -> None:
    sandbox = Sandbox(policy=TokenPolicy(refresh_mode="reuse", grace_seconds=5))
    sandbox.grants.policy.grace_seconds = 60
    sandbox.reset()
    assert (sandbox.grants.policy.refresh_mode, sandbox.grants.policy.grace_seconds) == ("reuse", 5)

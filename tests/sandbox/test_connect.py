"""Visma Connect in the sandbox: discovery, the consent page, codes, PKCE, refresh."""

from __future__ import annotations

import base64
import secrets
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from gateway.settings import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET
from sandbox.grants import pkce_s256
from sandbox.state import Sandbox
from tests.contract.openapi import openapi_recorder_fixture
from tests.sandbox.conftest import (
    NOT_PRO_ORG,
    PRO_ORG,
    REDIRECT_URI,
    SCOPE,
    GetTokens,
    HtmlForm,
)

CLIENT = {"client_id": SANDBOX_CLIENT_ID, "client_secret": SANDBOX_CLIENT_SECRET}


def authorize_params(verifier: str, **overrides: str) -> dict[str, str]:
    params = {
        "client_id": SANDBOX_CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "scope": SCOPE,
        "state": "state-123",
        "code_challenge": pkce_s256(verifier),
        "code_challenge_method": "S256",
    }
    params.update(overrides)
    return {k: v for k, v in params.items() if v != ""}


async def consent(
    client: httpx.AsyncClient, params: dict[str, str], decision: str = "approve"
) -> httpx.Response:
    """Opens the consent page, then submits its form with the chosen button."""
    page = await client.get("/connect/authorize", params=params)
    assert page.status_code == 200, page.text
    form = HtmlForm(page.text)
    assert form.method == "post"
    return await client.post(form.action, data={**form.fields, "decision": decision})


def redirect_query(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
    return {k: v[0] for k, v in parse_qs(location.query).items()}


async def exchange(
    client: httpx.AsyncClient, code: str, verifier: str | None, **extra: str
) -> httpx.Response:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
    if verifier is not None:
        data["code_verifier"] = verifier
    return await client.post("/connect/token", data={**CLIENT, **data, **extra})


async def refresh(client: httpx.AsyncClient, token: str) -> httpx.Response:
    data = {**CLIENT, "grant_type": "refresh_token", "refresh_token": token}
    return await client.post("/connect/token", data=data)


async def organizations(client: httpx.AsyncClient, access_token: str) -> httpx.Response:
    return await client.get(
        "/v1/organizations", headers={"Authorization": f"Bearer {access_token}"}
    )


async def test_discovery_names_the_endpoints_on_the_requests_base_url(
    sandbox_client: httpx.AsyncClient,
) -> None:
    response = await sandbox_client.get("/.well-known/openid-configuration")
    assert response.status_code == 200
    doc = response.json()
    assert doc["issuer"] == "http://sandbox.test"
    assert doc["authorization_endpoint"] == "http://sandbox.test/connect/authorize"
    assert doc["token_endpoint"] == "http://sandbox.test/connect/token"
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert set(doc["response_modes_supported"]) == {"query", "form_post"}
    assert set(doc["grant_types_supported"]) == {"authorization_code", "refresh_token"}
    assert "offline_access" in doc["scopes_supported"]


async def test_full_consent_dance_with_pkce(sandbox_client: httpx.AsyncClient) -> None:
    verifier = secrets.token_urlsafe(48)
    page = await sandbox_client.get("/connect/authorize", params=authorize_params(verifier))
    assert page.status_code == 200
    assert "script" not in page.text.lower()
    for name in ("Sandra Sandbox", "Sokkeriet ApS", "Strikkeriet I/S", "Hobbyværkstedet"):
        assert name in page.text
    assert "not Pro" in page.text and "dineropublicapi:write" in page.text
    form = HtmlForm(page.text)
    assert ("decision", "approve", "Approve") in form.buttons
    assert ("decision", "deny", "Deny") in form.buttons
    assert form.fields["state"] == "state-123"

    answer = await sandbox_client.post(form.action, data={**form.fields, "decision": "approve"})
    query = redirect_query(answer)
    assert query["state"] == "state-123"

    tokens = (await exchange(sandbox_client, query["code"], verifier)).json()
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == 3600
    assert set(tokens["scope"].split()) == set(SCOPE.split())
    assert tokens["refresh_token"]

    listed = await organizations(sandbox_client, tokens["access_token"])
    assert listed.status_code == 200
    assert {"Id": NOT_PRO_ORG, "Name": "Hobbyværkstedet", "IsPro": False}.items() <= (
        listed.json()[2].items()
    )


async def test_deny_redirects_with_access_denied(sandbox_client: httpx.AsyncClient) -> None:
    answer = await consent(sandbox_client, authorize_params("v" * 43), decision="deny")
    assert redirect_query(answer) == {"error": "access_denied", "state": "state-123"}


async def test_form_post_mode_renders_a_form_to_the_redirect_uri(
    sandbox_client: httpx.AsyncClient,
) -> None:
    verifier = secrets.token_urlsafe(48)
    params = authorize_params(verifier, response_mode="form_post")
    answer = await consent(sandbox_client, params)
    assert answer.status_code == 200
    form = HtmlForm(answer.text)
    assert (form.method, form.action) == ("post", REDIRECT_URI)
    assert form.fields["state"] == "state-123"
    assert [label for _, _, label in form.buttons] == ["Continue"]
    assert (await exchange(sandbox_client, form.fields["code"], verifier)).status_code == 200


async def test_consent_form_is_single_use_and_bound_to_its_request(
    sandbox_client: httpx.AsyncClient,
) -> None:
    page = await sandbox_client.get("/connect/authorize", params=authorize_params("v" * 43))
    form = HtmlForm(page.text)
    tampered = {**form.fields, "state": "other", "decision": "approve"}
    assert (await sandbox_client.post(form.action, data=tampered)).status_code == 400

    page = await sandbox_client.get("/connect/authorize", params=authorize_params("v" * 43))
    form = HtmlForm(page.text)
    data = {**form.fields, "decision": "approve"}
    assert (await sandbox_client.post(form.action, data=data)).status_code == 302
    assert (await sandbox_client.post(form.action, data=data)).status_code == 400

    forged = {k: v for k, v in data.items() if k != "consent"}
    assert (await sandbox_client.post(form.action, data=forged)).status_code == 400


@pytest.mark.parametrize(
    "overrides",
    [
        {"client_id": "isv_someone_else"},
        {"redirect_uri": "https://evil.example/callback"},
        {"redirect_uri": "http://localhost.evil.example/cb"},
        {"redirect_uri": "javascript:alert(1)"},
        {"redirect_uri": ""},
    ],
    ids=["unknown client", "foreign host", "lookalike host", "script", "missing"],
)
async def test_bad_client_or_redirect_uri_shows_an_error_page_and_never_redirects(
    sandbox_client: httpx.AsyncClient, overrides: dict[str, str]
) -> None:
    response = await sandbox_client.get(
        "/connect/authorize", params=authorize_params("v" * 43, **overrides)
    )
    assert response.status_code == 400
    assert "location" not in response.headers
    assert "Sign-in problem" in response.text


@pytest.mark.parametrize(
    "redirect_uri",
    ["http://localhost:5555/cb", "https://127.0.0.1/cb?x=1", "http://[::1]:9/cb"],
)
async def test_any_local_redirect_uri_is_accepted(
    sandbox_client: httpx.AsyncClient, redirect_uri: str
) -> None:
    page = await sandbox_client.get(
        "/connect/authorize", params=authorize_params("v" * 43, redirect_uri=redirect_uri)
    )
    assert page.status_code == 200
    form = HtmlForm(page.text)
    answer = await sandbox_client.post(form.action, data={**form.fields, "decision": "deny"})
    assert answer.headers["location"].startswith(redirect_uri)
    assert "error=access_denied" in answer.headers["location"]


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"scope": "dineropublicapi:read admin"}, "invalid_scope"),
        ({"scope": ""}, "invalid_scope"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge_method": ""}, "invalid_request"),
        ({"code_challenge": "short"}, "invalid_request"),
        ({"response_mode": "fragment"}, "invalid_request"),
    ],
)
async def test_bad_request_parameters_go_back_to_the_client(
    sandbox_client: httpx.AsyncClient, overrides: dict[str, str], error: str
) -> None:
    response = await sandbox_client.get(
        "/connect/authorize", params=authorize_params("v" * 43, **overrides)
    )
    assert redirect_query(response) == {"error": error, "state": "state-123"}


async def test_pkce_is_optional_but_then_no_verifier_may_be_sent(
    sandbox_client: httpx.AsyncClient,
) -> None:
    params = authorize_params("v" * 43, code_challenge="", code_challenge_method="")
    code = redirect_query(await consent(sandbox_client, params))["code"]
    assert (await exchange(sandbox_client, code, None)).status_code == 200

    code = redirect_query(await consent(sandbox_client, params))["code"]
    response = await exchange(sandbox_client, code, "v" * 43)
    assert response.json() == {"error": "invalid_grant"}


async def approved_code(client: httpx.AsyncClient, verifier: str) -> str:
    return redirect_query(await consent(client, authorize_params(verifier)))["code"]


async def test_wrong_or_missing_verifier_is_invalid_grant(
    sandbox_client: httpx.AsyncClient,
) -> None:
    verifier = secrets.token_urlsafe(48)
    for attempt in (secrets.token_urlsafe(48), None):
        code = await approved_code(sandbox_client, verifier)
        response = await exchange(sandbox_client, code, attempt)
        assert (response.status_code, response.json()) == (400, {"error": "invalid_grant"})


async def test_wrong_redirect_uri_is_invalid_grant(sandbox_client: httpx.AsyncClient) -> None:
    verifier = secrets.token_urlsafe(48)
    code = await approved_code(sandbox_client, verifier)
    response = await exchange(
        sandbox_client, code, verifier, redirect_uri="http://127.0.0.1:8000/other"
    )
    assert (response.status_code, response.json()) == (400, {"error": "invalid_grant"})


async def test_a_code_works_once_and_its_reuse_revokes_the_tokens_it_gave(
    sandbox_client: httpx.AsyncClient,
) -> None:
    verifier = secrets.token_urlsafe(48)
    code = await approved_code(sandbox_client, verifier)
    tokens = (await exchange(sandbox_client, code, verifier)).json()
    assert (await organizations(sandbox_client, tokens["access_token"])).status_code == 200

    again = await exchange(sandbox_client, code, verifier)
    assert (again.status_code, again.json()) == (400, {"error": "invalid_grant"})
    assert (await organizations(sandbox_client, tokens["access_token"])).status_code == 401
    assert (await refresh(sandbox_client, tokens["refresh_token"])).json() == {
        "error": "invalid_grant"
    }


async def test_codes_expire_after_five_minutes(
    sandbox: Sandbox, sandbox_client: httpx.AsyncClient
) -> None:
    verifier = secrets.token_urlsafe(48)
    code = await approved_code(sandbox_client, verifier)
    sandbox.advance_clock(301)
    assert (await exchange(sandbox_client, code, verifier)).json() == {"error": "invalid_grant"}


@pytest.mark.parametrize(
    ("credentials", "basic"),
    [
        ({"client_id": SANDBOX_CLIENT_ID, "client_secret": "wrong"}, None),
        ({"client_id": "isv_unknown", "client_secret": SANDBOX_CLIENT_SECRET}, None),
        ({"client_id": SANDBOX_CLIENT_ID}, None),
        ({}, (SANDBOX_CLIENT_ID, "wrong")),
        ({"client_secret": SANDBOX_CLIENT_SECRET}, (SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET)),
    ],
    ids=["bad secret", "unknown client", "no secret", "bad basic", "basic and post at once"],
)
async def test_bad_client_authentication_is_401_invalid_client(
    sandbox_client: httpx.AsyncClient,
    credentials: dict[str, str],
    basic: tuple[str, str] | None,
) -> None:
    verifier = secrets.token_urlsafe(48)
    code = await approved_code(sandbox_client, verifier)
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
    response = await sandbox_client.post(
        "/connect/token",
        data={**form, "code_verifier": verifier, **credentials},
        auth=basic or httpx.USE_CLIENT_DEFAULT,
    )
    assert (response.status_code, response.json()) == (401, {"error": "invalid_client"})
    assert SANDBOX_CLIENT_SECRET not in response.text


async def test_http_basic_client_authentication_works(sandbox_client: httpx.AsyncClient) -> None:
    verifier = secrets.token_urlsafe(48)
    code = await approved_code(sandbox_client, verifier)
    basic = base64.b64encode(f"{SANDBOX_CLIENT_ID}:{SANDBOX_CLIENT_SECRET}".encode()).decode()
    response = await sandbox_client.post(
        "/connect/token",
        content=urlencode(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT_URI,
                "code_verifier": verifier,
            }
        ),
        headers={
            "Authorization": f"Basic {basic}",
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"


async def test_unsupported_grant_type(sandbox_client: httpx.AsyncClient) -> None:
    response = await sandbox_client.post(
        "/connect/token", data={**CLIENT, "grant_type": "password"}
    )
    assert (response.status_code, response.json()) == (400, {"error": "unsupported_grant_type"})


async def test_no_refresh_token_without_offline_access(get_tokens: GetTokens) -> None:
    tokens = await get_tokens(scope="dineropublicapi:read dineropublicapi:write")
    assert "refresh_token" not in tokens


async def test_access_tokens_expire_after_their_ttl(
    sandbox: Sandbox, sandbox_client: httpx.AsyncClient, get_tokens: GetTokens
) -> None:
    sandbox.grants.policy.access_token_ttl = 600
    tokens = await get_tokens()
    assert tokens["expires_in"] == 600
    sandbox.advance_clock(599)
    assert (await organizations(sandbox_client, tokens["access_token"])).status_code == 200
    sandbox.advance_clock(1)
    expired = await organizations(sandbox_client, tokens["access_token"])
    assert expired.status_code == 401
    assert expired.content == b""
    assert expired.headers["www-authenticate"] == 'Bearer error="invalid_token"'


async def test_one_time_refresh_rotates(
    sandbox: Sandbox, sandbox_client: httpx.AsyncClient, get_tokens: GetTokens
) -> None:
    first = await get_tokens()
    second = (await refresh(sandbox_client, first["refresh_token"])).json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    third = (await refresh(sandbox_client, second["refresh_token"])).json()
    assert third["refresh_token"] not in (first["refresh_token"], second["refresh_token"])
    assert sandbox.stats.to_json()["token_requests"]["refresh_token"] == {"ok": 2}


async def test_a_rotated_token_works_once_more_inside_the_grace_window(
    sandbox: Sandbox, sandbox_client: httpx.AsyncClient, get_tokens: GetTokens
) -> None:
    sandbox.grants.policy.grace_seconds = 10
    first = await get_tokens()
    lost = (await refresh(sandbox_client, first["refresh_token"])).json()
    sandbox.advance_clock(10)
    retry = await refresh(sandbox_client, first["refresh_token"])
    assert retry.status_code == 200
    assert retry.json()["refresh_token"] == lost["refresh_token"]
    assert retry.json()["access_token"] != lost["access_token"]

    # Only once: a second reuse is theft, and the whole grant goes.
    again = await refresh(sandbox_client, first["refresh_token"])
    assert again.json() == {"error": "invalid_grant"}
    assert (await refresh(sandbox_client, lost["refresh_token"])).status_code == 400
    assert (await organizations(sandbox_client, retry.json()["access_token"])).status_code == 401


async def test_reuse_after_the_grace_window_revokes_the_grant(
    sandbox: Sandbox, sandbox_client: httpx.AsyncClient, get_tokens: GetTokens
) -> None:
    sandbox.grants.policy.grace_seconds = 10
    first = await get_tokens()
    second = (await refresh(sandbox_client, first["refresh_token"])).json()
    sandbox.advance_clock(11)
    stale = await refresh(sandbox_client, first["refresh_token"])
    assert (stale.status_code, stale.json()) == (400, {"error": "invalid_grant"})
    assert (await refresh(sandbox_client, second["refresh_token"])).json() == {
        "error": "invalid_grant"
    }
    assert (await organizations(sandbox_client, second["access_token"])).status_code == 401


async def test_grace_reuse_is_refused_once_the_successor_was_used(
    sandbox: Sandbox, sandbox_client: httpx.AsyncClient, get_tokens: GetTokens
) -> None:
    first = await get_tokens()
    second = (await refresh(sandbox_client, first["refresh_token"])).json()
    assert (await refresh(sandbox_client, second["refresh_token"])).status_code == 200
    assert (await refresh(sandbox_client, first["refresh_token"])).status_code == 400


async def test_reuse_mode_returns_the_same_refresh_token(
    sandbox: Sandbox, sandbox_client: httpx.AsyncClient, get_tokens: GetTokens
) -> None:
    sandbox.grants.policy.refresh_mode = "reuse"
    first = await get_tokens()
    for _ in range(3):
        again = (await refresh(sandbox_client, first["refresh_token"])).json()
        assert again["refresh_token"] == first["refresh_token"]
    sandbox.advance_clock(365 * 24 * 3600)
    assert (await refresh(sandbox_client, first["refresh_token"])).json() == {
        "error": "invalid_grant"
    }


async def test_a_changed_refresh_mode_applies_from_the_next_consent(
    sandbox: Sandbox, sandbox_client: httpx.AsyncClient, get_tokens: GetTokens
) -> None:
    before = await get_tokens()
    sandbox.grants.policy.refresh_mode = "reuse"
    rotated = (await refresh(sandbox_client, before["refresh_token"])).json()
    assert rotated["refresh_token"] != before["refresh_token"]


async def test_unused_one_time_refresh_tokens_lapse(
    sandbox: Sandbox, sandbox_client: httpx.AsyncClient, get_tokens: GetTokens
) -> None:
    sandbox.grants.policy.refresh_idle_lifetime = 3600
    tokens = await get_tokens()
    sandbox.advance_clock(1800)
    kept = (await refresh(sandbox_client, tokens["refresh_token"])).json()
    sandbox.advance_clock(3599)  # used half an hour in: the new token counts from then
    fresh = (await refresh(sandbox_client, kept["refresh_token"])).json()
    sandbox.advance_clock(3600)
    assert (await refresh(sandbox_client, fresh["refresh_token"])).json() == {
        "error": "invalid_grant"
    }


async def test_unknown_refresh_token_is_invalid_grant(sandbox_client: httpx.AsyncClient) -> None:
    response = await refresh(sandbox_client, "not-a-token")
    assert (response.status_code, response.json()) == (400, {"error": "invalid_grant"})


async def test_organizations_echo_the_requested_field_spelling(
    sandbox_client: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    response = await sandbox_client.get(
        "/v1/organizations", params={"fields": "id,Name"}, headers=auth_headers
    )
    assert response.json()[0] == {
        "id": PRO_ORG,
        "Name": "Sokkeriet ApS",
        "IsVatFree": False,
        "IsTaxFreeUnion": False,
    }
    assert list(response.json()[0]) == ["id", "Name", "IsVatFree", "IsTaxFreeUnion"]
    bad = await sandbox_client.get(
        "/v1/organizations", params={"fields": "Id,Secret"}, headers=auth_headers
    )
    assert bad.status_code == 400
    assert "Secret" in bad.text


async def test_organizations_without_a_token_is_401(sandbox_client: httpx.AsyncClient) -> None:
    response = await sandbox_client.get("/v1/organizations")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


async def test_organizations_answer_follows_dineros_openapi(
    sandbox_client: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    recorder = openapi_recorder_fixture()  # skips when the description is absent
    recorder.attach(sandbox_client)
    for fields in (None, "Id,Name,IsPro", "Name,Id,Type,IsPayingPro,CountryKey,VatNumber"):
        params = {"fields": fields} if fields else {}
        response = await sandbox_client.get(
            "/v1/organizations", params=params, headers=auth_headers
        )
        assert response.status_code == 200
    assert len(recorder.exchanges) == 3
    recorder.assert_clean()

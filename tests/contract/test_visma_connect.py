"""`VismaConnect` (and the token's use on the API) against the sandbox's Visma Connect."""

from __future__ import annotations

from datetime import timedelta

import pytest

from gateway.dinero.errors import Forbidden, Unauthorized
from gateway.dinero.oauth import InvalidGrant, TokenSet, new_pkce
from gateway.secret import Secret
from tests.contract.conftest import (
    NOT_PRO_ORG,
    OTHER_PRO_ORG,
    PRO_ORG,
    REDIRECT_URI,
    Contract,
    utcnow,
)


def refresh_token(tokens: TokenSet) -> Secret:
    assert tokens.refresh_token is not None, "offline_access was asked for"
    return tokens.refresh_token


async def test_the_full_dance_gives_tokens_that_reach_the_users_organisations(
    contract: Contract,
) -> None:
    pkce = new_pkce()
    answer = await contract.authorize(state="state-4711", code_challenge=pkce.challenge)
    assert answer["state"] == "state-4711"
    assert set(answer) == {"code", "state"}

    before = utcnow()
    tokens = await contract.visma.exchange_code(
        code=answer["code"], redirect_uri=REDIRECT_URI, code_verifier=pkce.verifier, now=before
    )
    assert tokens.token_type == "Bearer"
    assert tokens.refresh_token is not None
    assert tokens.expires_at == before + timedelta(seconds=3600)
    assert set(tokens.scope.split()) == {
        "dineropublicapi:read",
        "dineropublicapi:write",
        "offline_access",
    }

    organizations = await contract.dinero(tokens).organizations()
    assert [(o.id, o.is_pro) for o in organizations] == [
        (PRO_ORG, True),
        (OTHER_PRO_ORG, True),
        (NOT_PRO_ORG, False),
    ]
    assert all(o.name for o in organizations)


async def test_a_wrong_verifier_is_refused_and_burns_the_code(contract: Contract) -> None:
    pkce = new_pkce()
    answer = await contract.authorize(state="s", code_challenge=pkce.challenge)

    with pytest.raises(InvalidGrant):
        await contract.visma.exchange_code(
            code=answer["code"],
            redirect_uri=REDIRECT_URI,
            code_verifier=new_pkce().verifier,
            now=utcnow(),
        )
    # A code is tried once: the right verifier comes too late.
    with pytest.raises(InvalidGrant):
        await contract.visma.exchange_code(
            code=answer["code"],
            redirect_uri=REDIRECT_URI,
            code_verifier=pkce.verifier,
            now=utcnow(),
        )


async def test_a_code_is_bound_to_its_redirect_uri(contract: Contract) -> None:
    pkce = new_pkce()
    answer = await contract.authorize(state="s", code_challenge=pkce.challenge)
    with pytest.raises(InvalidGrant):
        await contract.visma.exchange_code(
            code=answer["code"],
            redirect_uri="http://127.0.0.1:8000/elsewhere",
            code_verifier=pkce.verifier,
            now=utcnow(),
        )


async def test_deny_comes_back_as_access_denied_with_the_state(contract: Contract) -> None:
    answer = await contract.authorize(
        state="state-1", code_challenge=new_pkce().challenge, decision="Deny"
    )
    assert answer == {"error": "access_denied", "state": "state-1"}


async def test_form_post_mode_carries_code_and_state_on_the_page(contract: Contract) -> None:
    pkce = new_pkce()
    answer = await contract.authorize(state="posted", code_challenge=pkce.challenge, form_post=True)
    assert answer["state"] == "posted"

    tokens = await contract.visma.exchange_code(
        code=answer["code"], redirect_uri=REDIRECT_URI, code_verifier=pkce.verifier, now=utcnow()
    )
    assert await contract.dinero(tokens).organizations()


async def test_one_time_mode_rotates_the_refresh_token(contract: Contract) -> None:
    first = await contract.connect()  # the sandbox starts in one-time mode

    second = await contract.visma.refresh(refresh_token(first), now=utcnow())
    third = await contract.visma.refresh(refresh_token(second), now=utcnow())

    values = {refresh_token(t).reveal() for t in (first, second, third)}
    assert len(values) == 3
    assert second.access_token.reveal() != first.access_token.reveal()
    assert await contract.dinero(third).entry_accounts(PRO_ORG)


async def test_reuse_mode_gives_the_same_refresh_token_back(contract: Contract) -> None:
    await contract.settings(refresh_mode="reuse")
    first = await contract.connect()

    second = await contract.visma.refresh(refresh_token(first), now=utcnow())
    third = await contract.visma.refresh(refresh_token(first), now=utcnow())

    assert refresh_token(second).reveal() == refresh_token(first).reveal()
    assert refresh_token(third).reveal() == refresh_token(first).reveal()
    assert second.access_token.reveal() != third.access_token.reveal()
    assert await contract.dinero(third).entry_accounts(PRO_ORG)


async def test_a_changed_refresh_mode_waits_for_the_next_consent(contract: Contract) -> None:
    one_time = await contract.connect()
    await contract.settings(refresh_mode="reuse")

    rotated = await contract.visma.refresh(refresh_token(one_time), now=utcnow())
    assert refresh_token(rotated).reveal() != refresh_token(one_time).reveal()

    reuse = await contract.connect()
    again = await contract.visma.refresh(refresh_token(reuse), now=utcnow())
    assert refresh_token(again).reveal() == refresh_token(reuse).reveal()


async def test_a_rotated_token_works_once_more_inside_the_grace_window(
    contract: Contract,
) -> None:
    await contract.settings(grace_seconds=30)
    first = await contract.connect()
    second = await contract.visma.refresh(refresh_token(first), now=utcnow())

    # The answer to the first refresh was "lost": the old token still works, once, and
    # hands out the same successor, so the client ends up holding the expected token.
    retried = await contract.visma.refresh(refresh_token(first), now=utcnow())
    assert refresh_token(retried).reveal() == refresh_token(second).reveal()
    assert await contract.dinero(retried).entry_accounts(PRO_ORG)

    with pytest.raises(InvalidGrant):
        await contract.visma.refresh(refresh_token(first), now=utcnow())


async def test_a_rotated_token_is_dead_after_the_grace_window(contract: Contract) -> None:
    await contract.settings(grace_seconds=5)
    first = await contract.connect()
    second = await contract.visma.refresh(refresh_token(first), now=utcnow())
    await contract.control("POST", "clock", {"advance_seconds": 6})

    with pytest.raises(InvalidGrant):
        await contract.visma.refresh(refresh_token(first), now=utcnow())
    # The sandbox takes a late replay for theft, as Visma's reuse protection does: the
    # whole grant dies, the successor and its access token with it.
    with pytest.raises(InvalidGrant):
        await contract.visma.refresh(refresh_token(second), now=utcnow())
    with pytest.raises(Unauthorized):
        await contract.dinero(second).entry_accounts(PRO_ORG)


async def test_an_unused_one_time_refresh_token_lapses(contract: Contract) -> None:
    """DINERO.md: how long an unused one-time token lives is unknown; whatever it is, a
    lapsed one is `invalid_grant` and the user must consent again."""
    await contract.settings(refresh_idle_lifetime=60)
    tokens = await contract.connect()
    await contract.control("POST", "clock", {"advance_seconds": 61})

    with pytest.raises(InvalidGrant):
        await contract.visma.refresh(refresh_token(tokens), now=utcnow())


async def test_revocation_makes_the_api_401_and_the_refresh_invalid_grant(
    contract: Contract,
) -> None:
    tokens = await contract.connect()
    dinero = contract.dinero(tokens)
    assert await dinero.entry_accounts(PRO_ORG)

    revoked = await contract.control("POST", f"organizations/{PRO_ORG}/revoke")
    assert revoked == {"revoked_grants": 1}

    with pytest.raises(Unauthorized) as raised:
        await dinero.entry_accounts(PRO_ORG)
    assert raised.value.status == 401
    with pytest.raises(Unauthorized):
        await dinero.organizations()
    with pytest.raises(InvalidGrant):
        await contract.visma.refresh(refresh_token(tokens), now=utcnow())


async def test_an_expired_access_token_is_401_until_refreshed(contract: Contract) -> None:
    tokens = await contract.connect()
    await contract.control("POST", "tokens/expire", {})

    with pytest.raises(Unauthorized):
        await contract.dinero(tokens).entry_accounts(PRO_ORG)

    refreshed = await contract.visma.refresh(refresh_token(tokens), now=utcnow())
    assert await contract.dinero(refreshed).entry_accounts(PRO_ORG)


async def test_a_non_pro_organisation_is_listed_but_forbidden(contract: Contract) -> None:
    dinero = await contract.dinero_client()
    listed = {o.id: o for o in await dinero.organizations()}
    assert listed[NOT_PRO_ORG].is_pro is False

    with pytest.raises(Forbidden) as raised:
        await dinero.entry_accounts(NOT_PRO_ORG)
    assert raised.value.not_pro
    assert raised.value.status == 403

    # A Pro organisation on the same token is fine.
    assert await dinero.entry_accounts(PRO_ORG)


async def test_an_organisation_the_user_cannot_reach_is_forbidden_but_not_not_pro(
    contract: Contract,
) -> None:
    dinero = await contract.dinero_client()
    with pytest.raises(Forbidden) as raised:
        await dinero.entry_accounts(4242)
    assert not raised.value.not_pro

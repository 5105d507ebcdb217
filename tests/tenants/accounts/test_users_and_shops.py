import pytest

from gateway.db import Pool
from gateway.vault import Vault
from tenants.accounts import users
from tenants.shops import repository as shops
from tests.factories import make_user


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Sokkeriet", "sokkeriet"),
        ("Søstrene Grønne Å", "soestrene-groenne-aa"),
        ("  --Café & Co!  ", "cafe-co"),
        ("!!!", "shop"),
        ("x" * 100, "x" * 60),
    ],
)
def test_slugify(name: str, slug: str) -> None:
    assert shops.slugify(name) == slug


@pytest.mark.parametrize("email", ["", "plain", "a@b", "a b@example.com", "a@@example.com"])
def test_bad_emails_are_refused(email: str) -> None:
    with pytest.raises(users.InvalidEmailError):
        users.normalize_email(email)


def test_emails_are_normalised() -> None:
    assert users.normalize_email("  Karen@Example.DK ") == "karen@example.dk"


async def test_existing_owner_with_password_gets_no_invite(pool: Pool, vault: Vault) -> None:
    owner = await make_user(pool, email="owner@example.dk")
    created = await shops.create_shop_for_owner(
        pool, vault, name="Second shop", owner_email="Owner@Example.dk"
    )
    assert created.owner.id == owner.id
    assert created.invite_token is None
    assert await pool.fetchval("SELECT count(*) FROM user_tokens") == 0


async def test_user_repr_hides_the_password_hash(pool: Pool) -> None:
    user = await make_user(pool)
    assert user.password_hash is not None
    assert user.password_hash not in repr(user)

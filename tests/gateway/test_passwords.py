import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway import passwords

CHEAP = passwords.Cost(n=2**4, r=1, p=1)


def test_default_cost_round_trip() -> None:
    stored = passwords.hash_password("a long enough password")
    assert stored.startswith("scrypt$65536$8$2$")
    assert passwords.verify_password("a long enough password", stored)
    assert not passwords.verify_password("a long enough passworD", stored)
    assert not passwords.needs_rehash(stored)
    assert passwords.needs_rehash(passwords.hash_password("x" * 12, cost=CHEAP))


@settings(max_examples=50, deadline=None)
@given(st.text(min_size=1, max_size=64), st.text(min_size=1, max_size=64))
def test_only_the_same_password_verifies(a: str, b: str) -> None:
    stored = passwords.hash_password(a, cost=CHEAP)
    assert passwords.verify_password(a, stored)
    assert passwords.verify_password(b, stored) == (a == b)


@pytest.mark.parametrize("stored", [None, "", "bcrypt$x", "scrypt$1$2", "scrypt$x$8$1$AA$AA"])
def test_malformed_hashes_never_verify(stored: str | None) -> None:
    assert not passwords.verify_password("whatever", stored)


def test_policy() -> None:
    with pytest.raises(passwords.PasswordPolicyError):
        passwords.check_policy("short")
    passwords.check_policy("long enough!")

import pytest

from gateway.secret import Secret
from gateway.settings import TokenKey
from gateway.vault import UnknownKeyError, Vault, VaultError, row_aad

OLD = TokenKey("old", b"o" * 32)
NEW = TokenKey("new", b"n" * 32)


def test_round_trip_binds_row_identity() -> None:
    vault = Vault([NEW])
    aad = row_aad("dinero_connections", "access_token_enc", "row-1")
    ciphertext = vault.encrypt("token-value", aad=aad)
    assert ciphertext.startswith("v1:new:")
    assert "token-value" not in ciphertext
    assert vault.decrypt(ciphertext, aad=aad).reveal() == "token-value"
    with pytest.raises(VaultError):
        vault.decrypt(ciphertext, aad=row_aad("dinero_connections", "access_token_enc", "row-2"))
    with pytest.raises(VaultError):
        vault.decrypt(ciphertext, aad=row_aad("dinero_connections", "refresh_token_enc", "row-1"))


def test_same_plaintext_encrypts_differently() -> None:
    vault = Vault([NEW])
    assert vault.encrypt("x", aad="a") != vault.encrypt("x", aad="a")


def test_old_keys_decrypt_and_the_first_key_encrypts() -> None:
    old_ciphertext = Vault([OLD]).encrypt(Secret("s"), aad="a")
    rotated = Vault([NEW, OLD])
    assert rotated.decrypt(old_ciphertext, aad="a").reveal() == "s"
    assert not rotated.is_current(old_ciphertext)
    assert rotated.is_current(rotated.encrypt("s", aad="a"))


def test_unknown_key_id_says_which_key() -> None:
    ciphertext = Vault([OLD]).encrypt("s", aad="a")
    with pytest.raises(UnknownKeyError, match=r"'old'.*GATEWAY_TOKEN_KEYS"):
        Vault([NEW]).decrypt(ciphertext, aad="a")


@pytest.mark.parametrize("bad", ["", "v1:new", "v2:new:AAAA", "v1:new:!!!", "v1:new:AAAA"])
def test_malformed_ciphertexts_fail_cleanly(bad: str) -> None:
    with pytest.raises(VaultError):
        Vault([NEW]).decrypt(bad, aad="a")


def test_secret_never_prints() -> None:
    secret = Secret("hunter2")
    assert "hunter2" not in repr(secret)
    assert "hunter2" not in str(secret)
    assert "hunter2" not in f"{secret}"
    assert "hunter2" not in repr({"token": secret})
    assert secret.reveal() == "hunter2"
    assert "n" * 32 not in repr(Vault([NEW]))

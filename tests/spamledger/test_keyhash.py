import pytest

from spamledger import NumberHasher, SecretError

SECRET = "spamledger-test-secret-0123456789"


def test_known_answer_matches_openssl_hmac_sha256():
    # printf '%s' +14155550123 | openssl dgst -sha256 -hmac "$SECRET"
    expected = "4ad7110c3099dc28a3b17709c1836c57d6eab20b2d3089cda122ed82bdcb08dd"
    assert NumberHasher(SECRET).key("+14155550123").hex() == expected


def test_different_secrets_give_different_keys():
    a = NumberHasher(SECRET).key("+14155550123")
    b = NumberHasher(SECRET + "x").key("+14155550123")
    assert a != b and len(a) == len(b) == 32


def test_short_secret_is_refused():
    with pytest.raises(SecretError, match="at least 16 bytes"):
        NumberHasher("short")


def test_non_e164_input_is_refused():
    with pytest.raises(ValueError, match=r"not an E\.164"):
        NumberHasher(SECRET).key("4155550123")


def test_repr_does_not_reveal_the_secret():
    assert SECRET not in repr(NumberHasher(SECRET))

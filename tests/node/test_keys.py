import os
import stat

import pytest

from node import KeystoreError, create_keystore, ensure_keystores, list_keystores, load_account

N = 1 << 10  # a low scrypt work factor keeps the tests fast


def test_keystore_round_trip_and_permissions(tmp_path):
    account = create_keystore(tmp_path, "validator-us", "pw", scrypt_n=N)
    path = tmp_path / "validator-us.json"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_account(path, "pw").address == account.address
    assert list_keystores(tmp_path)["validator-us"].lower() == account.address.lower()


def test_wrong_password_names_the_file(tmp_path):
    create_keystore(tmp_path, "gov", "right", scrypt_n=N)
    with pytest.raises(KeystoreError, match=r"wrong password.*gov\.json"):
        load_account(tmp_path / "gov.json", "wrong")


def test_existing_key_is_never_overwritten(tmp_path):
    create_keystore(tmp_path, "gov", "pw", scrypt_n=N)
    with pytest.raises(KeystoreError, match="refusing to overwrite"):
        create_keystore(tmp_path, "gov", "pw", scrypt_n=N)


def test_ensure_keystores_is_idempotent(tmp_path):
    first = ensure_keystores(tmp_path, ["a", "b"], "pw", scrypt_n=N)
    second = ensure_keystores(tmp_path, ["a", "b"], "pw", scrypt_n=N)
    assert {k: v.address for k, v in first.items()} == {k: v.address for k, v in second.items()}

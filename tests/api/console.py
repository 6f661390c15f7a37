"""Helpers for console tests: sign in through the real form, read CSRF tokens from pages."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    """The CSRF token of the first form on a page."""
    found = _CSRF.search(html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def sign_in(client: TestClient, key: str, next_page: str = "/console/") -> str:
    """Sign in with ``key`` through the sign-in form; the session's CSRF token."""
    form = client.get("/console/sign-in")
    assert form.status_code == 200
    response = client.post("/console/sign-in", data={"csrf": csrf_of(form.text),
                                                     "api_key": key, "next": next_page},
                           follow_redirects=False)
    assert response.status_code == 303, response.text
    return csrf_of(client.get("/console/").text)


def write_keystore(data_dir, name: str, account, password: str = "console-test") -> None:
    """A keystore for ``account`` under ``data_dir/keystore`` (a low scrypt cost for tests),
    with the password file the server reads."""
    import json
    from pathlib import Path

    from eth_account import Account

    directory = Path(data_dir) / "keystore"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / ".password").write_text(password)
    blob = Account.encrypt(account.key, password, kdf="scrypt", iterations=16)
    blob["name"] = name
    (directory / f"{name}.json").write_text(json.dumps(blob))

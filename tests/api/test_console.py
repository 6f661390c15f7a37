"""The web console's sessions, CSRF and role-scoped pages (on SQLite and PostgreSQL).

No chain or IPFS is reachable here: a form refused for its CSRF token is refused before the
handler would have tried either (which would answer 503).
"""

from __future__ import annotations

import time

from fastapi.testclient import TestClient
from sqlalchemy import update

from api import create_key, session_scope
from api._models import ApiKey, ConsoleSession
from tests.api.console import csrf_of, sign_in


def key_of(engine, role: str, country: str = "*", signer: str = "") -> str:
    with session_scope(engine) as session:
        return create_key(session, role=role, country=country, name=f"{role}-{country}",
                          signer=signer)


def test_pages_redirect_to_sign_in_until_signed_in(client):
    response = client.get("/console/audit?number=%2B14155550123", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/console/sign-in?next=%2Fconsole%2Faudit")


def test_sign_in_sets_an_httponly_samesite_strict_session_cookie(client, engine):
    sign_in(client, key_of(engine, "regulator"))
    cookie = next(c for c in client.cookies.jar if c.name == "slc_session")
    assert cookie.path == "/console" and cookie.has_nonstandard_attr("HttpOnly")
    assert cookie.get_nonstandard_attr("SameSite").lower() == "strict"
    with session_scope(engine) as session:
        stored = session.query(ConsoleSession).one()
    assert stored.token_hash != cookie.value and len(stored.token_hash) == 64


def test_unknown_and_revoked_keys_cannot_sign_in(client, engine):
    form = client.get("/console/sign-in")
    refused = client.post("/console/sign-in", data={"csrf": csrf_of(form.text),
                                                    "api_key": "slk_nope"})
    assert refused.status_code == 401 and "unknown API key" in refused.text
    key = key_of(engine, "regulator")
    with session_scope(engine) as session:
        session.execute(update(ApiKey).values(revoked=True))
    form = client.get("/console/sign-in")
    refused = client.post("/console/sign-in", data={"csrf": csrf_of(form.text), "api_key": key})
    assert refused.status_code == 401 and "API key revoked" in refused.text
    assert "slc_session" not in client.cookies


def test_sign_in_form_without_its_token_is_refused(client, engine):
    client.get("/console/sign-in")
    response = client.post("/console/sign-in", data={"api_key": key_of(engine, "regulator")})
    assert response.status_code == 403 and "missing CSRF token" in response.text
    assert "slc_session" not in client.cookies


def test_telco_key_cannot_open_regulator_pages(client, engine):
    sign_in(client, key_of(engine, "telco", "US"))
    for path in ("/console/audit", "/console/audit?number=%2B14155550123",
                 "/console/audit/checks?number=%2B14155550123",
                 "/console/audit/export.json?number=%2B14155550123", "/console/consortium",
                 "/console/consortium/parameters", "/console/activity", "/console/business"):
        response = client.get(path)
        assert response.status_code == 403, path
        assert "role &#39;telco&#39; may not open this page" in response.text
    home = client.get("/console/").text
    assert 'href="/console/operator"' in home and 'href="/console/audit"' not in home


def test_each_role_sees_only_its_pages_in_the_navigation(client, engine):
    expected = {"regulator": {"audit", "consortium", "activity", "arbiter"},
                "business": {"business"}, "telco": {"arbiter", "operator"},
                "admin": {"audit", "consortium", "activity", "business", "arbiter",
                          "operator"}}
    for role, pages in expected.items():
        client.cookies.clear()
        sign_in(client, key_of(engine, role))
        nav = client.get("/console/").text.split("<main")[0]
        shown = {p for p in ("audit", "consortium", "activity", "business", "arbiter",
                             "operator") if f'href="/console/{p}"' in nav}
        assert shown == pages, role


def test_country_scoped_regulator_cannot_audit_another_countrys_number(client, engine):
    sign_in(client, key_of(engine, "regulator", "GB"))
    response = client.get("/console/audit?number=%2B14155550123")
    assert response.status_code == 403
    assert "key is scoped to country GB, not US" in response.text
    for path in ("/console/audit/export.csv", "/console/audit/checks"):
        assert client.get(path, params={"number": "+14155550123"}).status_code == 403


def test_forms_without_csrf_token_are_refused_before_anything_happens(client, engine):
    sign_in(client, key_of(engine, "admin"))
    posts = [("/console/sign-out", {}),
             ("/console/arbiter/disputes/1/vote", {"choice": "uphold"}),
             ("/console/operator/models/approve", {"owner": "0x" + "1" * 40,
                                                   "model_hash": "0x" + "2" * 64})]
    for path, data in posts:
        response = client.post(path, data=data)
        assert response.status_code == 403, path
        assert "missing CSRF token" in response.text
    upload = client.post("/console/business/disputes",
                         data={"number": "+14155550123", "business": "Acme"},
                         files=[("evidence", ("a.pdf", b"%PDF-1.4", "application/pdf"))])
    assert upload.status_code == 403 and "missing CSRF token" in upload.text
    assert client.get("/console/").status_code == 200  # still signed in


def test_another_sessions_csrf_token_is_refused(settings, engine):
    from api import create_app

    app = create_app(settings, engine=engine, run_migrations=False)
    with TestClient(app) as alice, TestClient(app) as mallory:
        sign_in(alice, key_of(engine, "regulator"))
        stolen = sign_in(mallory, key_of(engine, "regulator"))
        response = alice.post("/console/sign-out", data={"csrf": stolen})
        assert response.status_code == 403 and "does not match this session" in response.text


def test_sign_out_ends_the_session_on_the_server(client, engine):
    csrf = sign_in(client, key_of(engine, "regulator"))
    token = client.cookies.get("slc_session")
    response = client.post("/console/sign-out", data={"csrf": csrf}, follow_redirects=False)
    assert response.status_code == 303
    client.cookies.clear()
    client.cookies.set("slc_session", token, path="/console")  # a copied cookie, replayed
    again = client.get("/console/audit", follow_redirects=False)
    assert again.status_code == 303 and "signed-out" in again.headers["location"]


def test_expired_session_and_revoked_key_end_access(client, engine):
    sign_in(client, key_of(engine, "regulator"))
    with session_scope(engine) as session:
        session.execute(update(ConsoleSession).values(expires_at=time.time() - 1))
    expired = client.get("/console/audit", follow_redirects=False)
    assert expired.status_code == 303 and "session%20expired" in expired.headers["location"]
    client.cookies.clear()
    sign_in(client, key_of(engine, "telco"))
    with session_scope(engine) as session:
        session.execute(update(ApiKey).where(ApiKey.role == "telco").values(revoked=True))
    revoked = client.get("/console/operator", follow_redirects=False)
    assert revoked.status_code == 303 and "revoked" in revoked.headers["location"]


def test_sign_in_redirects_only_within_the_console(client, engine):
    form = client.get("/console/sign-in")
    response = client.post("/console/sign-in", data={
        "csrf": csrf_of(form.text), "api_key": key_of(engine, "regulator"),
        "next": "//evil.example/console/"}, follow_redirects=False)
    assert response.headers["location"] == "/console/"


def test_pages_carry_a_strict_content_security_policy(client, engine):
    sign_in(client, key_of(engine, "regulator"))
    response = client.get("/console/audit")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy and "http" not in policy
    assert response.headers["cache-control"] == "no-store"
    assert client.get("/console/static/console.css").status_code == 200


def test_repeated_failed_sign_ins_are_throttled(tmp_path, engine):
    from api import create_app
    from tests.api.conftest import api_settings

    settings = api_settings(tmp_path, api_auth_failures_per_minute=3)
    with TestClient(create_app(settings, engine=engine, run_migrations=False)) as client:
        codes = []
        for _ in range(5):
            form = client.get("/console/sign-in")
            codes.append(client.post("/console/sign-in", data={
                "csrf": csrf_of(form.text), "api_key": "slk_wrong"}).status_code)
    assert codes[:3] == [401, 401, 401] and codes[-1] == 429


def test_keys_name_a_well_formed_signer_keystore(engine):
    import pytest

    from api import BadRequest

    with session_scope(engine) as session, pytest.raises(BadRequest, match="keystore name"):
        create_key(session, role="telco", country="US", signer="../../etc/passwd")


def test_reflected_text_is_escaped(client):
    page = client.get("/console/sign-in", params={"why": "<script>alert(1)</script>"})
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


def test_a_result_message_shows_only_with_this_sessions_signature(client, engine):
    from api._console import flash_sig, load_user

    sign_in(client, key_of(engine, "business", "US"))
    forged = client.get("/console/business", params={"done": "dispute 9 upheld",
                                                     "sig": "0" * 32})
    assert forged.status_code == 200 and "dispute 9 upheld" not in forged.text
    with session_scope(engine) as session:
        user = load_user(session, client.cookies.get("slc_session"))
    signed = client.get("/console/business", params={
        "done": "dispute 9 upheld", "sig": flash_sig(user, "dispute 9 upheld")})
    assert "dispute 9 upheld" in signed.text

"""`spamledger api keys`: a key's country scope is an ISO code; revoking nothing is an error."""

from __future__ import annotations

from spamledger._cli import main


def test_key_country_must_be_an_iso_code_and_revoking_an_unknown_key_fails(tmp_path, capsys):
    base = ["--data-dir", str(tmp_path), "api"]
    assert main([*base, "migrate"]) == 0
    capsys.readouterr()
    assert main([*base, "keys", "create", "--role", "telco", "--country", "ZZ"]) == 1
    err = capsys.readouterr().err
    assert "'ZZ'" in err and len(err.strip().splitlines()) == 1
    assert main([*base, "keys", "create", "--role", "telco", "--country", "gb"]) == 0
    key = capsys.readouterr().out.strip()
    assert main([*base, "keys", "revoke", "slk_nosuchkey"]) == 1
    assert main([*base, "keys", "revoke", key[:12]]) == 0

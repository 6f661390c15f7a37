from pathlib import Path

import pytest

from spamledger import SETTINGS, SettingsError, load_settings
from spamledger._settings import settings_markdown


def test_defaults_come_from_the_table():
    settings = load_settings(environ={})
    assert settings.rpc_url == SETTINGS["rpc_url"].default


def test_unknown_key_in_config_file_fails_at_start(tmp_path: Path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('rpc_url = "http://127.0.0.1:9"\nrpc_uri = "typo"\n')
    with pytest.raises(SettingsError, match=r"unknown key.*rpc_uri"):
        load_settings(config_file=cfg, environ={})


def test_precedence_file_then_env_then_flag(tmp_path: Path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("api_port: 9001\n")
    assert load_settings(cfg, environ={}).api_port == 9001
    env = {"SPAMLEDGER_API_PORT": "9002"}
    assert load_settings(cfg, environ=env).api_port == 9002
    assert load_settings(cfg, overrides={"api_port": 9003}, environ=env).api_port == 9003


def test_bad_value_names_the_setting():
    with pytest.raises(SettingsError, match="api_port"):
        load_settings(environ={"SPAMLEDGER_API_PORT": "eighty"})


def test_secrets_are_masked_in_repr():
    settings = load_settings(environ={"SPAMLEDGER_CONSORTIUM_SECRET": "do-not-print-me-123"})
    assert "do-not-print-me-123" not in repr(settings)
    assert settings.consortium_secret == "do-not-print-me-123"


def test_markdown_table_lists_every_setting():
    table = settings_markdown()
    for name in SETTINGS:
        assert f"`{name}`" in table

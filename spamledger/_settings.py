"""The one settings table: every setting is declared once here or in a package's ``_settings``.

A :class:`Setting` has a name, a type, a default, an environment variable and a help text.
Config files (TOML or YAML), command-line flags and the README's configuration section are
all derived from :data:`SETTINGS`. Unknown keys in a config file fail at start-up.

Precedence (later wins): default < config file < environment < command-line flag.

Example::

    settings = load_settings(config_file=None, overrides={"rpc_url": "http://127.0.0.1:8545"})
    settings.rpc_url
"""

from __future__ import annotations

import argparse
import logging
import os
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from spamledger._errors import SpamLedgerError

logger = logging.getLogger(__name__)


class SettingsError(SpamLedgerError, ValueError):
    """A config file, environment variable or flag names an unknown key or a bad value."""


@dataclass(frozen=True)
class Setting:
    """One configurable value.

    ``secret`` settings are never printed, logged or accepted on the command line (a flag
    would leak into shell history and ``ps``): they come from the environment or a file.
    """

    name: str
    type: type
    default: Any
    help: str
    group: str = "core"
    secret: bool = False

    @property
    def env(self) -> str:
        return "SPAMLEDGER_" + self.name.upper()

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def parse(self, raw: Any) -> Any:
        """Convert ``raw`` (from a file, the environment or a flag) to this setting's type."""
        if raw is None or isinstance(raw, self.type):
            return raw
        try:
            if self.type is bool:
                return _parse_bool(raw)
            return self.type(raw)
        except (TypeError, ValueError) as exc:
            raise SettingsError(
                f"setting {self.name!r}: cannot read {raw!r} as {self.type.__name__}"
            ) from exc


def _parse_bool(raw: Any) -> bool:
    text = str(raw).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    raise ValueError(text)


_CORE: tuple[Setting, ...] = (
    Setting("data_dir", Path, Path(".spamledger"), "directory for chain state, IPFS repo, "
            "keystores, deployment records and databases"),
    Setting("log_level", str, "INFO", "logging level: DEBUG, INFO, WARNING, ERROR"),
    Setting("rpc_url", str, "http://127.0.0.1:8545", "EVM JSON-RPC endpoint of the chain",
            group="node"),
    Setting("chain_id", int, 31337, "chain id of the local chain (Anvil)", group="node"),
    Setting("anvil_port", int, 8545, "loopback port the local Anvil node listens on",
            group="node"),
    Setting("state_interval", int, 1, "seconds between Anvil state dumps (crash safety)",
            group="node"),
    Setting("keystore_password", str, "", "password of the keystore files "
            "(env or config file only)", group="node", secret=True),
    Setting("ipfs_api", str, "/ip4/127.0.0.1/tcp/5011/http",
            "IPFS RPC API multiaddr (js-ipfs started by the node, or a Kubo node)",
            group="ipfs"),
    Setting("ipfs_gateway_port", int, 8081, "loopback port of the local IPFS gateway",
            group="ipfs"),
    Setting("consortium_secret", str, "", "HMAC key for number keys on-chain "
            "(a consortium secret: env or config file only)", group="core", secret=True),
    Setting("database_url", str, "", "SQLAlchemy URL of the API index "
            "(default: SQLite under data_dir)", group="api"),
    Setting("api_host", str, "127.0.0.1", "address the API listens on", group="api"),
    Setting("api_port", int, 8000, "port the API listens on", group="api"),
    Setting("confirmations", int, 0, "blocks the indexer waits before indexing an event",
            group="api"),
)


def _collect() -> dict[str, Setting]:
    table: dict[str, Setting] = {}
    for setting in _CORE + tuple(_package_settings()):
        if setting.name in table:
            raise SettingsError(f"setting {setting.name!r} is declared twice")
        table[setting.name] = setting
    return table


def _package_settings() -> Iterable[Setting]:
    """Settings declared by packages in their own ``_settings.SETTINGS`` tuple.

    Each ``_settings.py`` is loaded from its file without running its package's
    ``__init__`` (which may import web3 or scikit-learn): every CLI call reads this table.
    """
    for package in ("oracle", "oracle.service", "node", "node.ipfs", "api", "spamledger.edge"):
        module = _settings_module(package)
        if module is not None:
            yield from getattr(module, "SETTINGS", ())


def _settings_module(package: str) -> Any:
    import importlib.util
    import sys

    name = f"{package}._settings"
    if name in sys.modules:
        return sys.modules[name]
    path = Path(__file__).resolve().parents[1].joinpath(*package.split("."), "_settings.py")
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None or not path.exists():
        return None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # `import oracle._settings` later finds this one
    spec.loader.exec_module(module)
    return module


SETTINGS: dict[str, Setting] = _collect()


class Settings:
    """Resolved settings; attribute access by name. Secrets are masked in ``repr``."""

    def __init__(self, values: Mapping[str, Any]):
        self._values = dict(values)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None

    def replace(self, **changes: Any) -> Settings:
        unknown = set(changes) - set(SETTINGS)
        if unknown:
            raise SettingsError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        values = dict(self._values)
        values.update({k: SETTINGS[k].parse(v) for k, v in changes.items()})
        return Settings(values)

    def as_dict(self, *, reveal_secrets: bool = False) -> dict[str, Any]:
        return {
            name: ("***" if SETTINGS[name].secret and value and not reveal_secrets else value)
            for name, value in self._values.items()
        }

    def __repr__(self) -> str:
        return f"Settings({self.as_dict()!r})"


def read_config_file(path: Path) -> dict[str, Any]:
    """Read a TOML or YAML config file; keys must all be declared settings."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise SettingsError(f"cannot read config file {path}: {exc.strerror}") from exc
    loader: Callable[[str], Any] = tomllib.loads if path.suffix == ".toml" else yaml.safe_load
    try:
        data = loader(text) or {}
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise SettingsError(f"config file {path} is not valid: {exc}") from exc
    if not isinstance(data, dict):
        raise SettingsError(f"config file {path} must hold a mapping of setting names")
    unknown = sorted(set(data) - set(SETTINGS))
    if unknown:
        raise SettingsError(f"config file {path}: unknown key(s): {', '.join(unknown)}")
    return data


def load_settings(
    config_file: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Resolve every setting: default < config file < environment < overrides."""
    environ = os.environ if environ is None else environ
    from_file = read_config_file(config_file) if config_file else {}
    values: dict[str, Any] = {}
    for name, setting in SETTINGS.items():
        raw = setting.default
        if name in from_file:
            raw = from_file[name]
        if setting.env in environ:
            raw = environ[setting.env]
        if overrides and overrides.get(name) is not None:
            raw = overrides[name]
        values[name] = setting.parse(raw)
    return Settings(values)


def add_setting_flags(parser: argparse.ArgumentParser, groups: Iterable[str],
                      default: Any = None) -> None:
    """Add one flag per (non-secret) setting of the given groups to ``parser``.

    ``default=argparse.SUPPRESS`` on a subcommand lets the same flag be given before or
    after the subcommand's name (an absent flag then leaves the parent's value alone).
    """
    wanted = set(groups)
    for setting in SETTINGS.values():
        if setting.group not in wanted or setting.secret:
            continue
        kwargs: dict[str, Any] = {"dest": setting.name, "default": default,
                                  "help": f"{setting.help} (env {setting.env}; "
                                          f"default {setting.default})"}
        if setting.type is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        else:
            kwargs["type"] = setting.type
            kwargs["metavar"] = setting.type.__name__.upper()
        parser.add_argument(setting.flag, **kwargs)


def settings_markdown() -> str:
    """The configuration table for the README, derived from :data:`SETTINGS`."""
    rows = ["| setting | env | flag | type | default | meaning |", "|---|---|---|---|---|---|"]
    for s in SETTINGS.values():
        flag = "(env/file only)" if s.secret else f"`{s.flag}`"
        default = "" if s.secret else f"`{s.default}`"
        rows.append(f"| `{s.name}` | `{s.env}` | {flag} | {s.type.__name__} | {default} "
                    f"| {s.help} |")
    return "\n".join(rows)

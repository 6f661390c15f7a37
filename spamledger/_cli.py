"""The ``spamledger`` command: one entry point, one subcommand group per package.

Each package exposes ``_cli.register(subparsers)`` which adds its group and sets
``func(settings, args) -> int`` on every leaf parser. Heavy imports (scikit-learn, web3,
FastAPI) happen inside the handlers so that ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from spamledger._errors import SpamLedgerError
from spamledger._settings import SETTINGS, Settings, load_settings

logger = logging.getLogger(__name__)

# Order is the order in `spamledger --help`.
_GROUP_MODULES = (
    "node._cli",
    "migrations._cli",
    "node._gov_cli",
    "node._dispute_cli",
    "oracle._cli",
    "api._cli",
    "spamledger.edge._cli",
    "spamledger._demo",
)


def build_parser() -> argparse.ArgumentParser:
    """The full parser: global options plus every package's subcommands."""
    parser = argparse.ArgumentParser(
        prog="spamledger",
        description="SpamLedger: a permissioned reputation ledger for phone numbers.",
    )
    parser.add_argument("--config", type=Path, default=None,
                        help="TOML or YAML config file (keys are setting names)")
    parser.add_argument("--log-level", dest="log_level", default=None,
                        help="DEBUG, INFO, WARNING or ERROR (env SPAMLEDGER_LOG_LEVEL)")
    parser.add_argument("--data-dir", dest="data_dir", type=Path, default=None,
                        help="data directory (env SPAMLEDGER_DATA_DIR; default .spamledger)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_name in _GROUP_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        module.register(sub)
    return parser


def _settings_from(args: argparse.Namespace) -> Settings:
    overrides = {name: getattr(args, name) for name in SETTINGS if hasattr(args, name)}
    return load_settings(config_file=args.config, overrides=overrides)


def configure_logging(level: str) -> None:
    """Handlers are configured here and in the server entry point only."""
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code (2 for usage errors, from argparse)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = _settings_from(args)
        configure_logging(settings.log_level)
        return int(args.func(settings, args) or 0)
    except SpamLedgerError as exc:
        print(f"spamledger: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

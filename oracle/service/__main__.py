"""``python -m oracle.service COMMAND``: the service commands without the full CLI."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from oracle.service._cli import register_service_commands
from spamledger._errors import SpamLedgerError


def main(argv: list[str] | None = None) -> int:
    from spamledger._cli import _settings_from, configure_logging

    parser = argparse.ArgumentParser(prog="python -m oracle.service")
    parser.add_argument("--config", type=Path, default=None)
    parser.add_argument("--log-level", dest="log_level", default=None)
    parser.add_argument("--data-dir", dest="data_dir", type=Path, default=None)
    register_service_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        settings = _settings_from(args)
        configure_logging(settings.log_level)
        return int(args.func(settings, args) or 0)
    except SpamLedgerError as exc:
        print(f"oracle.service: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

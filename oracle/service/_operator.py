"""Operator identity: who this oracle is and where its own files live.

Several operators run side by side on one machine (demo, tests): each has its own folder
``<data_dir>/operators/<name>/`` holding its drop folder, models and state
(outbox database, epoch tables), so two oracles never share mutable state. Its validator
keystore is ``<data_dir>/keystore/<name>.json`` (where ``spamledger node keys`` writes it).

Example::

    op = Operator.from_settings(settings)          # operator_country=US, operator_name=us
    op.state_dir / "outbox.sqlite3"
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from oracle.service._errors import OperatorError

logger = logging.getLogger(__name__)

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


@dataclass(frozen=True)
class Operator:
    """One operator's identity and folders (all paths absolute)."""

    name: str
    country: str
    keystore: Path
    drop_dir: Path
    model_dir: Path
    state_dir: Path

    @classmethod
    def create(cls, data_dir: Path, country: str, name: str = "", *,
               keystore: Path | None = None, drop_dir: Path | None = None,
               model_dir: Path | None = None) -> Operator:
        """An operator with default folders under ``data_dir/operators/<name>``."""
        country = _check_country(country)
        name = (name or country.lower()).strip()
        if not _NAME.match(name):
            raise OperatorError(f"operator name {name!r}: use 1-40 of a-z, 0-9, '-', '_'")
        root = Path(data_dir).expanduser().resolve()
        home = root / "operators" / name
        # Same place `spamledger node keys` writes keystores: data_dir/keystore/<name>.json.
        return cls(name=name, country=country,
                   keystore=_abs(keystore, root / "keystore" / f"{name}.json"),
                   drop_dir=_abs(drop_dir, home / "drop"),
                   model_dir=_abs(model_dir, home / "models"),
                   state_dir=home / "state")

    @classmethod
    def from_settings(cls, settings: Any) -> Operator:
        """The operator configured by ``operator_*`` settings."""
        if not settings.operator_country:
            raise OperatorError("no operator country: set --operator-country "
                                "(or SPAMLEDGER_OPERATOR_COUNTRY)")
        return cls.create(settings.data_dir, settings.operator_country, settings.operator_name,
                          keystore=_opt(settings.operator_keystore),
                          drop_dir=_opt(settings.operator_drop_dir),
                          model_dir=_opt(settings.operator_model_dir))

    def ensure_dirs(self) -> Operator:
        """Create the drop, model and state folders; returns ``self``."""
        for folder in (self.drop_dir, self.model_dir, self.state_dir):
            folder.mkdir(parents=True, exist_ok=True)
        return self

    @property
    def outbox_path(self) -> Path:
        return self.state_dir / "outbox.sqlite3"

    @property
    def epochs_dir(self) -> Path:
        return self.state_dir / "epochs"

    def load_account(self, password: str) -> Any:
        """The operator's validator account from its keystore (``node.load_account``)."""
        if not self.keystore.is_file():
            raise OperatorError(f"operator {self.name}: no keystore at {self.keystore} "
                                "(create one with `spamledger node keys`)")
        import node

        return node.load_account(self.keystore, password)


def _check_country(country: str) -> str:
    from spamledger._countries import is_country_code

    code = (country or "").strip().upper()
    if not is_country_code(code):
        raise OperatorError(f"operator country {country!r} is not an ISO 3166-1 alpha-2 code")
    return code


def _opt(path: Path | None) -> Path | None:
    return None if path is None or str(path) in ("", ".") else Path(path)


def _abs(path: Path | None, default: Path) -> Path:
    return default if path is None else Path(path).expanduser().resolve()

"""Operator keystores: encrypted key files (Web3 Secret Storage) created and read locally.

Keys never enter the repository. The password comes from ``SPAMLEDGER_KEYSTORE_PASSWORD`` or
from a file ``DATA_DIR/keystore/.password`` (mode 0600) that ``spamledger node keys`` creates on
first use for a local development consortium.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount

from node._errors import InvalidAddress, KeystoreError

logger = logging.getLogger(__name__)

# scrypt n=2^18 costs ~1 s and 256 MB per key; tests pass a lower work factor.
DEFAULT_SCRYPT_N = 1 << 18


def keystore_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "keystore"


def resolve_password(data_dir: Path, configured: str = "", create: bool = False) -> str:
    """The keystore password: configured (env/config) or the local password file."""
    if configured:
        return configured
    path = keystore_dir(data_dir) / ".password"
    if path.exists():
        return path.read_text().strip()
    if not create:
        raise KeystoreError(
            f"no keystore password: set SPAMLEDGER_KEYSTORE_PASSWORD or create {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_urlsafe(24))
    logger.warning("created a local keystore password file %s (development use)", path)
    return path.read_text().strip()


def create_keystore(directory: Path, name: str, password: str,
                    scrypt_n: int | None = None) -> LocalAccount:
    """Create ``directory/<name>.json`` with a fresh key; refuses to overwrite one."""
    path = Path(directory) / f"{name}.json"
    if path.exists():
        raise KeystoreError(f"keystore {path} exists; refusing to overwrite a key")
    account = Account.create()
    blob = Account.encrypt(account.key, password, kdf="scrypt",
                           iterations=scrypt_n or DEFAULT_SCRYPT_N)
    blob["name"] = name
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(blob, fh)
    logger.info("created keystore %s for %s", path, account.address)
    return account


def ensure_keystores(directory: Path, names: list[str], password: str,
                     scrypt_n: int | None = None) -> dict[str, LocalAccount]:
    """Load the named keystores, creating those that do not exist yet."""
    out = {}
    for name in names:
        path = Path(directory) / f"{name}.json"
        out[name] = (load_account(path, password) if path.exists()
                     else create_keystore(directory, name, password, scrypt_n))
    return out


def load_account(path: Path, password: str) -> LocalAccount:
    """Decrypt a keystore file; raises :class:`KeystoreError` naming the file."""
    try:
        blob = json.loads(Path(path).read_text())
    except OSError as exc:
        raise KeystoreError(f"cannot read keystore {path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise KeystoreError(f"keystore {path} is not JSON") from exc
    try:
        key = Account.decrypt(blob, password)
    except ValueError as exc:
        raise KeystoreError(f"wrong password for keystore {path}") from exc
    return Account.from_key(key)


def list_keystores(directory: Path) -> dict[str, str]:
    """``name -> address`` for every keystore in ``directory`` (no decryption)."""
    out = {}
    for path in sorted(Path(directory).glob("*.json")):
        try:
            blob = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        out[blob.get("name", path.stem)] = "0x" + str(blob.get("address", "")).removeprefix("0x")
    return out


_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


def resolve_address(directory: Path, text: str) -> str:
    """A checksummed address from ``0x…`` (40 hex digits) or a keystore name in ``directory``.

    Raises :class:`InvalidAddress` naming what was given and the keystores there are.
    """
    from eth_utils import to_checksum_address

    raw = str(text).strip()
    if _ADDRESS.match(raw):
        return str(to_checksum_address(raw))
    known = list_keystores(directory)
    if raw in known:
        return str(to_checksum_address(known[raw]))
    names = ", ".join(sorted(known)) or "none"
    raise InvalidAddress(f"{raw!r} is neither an address (0x and 40 hex digits) nor a keystore "
                         f"name in {directory} (keystores: {names})")

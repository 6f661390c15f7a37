"""API keys for the demo's three users (and the regulator's audit), stored hashed."""

from __future__ import annotations

from spamledger._settings import Settings

ROLES = {"telco": ("telco", "US"), "business": ("business", "*"),
         "regulator": ("regulator", "*")}


def create_api_keys(settings: Settings) -> dict[str, str]:
    """One key per demo user; the API database schema is created first."""
    from api._auth import create_key
    from api._db import make_engine, migrate, session_scope

    engine = make_engine(settings)
    migrate(engine)
    keys = {}
    with session_scope(engine) as session:
        for user, (role, country) in ROLES.items():
            keys[user] = create_key(session, role=role, country=country, name=f"demo {user}")
    engine.dispose()
    return keys


CONSOLE_KEYS_FILE = "console-keys.txt"


def create_console_keys(settings: Settings) -> str:
    """Console sign-in keys for every demo role, telco keys bound to the demo's operator and
    arbiter keystores; written to ``data_dir/console-keys.txt`` (mode 0600), whose path is
    returned (keys are never printed)."""
    import os

    from api._auth import create_key
    from api._db import make_engine, session_scope
    from spamledger.demo._consortium import ARBITERS, OPERATORS

    wanted = [("regulator", "regulator", "*", ""), ("business", "business", "*", "")]
    wanted += [(f"operator {cc}", "telco", cc, cc.lower()) for cc in OPERATORS]
    wanted += [(f"arbiter {cc}", "telco", cc, f"arbiter-{cc.lower()}") for cc in ARBITERS]
    engine = make_engine(settings)
    with session_scope(engine) as session:
        lines = [f"{who:12} " + create_key(session, role=role, country=cc,
                                           name=f"console {who}", signer=signer)
                 for who, role, cc, signer in wanted]
    engine.dispose()
    path = settings.data_dir / CONSOLE_KEYS_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write("# SpamLedger demo console keys (sign in at /console/ with one)\n")
        fh.write("\n".join(lines) + "\n")
    return str(path)

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

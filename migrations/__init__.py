"""Contract migrations: ordered, numbered deployment steps recorded per chain.

Steps live in ``migrations/steps/mNNN_name.py``; ``spamledger deploy`` applies those not yet
applied and records addresses, transactions, blocks and bytecode hashes in
``DATA_DIR/deployments/<chain_id>.json``. Database schema migrations (Alembic) for the API
index live in ``migrations/db``.
"""

from typing import TYPE_CHECKING

from spamledger._lazy import lazy_exports

if TYPE_CHECKING:
    from migrations._deploy import deploy, deploy_with_settings, fund_dev_accounts
    from migrations._runner import MigrationContext, discover_steps, run_migrations

# Loaded on first use (see spamledger/_lazy.py): `spamledger --help` stays fast.
__getattr__ = lazy_exports(__name__, {
    "MigrationContext": "migrations._runner",
    "deploy": "migrations._deploy",
    "deploy_with_settings": "migrations._deploy",
    "discover_steps": "migrations._runner",
    "fund_dev_accounts": "migrations._deploy",
    "run_migrations": "migrations._runner",
})

__all__ = [
    "MigrationContext",
    "deploy",
    "deploy_with_settings",
    "discover_steps",
    "fund_dev_accounts",
    "run_migrations",
]

"""Contract migrations: ordered, numbered deployment steps recorded per chain.

Steps live in ``migrations/steps/mNNN_name.py``; ``spamledger deploy`` applies those not yet
applied and records addresses, transactions, blocks and bytecode hashes in
``DATA_DIR/deployments/<chain_id>.json``. Database schema migrations (Alembic) for the API
index live in ``migrations/db``.
"""

from migrations._deploy import deploy, deploy_with_settings, fund_dev_accounts
from migrations._runner import MigrationContext, discover_steps, run_migrations

__all__ = [
    "MigrationContext",
    "deploy",
    "deploy_with_settings",
    "discover_steps",
    "fund_dev_accounts",
    "run_migrations",
]

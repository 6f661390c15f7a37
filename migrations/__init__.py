"""Contract migrations: ordered, numbered deployment steps recorded per chain.

Steps live in ``migrations/steps/mNNN_name.py``; ``spamledger deploy`` applies those not yet
applied and records addresses, transactions, blocks and bytecode hashes in
``DATA_DIR/deployments/<chain_id>.json``. ``spamledger node migrate`` deploys v2 beside a
deployment and commits the Merkle root of v1's whole history to ``LegacyArchive``
(:mod:`migrations._upgrade`, :mod:`migrations._archive`, :mod:`migrations._legacy`).
Database schema migrations (Alembic) for the API index live in ``migrations/db``.
"""

from typing import TYPE_CHECKING

from spamledger._lazy import lazy_exports

if TYPE_CHECKING:
    from migrations._archive import Archive, LeafTree, collect
    from migrations._deploy import (
        deploy,
        deploy_with_settings,
        fund_dev_accounts,
        migrate_with_settings,
    )
    from migrations._legacy import describe, legacy_trail, load_archive, prove
    from migrations._runner import MigrationContext, discover_steps, run_migrations
    from migrations._upgrade import is_migrated, migrate

# Loaded on first use (see spamledger/_lazy.py): `spamledger --help` stays fast.
__getattr__ = lazy_exports(__name__, {
    "Archive": "migrations._archive",
    "LeafTree": "migrations._archive",
    "MigrationContext": "migrations._runner",
    "collect": "migrations._archive",
    "deploy": "migrations._deploy",
    "deploy_with_settings": "migrations._deploy",
    "describe": "migrations._legacy",
    "discover_steps": "migrations._runner",
    "fund_dev_accounts": "migrations._deploy",
    "is_migrated": "migrations._upgrade",
    "legacy_trail": "migrations._legacy",
    "load_archive": "migrations._legacy",
    "migrate": "migrations._upgrade",
    "migrate_with_settings": "migrations._deploy",
    "prove": "migrations._legacy",
    "run_migrations": "migrations._runner",
})

__all__ = [
    "Archive",
    "LeafTree",
    "MigrationContext",
    "collect",
    "deploy",
    "deploy_with_settings",
    "describe",
    "discover_steps",
    "fund_dev_accounts",
    "is_migrated",
    "legacy_trail",
    "load_archive",
    "migrate",
    "migrate_with_settings",
    "prove",
    "run_migrations",
]

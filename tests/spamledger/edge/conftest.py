"""Edge tests reuse the API's end-to-end fixtures: Anvil, js-ipfs, each database, the app."""

from tests.api.conftest import (  # noqa: F401 - re-exported fixtures
    chain_app,
    db_url,
    engine,
    ipfs_node,
)

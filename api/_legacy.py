"""A number's history from before the last contract migration (v1), proven from v2.

After ``spamledger node migrate`` the live deployment is v2 and the index follows v2; the v1
trail of a number comes from the migration's archive file, and every entry of it is checked by
v2's ``LegacyArchive`` contract against the root committed on-chain (never against the file
or the index): an altered entry is served with ``proven: false`` and ``ok`` false.
"""

from __future__ import annotations

import logging
from typing import Any

from api._context import Context
from api._errors import UpstreamUnavailable
from api._indexer import _args
from api._schemas import LegacyEntry, LegacyOut
from spamledger._numbers import Number

logger = logging.getLogger(__name__)


def legacy(ctx: Context, number: Number) -> LegacyOut:
    """The number's v1 entries with their proofs and the chain's verdict on each."""
    import requests
    from web3.exceptions import Web3Exception

    key = ctx.hasher.hex(number.e164)
    try:
        return _legacy(ctx, number, key)
    except (Web3Exception, requests.RequestException, OSError) as exc:
        raise UpstreamUnavailable(f"chain failed while proving the legacy trail: "
                                  f"{type(exc).__name__}") from exc


def _legacy(ctx: Context, number: Number, key: str) -> LegacyOut:
    from migrations import describe, is_migrated, legacy_trail

    chain = ctx.chain.get()
    if not is_migrated(chain.deployment):
        return LegacyOut(number=number.e164, number_key=key, migrated=False, ok=True,
                         archive=None, entries=[])
    archive = describe(chain.w3, chain.deployment)["legacy_archive"]
    entries = [_entry(e) for e in legacy_trail(chain.w3, chain.deployment, key)]
    return LegacyOut(number=number.e164, number_key=key, migrated=True,
                     ok=all(e.proven for e in entries), archive=archive, entries=entries)


def _entry(e: dict[str, Any]) -> LegacyEntry:
    if e["kind"] == "record":
        return LegacyEntry(kind="record", args=e["record"], leaf=e["leaf"], proof=e["proof"],
                           proven=e["proven"])
    return LegacyEntry(kind="log", contract=e["contract"], event=e["event"],
                       block_number=e["block"], log_index=e["log_index"], tx_hash=e["tx_hash"],
                       args=_args(e["args"]), leaf=e["leaf"], proof=e["proof"],
                       proven=e["proven"])

"""Complaints filed through the API name their reporter by keyed hash: match them to callees.

A subscriber's complaint counts (:data:`oracle._features.VERIFIED_REPORTS`) only if the
operator's own call records show the reported number calling that subscriber. The API
never stores a reporter's number, only ``0x`` + HMAC-SHA256 of its E.164 under the
consortium secret (the same keyed hash as on-chain number keys), so the oracle hashes the
callees of the reported numbers with the same secret and puts the matching E.164 back in
``reporter_key``: the raw number was already in the operator's own CDRs, and it never
leaves the operator. Keyed reporters that match no callee stay as they are: unconfirmed.

Example::

    load_calls(con, "calls/"); load_reports(con, "reports.csv")
    resolve_keyed_reporters(con, NumberHasher(secret))   # -> number of reports matched
"""

from __future__ import annotations

import logging
from typing import Any

import duckdb
import pandas as pd

from oracle._errors import IngestError

logger = logging.getLogger(__name__)

KEYED = r"^0x[0-9a-f]{64}$"


def resolve_keyed_reporters(con: duckdb.DuckDBPyConnection, hasher: Any,
                            calls: str = "calls", reports: str = "reports") -> int:
    """Replace keyed-hash reporters by the callee number they hash from; returns matches."""
    try:
        keyed = con.execute(f"SELECT count(*) FROM {reports} WHERE "
                            f"regexp_matches(lower(reporter_key), '{KEYED}')").fetchone()
        if not keyed or not keyed[0]:
            return 0
        callees = con.execute(f"""
            SELECT DISTINCT c.callee FROM {calls} c
            WHERE c.caller IN (SELECT DISTINCT number FROM {reports}
                               WHERE regexp_matches(lower(reporter_key), '{KEYED}'))
            """).df()["callee"]
        table = pd.DataFrame({"key": [hasher.hex(n) for n in callees], "e164": callees})
        con.register("_reporter_keys", table)
        matched = con.execute(f"""SELECT count(*) FROM {reports} r JOIN _reporter_keys k
                                  ON k.key = lower(r.reporter_key)""").fetchone()
        con.execute(f"""UPDATE {reports} SET reporter_key = k.e164 FROM _reporter_keys k
                        WHERE lower({reports}.reporter_key) = k.key""")
        con.unregister("_reporter_keys")
    except duckdb.Error as exc:
        raise IngestError(f"matching keyed reporters to call records failed: {exc}") from exc
    count = int(matched[0]) if matched else 0
    logger.info("keyed reporters: %d of %d complaints matched a callee of the reported number",
                count, int(keyed[0]))
    return count

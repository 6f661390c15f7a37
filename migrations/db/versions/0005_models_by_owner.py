"""models: keyed by (model_hash, owner), rebuilt from the indexed governance events

ModelRegistry binds a model to its owner: two validators may register the same hash, and
each registration is approved and revoked on its own. The table was keyed by the hash alone,
so the second registration overwrote the first. It is now keyed by hash AND owner, and
rebuilt from ``governance_events`` (which hold every Model* event), so rows lost to the
overwrite come back.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 20:45:00
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_EVENTS = ("ModelRegistered", "ModelApprovalAdded", "ModelApproved", "ModelRevoked")


def _columns() -> list[sa.Column]:
    return [sa.Column("model_hash", sa.String(66), nullable=False),
            sa.Column("country", sa.String(8), nullable=False),
            sa.Column("owner", sa.String(42), nullable=False),
            sa.Column("metrics_cid", sa.String(128), nullable=False),
            sa.Column("status", sa.String(16), nullable=False),
            sa.Column("approvals", sa.Integer(), nullable=False),
            sa.Column("block_number", sa.BigInteger(), nullable=False),
            sa.Column("tx_hash", sa.String(66), nullable=False)]


def upgrade() -> None:
    op.drop_table("models")
    models = op.create_table("models", *_columns(),
                             sa.PrimaryKeyConstraint("model_hash", "owner"))
    rows = _replay(op.get_bind())
    if rows:
        op.bulk_insert(models, list(rows.values()))


def _replay(conn) -> dict[tuple[str, str], dict[str, object]]:
    """The models table the indexer's projection makes of the stored Model* events."""
    events = sa.table("governance_events", sa.column("event"), sa.column("args"),
                      sa.column("block_number"), sa.column("tx_hash"), sa.column("log_index"))
    query = (sa.select(events.c.event, events.c.args, events.c.block_number, events.c.tx_hash)
             .where(events.c.event.in_(_EVENTS))
             .order_by(events.c.block_number, events.c.log_index))
    rows: dict[tuple[str, str], dict[str, object]] = {}
    for event, args_json, block, tx in conn.execute(query):
        a = json.loads(args_json)
        key = (a["modelHash"], a["owner"])
        if event == "ModelRegistered":
            rows[key] = {"model_hash": key[0], "owner": key[1], "country": a["country"],
                         "metrics_cid": a["metricsCid"], "status": "pending", "approvals": 0,
                         "block_number": block, "tx_hash": tx}
            continue
        row = rows.get(key)
        if row is None:
            continue
        if "approvals" in a:
            row["approvals"] = a["approvals"]
        if event == "ModelApproved":
            row["status"] = "approved"
        elif event == "ModelRevoked":
            row["status"] = "revoked"
        row["block_number"], row["tx_hash"] = block, tx
    return rows


def downgrade() -> None:
    op.drop_table("models")
    op.create_table("models", *_columns(), sa.PrimaryKeyConstraint("model_hash"))

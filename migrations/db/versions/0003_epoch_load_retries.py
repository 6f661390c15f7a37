"""epochs: load retries (attempts, next attempt, last error); 'unreadable' epochs retried

A snapshot that could not be fetched because IPFS failed for a moment used to be marked
``unreadable`` for good. Transient failures now keep the epoch pending with a backoff, so
epochs marked ``unreadable`` by earlier versions are put back to pending: the loader tells
again whether their snapshot is really unreadable.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 14:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("epochs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("load_attempts", sa.Integer(), nullable=False,
                                      server_default="0"))
        batch_op.add_column(sa.Column("next_attempt_at", sa.Float(), nullable=False,
                                      server_default="0"))
        batch_op.add_column(sa.Column("last_error", sa.Text(), nullable=False,
                                      server_default=""))
    op.execute("UPDATE epochs SET leaves_status = '' WHERE leaves_status = 'unreadable'")


def downgrade() -> None:
    with op.batch_alter_table("epochs", schema=None) as batch_op:
        batch_op.drop_column("last_error")
        batch_op.drop_column("next_attempt_at")
        batch_op.drop_column("load_attempts")

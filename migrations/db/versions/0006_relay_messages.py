"""relay_messages: the report path's signed messages between operators (``/v1/relay``)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("relay_messages",
                    sa.Column("seq", sa.BigInteger(), nullable=False),
                    sa.Column("kind", sa.String(16), nullable=False),
                    sa.Column("sender", sa.String(42), nullable=False),
                    sa.Column("body", sa.Text(), nullable=False),
                    sa.Column("received_at", sa.Float(), nullable=False),
                    sa.PrimaryKeyConstraint("seq", "kind", "sender"))


def downgrade() -> None:
    op.drop_table("relay_messages")

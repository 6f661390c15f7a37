"""console: browser sessions, and the keystore an API key signs with in the console

A console session is created by signing in with an API key: only the SHA-256 of its cookie
token is stored, with its CSRF token and expiry. ``api_keys.signer`` names the keystore (under
``data_dir/keystore``) the console signs arbiter votes and model approvals with for that key
("" = the key cannot sign).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 17:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("signer", sa.String(64), nullable=False,
                                      server_default=""))
    op.create_table(
        "console_sessions",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("api_key_id", sa.Integer(), nullable=False, index=True),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("console_sessions")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_column("signer")

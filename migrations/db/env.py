"""Alembic environment of the API database: runs on the connection the caller passes."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from api._models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("alembic: no sqlalchemy.url configured and no connection given")
    engine = create_engine(url)
    with engine.begin() as conn:
        _run(conn)
    engine.dispose()

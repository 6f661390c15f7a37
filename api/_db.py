"""Database engine, sessions and schema migrations of the API index.

``database_url`` empty means SQLite at ``data_dir/api.db`` (the embedded default);
PostgreSQL (``postgresql+psycopg://...``) is the production database. The schema is only
ever created by the Alembic migrations in ``migrations/db`` (:func:`migrate`).

Example::

    engine = make_engine(settings)
    migrate(engine)
    with session_scope(engine) as session:
        ...
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from api._errors import StoreError

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations" / "db"


def database_url(settings) -> str:
    """The configured URL, or SQLite under ``data_dir`` when none is set."""
    if settings.database_url:
        return settings.database_url
    path = Path(settings.data_dir).resolve() / "api.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def make_engine(url_or_settings) -> Engine:
    """An engine for a URL (or settings); SQLite gets WAL and a busy timeout."""
    url = url_or_settings if isinstance(url_or_settings, str) else database_url(url_or_settings)
    try:
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
            event.listen(engine, "connect", _sqlite_pragmas)
            return engine
        return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    except (SQLAlchemyError, ImportError) as exc:
        raise StoreError(f"cannot open database {_safe(url)}: {exc}") from exc


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    # WAL lets the API read while the indexer writes; foreign processes wait, not fail.
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _safe(url: str) -> str:
    """The URL without a password, for messages and logs."""
    head, sep, tail = url.partition("@")
    if not sep or ":" not in head.split("//", 1)[-1]:
        return url
    scheme, _, cred = head.partition("//")
    return f"{scheme}//{cred.split(':', 1)[0]}:***@{tail}"


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` with the Alembic migrations (idempotent)."""
    from alembic import command
    from alembic.config import Config

    config = Config(str(MIGRATIONS_DIR / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    try:
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, revision)
    except SQLAlchemyError as exc:
        raise StoreError(f"database migration failed: {exc}") from exc
    logger.info("database schema at %s", revision)


def sessions(engine: Engine) -> sessionmaker[Session]:
    """A session factory bound to ``engine`` (objects stay readable after commit)."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(engine_or_factory) -> Iterator[Session]:
    """One transaction: committed on success, rolled back on any error."""
    factory = (engine_or_factory if isinstance(engine_or_factory, sessionmaker)
               else sessions(engine_or_factory))
    session = factory()
    try:
        yield session
        session.commit()
    except SQLAlchemyError as exc:
        session.rollback()
        raise StoreError(f"database error: {exc.__class__.__name__}") from exc
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()

"""``spamledger api ...`` (serve, migrate, index, keys) and ``spamledger audit NUMBER``."""

from __future__ import annotations

import argparse
import json
import logging
from contextlib import contextmanager
from pathlib import Path

from spamledger._settings import add_setting_flags

logger = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``api`` group and the top-level ``audit`` command."""
    api = subparsers.add_parser("api", help="the HTTP API and its chain indexer")
    sub = api.add_subparsers(dest="api_command", metavar="COMMAND", required=True)

    serve = sub.add_parser("serve", help="run the API (uvicorn workers) with the indexer")
    add_setting_flags(serve, ["api", "node", "ipfs"])
    serve.add_argument("--workers", type=int, default=None, metavar="N",
                       help="API worker processes; a dead worker is restarted (short for "
                            "--api-workers; default: the api_workers setting)")
    serve.add_argument("--no-indexer", action="store_true",
                       help="serve only; another process runs `spamledger api index` "
                            "(default: a supervised `api index` child process)")
    serve.set_defaults(func=_serve)

    migrate = sub.add_parser("migrate", help="create or upgrade the API database schema")
    add_setting_flags(migrate, ["api"])
    migrate.set_defaults(func=_migrate)

    index = sub.add_parser("index", help="index chain events into the API database")
    add_setting_flags(index, ["api", "node"])
    index.add_argument("--once", action="store_true", help="sync to the head, then exit")
    index.set_defaults(func=_index)

    keys = sub.add_parser("keys", help="API keys").add_subparsers(
        dest="keys_command", metavar="COMMAND", required=True)
    create = keys.add_parser("create", help="create a key (printed once)")
    add_setting_flags(create, ["api"])
    create.add_argument("--role", required=True, choices=("telco", "business", "regulator",
                                                          "admin"))
    create.add_argument("--country", required=True, help="ISO alpha-2 scope, or '*' for all")
    create.add_argument("--name", default="", help="who the key is for")
    create.add_argument("--signer", default="", metavar="KEYSTORE",
                        help="keystore name the web console signs arbiter votes and model "
                             "approvals with for this key (default: none)")
    create.set_defaults(func=_keys_create)
    revoke = keys.add_parser("revoke", help="revoke a key by its printed prefix")
    add_setting_flags(revoke, ["api"])
    revoke.add_argument("prefix")
    revoke.set_defaults(func=_keys_revoke)

    reports = sub.add_parser("reports", help="subscriber reports").add_subparsers(
        dest="reports_command", metavar="COMMAND", required=True)
    export = reports.add_parser("export", help="write reports as the oracle's reports table "
                                               "(CSV, data contract columns)")
    add_setting_flags(export, ["api"])
    export.add_argument("--out", type=Path, required=True, help="CSV file to write")
    export.add_argument("--since", type=float, default=0.0,
                        help="only reports received after this epoch time")
    export.set_defaults(func=_reports_export)

    audit = subparsers.add_parser("audit", help="a number's history and its verification")
    add_setting_flags(audit, ["api", "node", "ipfs"])
    audit.add_argument("number")
    audit.add_argument("--country", default=None, help="region for national-format numbers")
    audit.add_argument("--no-verify", action="store_true", help="history only")
    audit.set_defaults(func=_audit)


def _engine(settings):
    from api._db import make_engine, migrate

    engine = make_engine(settings)
    migrate(engine)
    return engine


@contextmanager
def _engine_scope(settings):
    """A migrated engine, disposed (connections closed) on exit."""
    engine = _engine(settings)
    try:
        yield engine
    finally:
        engine.dispose()


def _migrate(settings, args) -> int:
    from api._db import database_url

    with _engine_scope(settings):
        pass
    print(f"database schema up to date ({database_url(settings).split('@')[-1]})")
    return 0


def _keys_create(settings, args) -> int:
    from api._auth import create_key
    from api._db import session_scope

    with _engine_scope(settings) as engine, session_scope(engine) as session:
        key = create_key(session, role=args.role, country=args.country, name=args.name,
                         signer=args.signer)
    print(key)
    return 0


def _keys_revoke(settings, args) -> int:
    from api._auth import revoke_key
    from api._db import session_scope

    with _engine_scope(settings) as engine, session_scope(engine) as session:
        count = revoke_key(session, args.prefix)
    print(f"revoked {count} key(s)")
    return 0 if count else 1


def _index(settings, args) -> int:
    import threading

    from api._indexer import Indexer

    indexer = Indexer.from_settings(settings, _engine(settings))
    if args.once:
        result = indexer.sync()
        print(f"indexed blocks {result.from_block}..{result.to_block}: {result.events} events")
        return 0
    indexer.follow(threading.Event(), settings.index_poll_seconds, _lazy_evidence(settings))
    return 0


def _serve(settings, args) -> int:
    from api._server import serve

    with _engine_scope(settings):  # migrate once, before any worker starts
        pass
    serve(settings, workers=args.workers or settings.api_workers, indexer=not args.no_indexer)
    return 0


def _reports_export(settings, args) -> int:
    from api._reports import export_reports, quarantine_path

    quarantine = quarantine_path(args.out)
    with _engine_scope(settings) as engine:
        count = export_reports(engine, args.out, since=args.since)
    print(f"wrote {count} report(s) to {args.out}")
    if quarantine.exists():
        bad = len(quarantine.read_text().splitlines()) - 1
        print(f"{bad} report(s) could not be exported (bad timestamp): see {quarantine}")
    return 0


def _lazy_evidence(settings):
    """The evidence store for snapshot loading, connected on first use (an IPFS node that is
    down at start keeps epochs pending, retried, instead of never loading them)."""
    from api._chain import LazyEvidence

    return LazyEvidence(settings)


def _audit(settings, args) -> int:
    from api._app import create_app
    from api._audit import history, verify
    from api._legacy import legacy
    from api._reputation import parse_number

    number = parse_number(args.number, args.country)
    with _engine_scope(settings) as engine:
        ctx = create_app(settings, engine=engine, run_migrations=False).state.ctx
        with ctx.session_factory() as session:
            out = {"history": history(session, ctx, number).model_dump()}
            if not args.no_verify:
                out["verify"] = verify(ctx, number, session).model_dump()
                out["legacy"] = legacy(ctx, number).model_dump()  # v1 history, if migrated
    print(json.dumps(out, indent=2, default=str))
    ok = out.get("verify", {}).get("ok", True) and out.get("legacy", {}).get("ok", True)
    return 0 if ok else 3

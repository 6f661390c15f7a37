"""The edge sidecar: lookups from a mapped bundle over HTTP, reloaded atomically.

Endpoints (JSON)::

    GET  /v1/lookup/{number}[?country=CC]   one answer
    POST /v1/lookup   {"numbers": [...], "country": "US"}   up to edge_batch_max answers
    GET  /healthz                            scope, block, root, numbers, reloads

Every answer carries the ``block`` of the bundle that gave it. A watcher thread checks the
bundle file every ``edge_poll_seconds``: a new file (written by ``edge build``/``apply``
through a rename) is opened, its whole content checked against its root, and only then
swapped in with one reference assignment; a request holds the bundle it started with, so
none fails or mixes two files. A file that fails the check is refused and the old bundle
keeps serving. Delta files in ``--deltas DIR`` whose ``since`` equals the served block are
applied in order, written over the bundle file (atomically) and loaded the same way.

The app is raw ASGI under uvicorn (httptools): no framework work per request.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from spamledger._files import write_atomic
from spamledger.edge._bundle import Bundle
from spamledger.edge._errors import EdgeError
from spamledger.edge._format import Header, apply_delta

logger = logging.getLogger(__name__)

_JSON = [(b"content-type", b"application/json")]


class Holder:
    """The bundle being served, swapped whole on reload."""

    def __init__(self, path: Path, secret: str, deltas: Path | None = None):
        self.path, self.secret, self.deltas = Path(path), secret, deltas
        self.bundle = Bundle.open(self.path, secret, verify_root=True)
        self._stamp = self._stat()
        self.reloads = 0
        self.refused: dict[str, str] = {}
        self.loaded_at = time.time()

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def poll(self) -> bool:
        """Apply due deltas and reload a changed file; True when a new bundle is served."""
        if self.deltas is not None:
            self._apply_deltas()
        stamp = self._stat()
        if stamp is None or stamp == self._stamp:
            return False
        try:
            fresh = Bundle.open(self.path, self.secret, verify_root=True)
        except EdgeError as exc:
            if self.refused.get(str(stamp)) is None:
                logger.error("new bundle %s refused, still serving block %d: %s", self.path,
                             self.bundle.block, exc)
            self.refused[str(stamp)] = str(exc)
            return False
        old, self.bundle, self._stamp = self.bundle, fresh, stamp
        self.reloads += 1
        self.loaded_at = time.time()
        logger.info("serving %r (was block %d)", fresh, old.block)
        return True

    def _apply_deltas(self) -> None:
        assert self.deltas is not None
        for path in sorted(self.deltas.glob("*.delta")):
            if str(path) in self.refused:
                continue
            try:
                head = Header.unpack(path.read_bytes()[:128])
                if head.since != self.bundle.block:
                    continue
                merged = apply_delta(self.bundle.data, path.read_bytes())
            except (EdgeError, OSError) as exc:
                logger.error("delta %s refused: %s", path, exc)
                self.refused[str(path)] = str(exc)
                continue
            write_atomic(self.path, merged)
            logger.info("applied delta %s: block %d -> %d", path.name, head.since, head.block)
            return  # reloaded by poll(); the next delta waits for the new block


def watch(holder: Holder, stop: threading.Event, seconds: float) -> None:
    while not stop.wait(seconds):
        try:
            holder.poll()
        except Exception:  # the watcher must outlive any one bad file
            logger.exception("bundle reload failed; still serving block %d",
                             holder.bundle.block)


def make_app(holder: Holder, batch_max: int, poll_seconds: float = 0.5):
    """The ASGI app serving ``holder``'s bundle."""
    stop = threading.Event()

    async def app(scope: dict[str, Any], receive, send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send, holder, stop, poll_seconds)
            return
        status, body = await _route(scope, receive, holder, batch_max)
        headers = [*_JSON, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


async def _lifespan(receive, send, holder: Holder, stop: threading.Event,
                    seconds: float) -> None:
    thread = None
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            thread = threading.Thread(target=watch, args=(holder, stop, seconds),
                                      name="bundle-watch", daemon=True)
            thread.start()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            stop.set()
            if thread is not None:
                thread.join(timeout=5)
            await send({"type": "lifespan.shutdown.complete"})
            return


def _error(status: int, detail: str) -> tuple[int, bytes]:
    return status, json.dumps({"detail": detail}).encode()


async def _route(scope, receive, holder: Holder, batch_max: int) -> tuple[int, bytes]:
    bundle = holder.bundle  # one bundle for the whole request, whatever reloads meanwhile
    path, method = scope["path"], scope["method"]
    if path.startswith("/v1/lookup/") and method == "GET":
        number = path[len("/v1/lookup/"):]
        if not 0 < len(number) <= 64:
            return _error(422, "number must be 1 to 64 characters")
        country = _country(scope)
        answer = bundle.lookup(number, country).as_dict()
        answer["block"] = bundle.block
        return 200, json.dumps(answer).encode()
    if path == "/v1/lookup" and method == "POST":
        return await _batch(receive, bundle, batch_max)
    if path == "/healthz" and method == "GET":
        h = bundle.header
        return 200, json.dumps({"scope": h.scope, "block": h.block, "root": "0x" + h.root.hex(),
                                "numbers": h.count, "reloads": holder.reloads,
                                "loaded_at": holder.loaded_at,
                                "refused": len(holder.refused)}).encode()
    return _error(404, f"no route {method} {path}")


def _country(scope) -> str | None:
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    values = query.get("country")
    return values[0].upper()[:2] if values else None


async def _batch(receive, bundle: Bundle, batch_max: int) -> tuple[int, bytes]:
    limit = 64 + 70 * batch_max
    chunks, size, more = [], 0, True
    while more:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return _error(413, f"body exceeds {limit} bytes")
        chunks.append(chunk)
        more = message.get("more_body", False)
    try:
        body = json.loads(b"".join(chunks))
        numbers = body["numbers"]
        country = body.get("country")
        if (not isinstance(numbers, list) or not all(isinstance(n, str) and len(n) <= 64
                                                     for n in numbers)):
            raise ValueError("numbers must be a list of strings of at most 64 characters")
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        return _error(400, f"body must be {{\"numbers\": [...]}}: {exc}")
    if len(numbers) > batch_max:
        return _error(413, f"batch of {len(numbers)} numbers exceeds {batch_max}")
    answers = bundle.lookup_many(numbers, country if isinstance(country, str) else None)
    return 200, json.dumps({"block": bundle.block,
                            "results": [a.as_dict() for a in answers]}).encode()


def serve(settings, path: Path, deltas: Path | None = None) -> None:
    """Run the sidecar until interrupted (uvicorn, one process)."""
    import uvicorn

    holder = Holder(path, settings.consortium_secret, deltas)
    logger.info("serving %r on %s:%d", holder.bundle, settings.edge_host, settings.edge_port)
    app = make_app(holder, settings.edge_batch_max, settings.edge_poll_seconds)
    config = uvicorn.Config(app, host=settings.edge_host, port=settings.edge_port,
                            log_level=settings.log_level.lower(), access_log=False,
                            lifespan="on")
    uvicorn.Server(config).run()

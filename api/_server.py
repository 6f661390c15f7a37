"""Serving for real: several uvicorn workers under uvicorn's supervisor, and the indexer as
its own supervised process.

One worker that crashes (or is killed) is restarted by uvicorn's process manager while the
others keep answering; the indexer runs as ``spamledger api index`` in a child process that
:class:`Supervised` restarts with backoff whenever it exits, so neither a crash of a worker
nor of the indexer is an outage. Workers are separate interpreters, so the resolved settings
travel to them in the environment (:func:`settings_env`) and :func:`app` rebuilds them there.

Example::

    serve(settings, workers=2, indexer=True)     # blocks until SIGINT/SIGTERM
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time

from spamledger._settings import SETTINGS

logger = logging.getLogger(__name__)

INDEX_COMMAND = ("-m", "spamledger._cli", "api", "index")
RESTART_BACKOFF = (1.0, 30.0)  # first and largest delay before restarting a dead child
STEADY_SECONDS = 60.0
# Seconds a worker may take to answer the supervisor's ping (a cold start imports web3,
# pandas and the app on a busy 2-core machine; uvicorn's default of 5 s kills it mid-start).
WORKER_HEALTHCHECK = 60  # a child that ran this long restarts at the first delay again


def settings_env(settings) -> dict[str, str]:
    """Every resolved setting as its environment variable (secrets included: the children
    get them the way this process did, never on a command line)."""
    out = {}
    for name, value in settings.as_dict(reveal_secrets=True).items():
        out[SETTINGS[name].env] = "" if value is None else str(value)
    return out


def app():
    """uvicorn app factory of each worker: settings from the environment the parent set."""
    from api._app import create_app
    from spamledger._settings import load_settings

    settings = load_settings()
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s [%(process)d]: %(message)s")
    built = create_app(settings, run_migrations=False)
    _settle(built)
    return built


def _settle(app) -> None:
    """Build the reputation read model before the first request, then move everything alive
    out of the garbage collector's sight: a full collection otherwise walks every module,
    route and cached answer (about 200 ms for 250k objects on a busy 2-core machine) in the
    middle of someone's request. Frozen objects are still freed by reference counting."""
    import gc

    try:
        app.state.ctx.read_model.fresh()
    except Exception as exc:  # the database may be down: the first lookup builds it then
        logger.warning("reputation read model not built at start: %s: %s",
                       type(exc).__name__, exc)
    gc.collect()
    gc.freeze()


class Supervised:
    """A child process kept running: restarted after every exit, with doubling backoff."""

    def __init__(self, args: list[str], env: dict[str, str], name: str):
        self.args = args
        self.env = env
        self.name = name
        self.proc: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"supervise-{name}",
                                        daemon=True)

    def start(self) -> Supervised:
        self._thread.start()
        return self

    def _run(self) -> None:
        delay = RESTART_BACKOFF[0]
        while not self._stop.is_set():
            began = time.monotonic()
            self.proc = subprocess.Popen(self.args, env=self.env, stdin=subprocess.DEVNULL,
                                         preexec_fn=_die_with_parent)
            logger.info("%s started (pid %d)", self.name, self.proc.pid)
            code = self.proc.wait()
            if self._stop.is_set():
                return
            if time.monotonic() - began > STEADY_SECONDS:
                delay = RESTART_BACKOFF[0]
            logger.warning("%s (pid %d) exited with %s; restarting in %.0fs", self.name,
                           self.proc.pid, code, delay)
            self.restarts += 1
            self._stop.wait(delay)
            delay = min(delay * 2, RESTART_BACKOFF[1])

    def stop(self, timeout: float = 10.0) -> None:
        """Stop supervising and end the child (SIGTERM, then SIGKILL after ``timeout``)."""
        self._stop.set()
        proc = self.proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout)
        self._thread.join(timeout)


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the supervising thread's process dies, even by
    SIGKILL, so no indexer outlives its server (Linux ``PR_SET_PDEATHSIG``; elsewhere a
    no-op)."""
    import ctypes
    import ctypes.util
    import signal

    libc = ctypes.util.find_library("c")
    if sys.platform.startswith("linux") and libc:
        ctypes.CDLL(libc).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG = 1


def serve(settings, *, workers: int, indexer: bool) -> None:
    """Run ``workers`` API workers (and the indexer process) until interrupted."""
    import uvicorn

    env = {**os.environ, **settings_env(settings),
           SETTINGS["api_workers"].env: str(max(1, workers))}  # each worker's local share
    os.environ.update(env)  # the workers' app factory reads its settings from here
    child = (Supervised([sys.executable, *INDEX_COMMAND], env, "indexer").start()
             if indexer else None)
    try:
        uvicorn.run("api._server:app", factory=True, host=settings.api_host,
                    port=settings.api_port, workers=max(1, workers),
                    log_level=settings.log_level.lower(), access_log=False,
                    # uvicorn would believe X-Forwarded-For from 127.0.0.1 by default and
                    # rewrite the client address before our gate sees it; the one authority
                    # on proxies is api_trusted_proxies (api._proxies).
                    proxy_headers=False,
                    timeout_keep_alive=5, timeout_worker_healthcheck=WORKER_HEALTHCHECK)
    finally:
        if child is not None:
            child.stop()

"""Forks indexer runs on demand so a test can SIGKILL them mid-transaction (run as a script).

Importing web3 and the app takes seconds on a loaded machine; a run forked from this warm
process starts in milliseconds. Protocol on stdin/stdout, one line each: the test writes
``go``; the driver forks a child that opens its own engine and syncs to ``until`` with one
block per transaction, prints ``pid <child>``, then ``exit <status>`` once the child ends.
"""

from __future__ import annotations

import os
import sys


def main() -> int:
    from api import Indexer, make_engine
    from spamledger import load_settings

    settings = load_settings()
    until = int(os.environ["KILL_DRIVER_UNTIL"])
    for line in sys.stdin:
        if line.strip() != "go":
            break
        pid = os.fork()
        if pid == 0:  # the child: its own engine and connections, never the parent's
            code = 1
            try:
                engine = make_engine(settings)
                Indexer.from_settings(settings, engine).sync(until=until)
                code = 0
            finally:
                os._exit(code)
        print(f"pid {pid}", flush=True)
        _, status = os.waitpid(pid, 0)
        print(f"exit {status}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``spamledger demo``: registers the command; the work is in ``spamledger.demo``."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from spamledger._settings import Settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = sub.add_parser("demo", help="run a four-country consortium end to end (make demo)")
    demo.add_argument("--out", type=Path, default=None,
                      help="folder for the demo's chain, IPFS, data and logs (recreated; "
                      "default: <data-dir>/demo)")
    demo.add_argument("--keep", action="store_true",
                      help="leave the API, chain and IPFS running afterwards")
    demo.add_argument("--stop", action="store_true",
                      help="stop what a --keep demo left running, then exit")
    demo.add_argument("--scale", type=float, default=0.8,
                      help="simulated population size (1.0: ~2,000 subscribers a country)")
    demo.add_argument("--seed", type=int, default=7, help="simulation seed")
    demo.set_defaults(func=_demo)


def _demo(settings: Settings, args: argparse.Namespace) -> int:
    from spamledger.demo import run_demo, stop_recorded

    if args.log_level is None:
        # The progress display tells the story; library INFO lines would bury it.
        logging.getLogger().setLevel(logging.WARNING)

    # One data directory: the demo lives in its own folder under it (never the data dir
    # itself, which the demo recreates and which may hold an operator's real keystores).
    out = args.out or Path(settings.data_dir) / "demo"
    if args.stop:
        stopped = stop_recorded(settings.replace(data_dir=out.resolve()))
        print("stopped: " + (", ".join(stopped) or "nothing was running") + f" (in {out})")
        return 0
    return run_demo(settings, out_dir=out, keep=args.keep, scale=args.scale, seed=args.seed)

"""``spamledger demo``: the whole consortium working end to end on one machine."""

from spamledger.demo._runner import run_demo
from spamledger.demo._services import stop_recorded

__all__ = ["run_demo", "stop_recorded"]

"""Settings of edge bundles and the sidecar (merged into the core settings table)."""

from __future__ import annotations

from spamledger._settings import Setting

SETTINGS: tuple[Setting, ...] = (
    Setting("edge_host", str, "127.0.0.1",
            "address the edge sidecar listens on (loopback or a private interface)",
            group="edge"),
    Setting("edge_port", int, 8790, "port the edge sidecar listens on", group="edge"),
    Setting("edge_poll_seconds", float, 0.5,
            "seconds between the sidecar's checks for a new bundle file or delta", group="edge"),
    Setting("edge_batch_max", int, 100_000,
            "most numbers in one sidecar batch lookup", group="edge"),
)

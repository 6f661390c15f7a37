"""Prometheus metrics of one API app (own registry, so several apps can live in a process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Gauge, Histogram

_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class Metrics:
    """Request latency, index lag, epoch backlog and upstream health."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.latency = Histogram("spamledger_api_request_seconds", "request latency",
                                 ("method", "route", "status"), buckets=_BUCKETS,
                                 registry=self.registry)
        self.index_lag = Gauge("spamledger_index_lag_blocks",
                               "chain head minus last indexed block", registry=self.registry)
        self.indexed_block = Gauge("spamledger_index_block", "last indexed block",
                                   registry=self.registry)
        self.chain_up = Gauge("spamledger_chain_up", "1 when the chain answers",
                              registry=self.registry)
        self.ipfs_up = Gauge("spamledger_ipfs_up", "1 when IPFS answers",
                             registry=self.registry)
        self.epochs_pending = Gauge("spamledger_epochs_pending",
                                    "committed epoch snapshots whose leaves are not loaded yet",
                                    registry=self.registry)
        self.redis_up = Gauge("spamledger_redis_up",
                              "1 when the limits' Redis answers, 0 while it is down (strict "
                              "per-worker limits), -1 when none is configured",
                              registry=self.registry)
        self.limit_local_decisions = Gauge(
            "spamledger_limit_local_decisions",
            "limit decisions this worker took locally because Redis was down (since start)",
            registry=self.registry)
        self.epochs_retrying = Gauge("spamledger_epochs_retrying",
                                     "pending epochs whose last load failed transiently",
                                     registry=self.registry)

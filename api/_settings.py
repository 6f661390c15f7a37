"""Settings of the API and its indexer (merged into the core settings table)."""

from __future__ import annotations

from spamledger._settings import Setting

SETTINGS: tuple[Setting, ...] = (
    Setting("api_rate_per_minute", int, 600,
            "requests per minute each API key may make (token bucket refill)", group="api"),
    Setting("api_rate_burst", int, 100, "token bucket size per API key", group="api"),
    Setting("api_batch_max", int, 10_000, "most numbers in one batch reputation request",
            group="api"),
    Setting("api_upload_max_bytes", int, 5_000_000,
            "largest evidence file accepted with a dispute", group="api"),
    Setting("api_upload_max_files", int, 10, "most evidence files in one dispute", group="api"),
    Setting("api_reports_per_day", int, 20,
            "reports one reporter may file about numbers per day", group="api"),
    Setting("api_body_max_bytes", int, 2_000_000,
            "largest JSON request body in bytes, counted while it streams in (413 past it)",
            group="api"),
    Setting("api_json_max_depth", int, 32,
            "deepest JSON nesting accepted, checked before parsing (400 past it)", group="api"),
    Setting("api_read_timeout", float, 10.0,
            "seconds a client may pause while sending a request body (408 past it)",
            group="api"),
    Setting("api_auth_failures_per_minute", int, 30,
            "failed authentications one client address may make per minute; more get 429 "
            "without a database lookup", group="api"),
    Setting("redis_url", str, "",
            "Redis URL for rate limits and authentication throttles shared by every API "
            "worker (default: in-process, right for one worker only; while Redis is down "
            "each worker enforces its 1/api_workers share of every limit)", group="api"),
    Setting("api_workers", int, 2,
            "API worker processes `api serve` runs; while the configured Redis is down each "
            "worker allows only 1/api_workers of every shared limit", group="api"),
    Setting("api_trusted_proxies", str, "",
            "comma-separated addresses or CIDR networks of reverse proxies in front of the "
            "API; only when the direct peer is one of them is X-Forwarded-For / Forwarded "
            "read for the client address (default: none, the headers are ignored)",
            group="api"),
    Setting("api_lookups_per_day", int, 5_000_000,
            "numbers one telco or admin key may look up per UTC day (a telco's "
            "call volume fits; enumerating a country's numbers does not)", group="api"),
    Setting("api_business_lookups_per_day", int, 1000,
            "numbers one business key may look up per UTC day", group="api"),
    Setting("index_block_range", int, 500, "blocks the indexer reads per database transaction",
            group="api"),
    Setting("index_poll_seconds", float, 1.0, "seconds between indexer polls at the chain head",
            group="api"),
    Setting("index_epoch_retry_seconds", float, 5.0,
            "first delay before re-fetching an epoch snapshot after a transient IPFS or "
            "database failure (doubles per attempt, at most an hour)", group="api"),
    Setting("relayer_keystore", str, "",
            "keystore file of the relayer account the API opens disputes with "
            "(default: data_dir/keystore/relayer.json)", group="api"),
    Setting("console_session_seconds", int, 3600,
            "seconds a web console session lasts after sign-in (then the key is asked again)",
            group="api"),
    Setting("console_cookie_secure", bool, False,
            "mark the console's session cookie Secure (set it when the console is served over "
            "HTTPS; loopback HTTP needs it off)", group="api"),
)

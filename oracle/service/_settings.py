"""Settings of the oracle service (merged into the core table by ``spamledger._settings``)."""

from __future__ import annotations

from pathlib import Path

from spamledger._settings import Setting

_G = "service"

SETTINGS: tuple[Setting, ...] = (
    Setting("operator_name", str, "", "operator id; its state lives under "
            "data_dir/operators/<name> (default: the lower-cased country)", group=_G),
    Setting("operator_country", str, "", "ISO 3166-1 alpha-2 country of this operator", group=_G),
    Setting("operator_keystore", Path, Path(""), "validator keystore file "
            "(default: data_dir/keystore/<name>.json)", group=_G),
    Setting("operator_model_dir", Path, Path(""), "model directory "
            "(default: data_dir/operators/<name>/models)", group=_G),
    Setting("operator_drop_dir", Path, Path(""), "folder watched for new call/report files "
            "(default: data_dir/operators/<name>/drop)", group=_G),
    Setting("service_batch_size", int, 40, "votes per castVotes transaction", group=_G),
    Setting("service_epoch_seconds", int, 3600, "seconds between epoch snapshot commits",
            group=_G),
    Setting("service_poll_seconds", float, 5.0, "seconds between drop-folder scans "
            "in continuous mode", group=_G),
    Setting("service_retrain_seconds", int, 86400, "seconds between retrainings "
            "in continuous mode (0: never)", group=_G),
    Setting("service_retry_limit", int, 6, "attempts for a chain or IPFS call before "
            "giving up", group=_G),
    Setting("service_retry_backoff", float, 0.5, "first retry delay in seconds "
            "(doubles per attempt)", group=_G),
    Setting("service_vote_ttl", int, 3600, "seconds a signed vote stays valid (its deadline)",
            group=_G),
    Setting("service_promote_tolerance", float, 0.02, "largest drop in validation precision "
            "or recall a new model may show and still be promoted", group=_G),
    Setting("oracle_vote_path", str, "votes", "how flagged numbers reach the chain: "
            "'votes' (one Consensus round per number, each vote a transaction share) or "
            "'report' (signed observations exchanged through oracle_relay_url, one "
            "ReportConsensus report per batch; the vote path stays for keys a report skips)",
            group=_G),
    Setting("oracle_relay_url", str, "", "the report path's relay: the API's base URL "
            "(its /v1/relay endpoints); needed when oracle_vote_path is 'report'", group=_G),
    Setting("oracle_relay_api_key", str, "", "API key (telco role) the operator uses on "
            "the relay", group=_G, secret=True),
    Setting("service_cross_border_min", int, 2, "a number that called into at least this "
            "many countries is voted on per number", group=_G),
)

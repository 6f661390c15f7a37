// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title LedgerTypes
/// @notice Codes shared by every SpamLedger contract. They mirror `spamledger/_types.py`.
/// @dev Verdict: 0 unknown, 1 not_spam, 2 suspicious, 3 spam.
///      Category: 0 none, 1 robocall, 2 telemarketing, 3 scam, 4 wangiri, 5 survey,
///      6 debt_collection, 7 other. Scores are basis points 0..10000.
library LedgerTypes {
    uint8 internal constant VERDICT_UNKNOWN = 0;
    uint8 internal constant VERDICT_NOT_SPAM = 1;
    uint8 internal constant VERDICT_SUSPICIOUS = 2;
    uint8 internal constant VERDICT_SPAM = 3;

    uint8 internal constant CATEGORY_COUNT = 8;
    uint8 internal constant MAX_CATEGORY = 7;

    uint16 internal constant SCORE_SCALE = 10_000;
    uint16 internal constant BPS = 10_000;

    /// Dispute status stored in the registry record.
    uint8 internal constant DISPUTE_NONE = 0;
    uint8 internal constant DISPUTE_OPEN = 1;
    uint8 internal constant DISPUTE_UPHELD = 2;
    uint8 internal constant DISPUTE_REJECTED = 3;
    uint8 internal constant DISPUTE_EXPIRED = 4;

    /// Content identifiers (IPFS CIDs) longer than this are rejected: real CIDs are < 100 chars.
    uint256 internal constant MAX_CID_LENGTH = 128;

    /// @notice True when `c` is two upper-case ASCII letters (ISO 3166-1 alpha-2 shape).
    function isCountry(bytes2 c) internal pure returns (bool) {
        bytes1 a = c[0];
        bytes1 b = c[1];
        return a >= 0x41 && a <= 0x5A && b >= 0x41 && b <= 0x5A;
    }
}

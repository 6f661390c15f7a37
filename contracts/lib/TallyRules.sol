// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {LedgerTypes} from "./LedgerTypes.sol";

/// @title TallyRules
/// @notice The one definition of how counted votes become a verdict, shared by the vote path
///         (`Consensus`: rounds opened, voted and finalized in separate transactions) and the
///         report path (`ReportConsensus`: a round opened, voted and closed by one signed
///         report). Both keep their running sums their own way; every decision made from the
///         sums is taken here.
/// @dev All functions are internal and pure: they are inlined into each contract, so sharing
///      them costs no external call.
library TallyRules {
    /// Why a round expired (`RoundNoConsensus.reason`).
    uint8 internal constant NO_CONSENSUS_PARTICIPATION = 1;
    uint8 internal constant NO_CONSENSUS_LOCKED = 2;
    uint8 internal constant NO_CONSENSUS_COUNTRY_CONTESTED = 3;
    uint8 internal constant NO_CONSENSUS_NO_SCORES = 4;
    uint8 internal constant NO_CONSENSUS_VERDICT_SHARE = 5;

    /// @dev Per-category weights packed 28 bits each (256 x MAX_WEIGHT < 2^28), category c at
    ///      bits 28c..28c+27.
    uint256 internal constant CAT_MASK = (1 << 28) - 1;

    /// @notice The weights of a round the verdict rules read.
    struct Sums {
        uint256 participating; // counted votes, abstentions included
        uint256 scoring; // non-abstaining counted votes
        uint256 flagging; // non-abstaining counted votes with score >= suspiciousBps
        uint256 contest; // votes that signed another country than the round's
        uint256 weightedScoreSum; // sum(weight * score) over non-abstaining counted votes
    }

    /// @notice True when `weight` is at least `bps` basis points of `eligible`.
    function meets(uint256 weight, uint256 eligible, uint16 bps) internal pure returns (bool) {
        return weight * LedgerTypes.BPS >= uint256(bps) * eligible;
    }

    /// @notice Whether a vote scoring `score` flags the number (counts towards flagging weight
    ///         and the majority country) under the round country's `suspiciousBps`.
    function flags(uint16 score, uint16 suspiciousBps) internal pure returns (bool) {
        return score >= suspiciousBps;
    }

    /// @notice The weighted score: floor(sum(weight * score) / sum(weight)), scoring weight > 0.
    function weightedScore(uint256 weightedScoreSum, uint256 scoringWeight) internal pure returns (uint16) {
        return uint16(weightedScoreSum / scoringWeight);
    }

    /// @notice SPAM at or above `spamBps`, SUSPICIOUS at or above `suspiciousBps`, else NOT_SPAM.
    function verdict(uint16 score_, uint16 spamBps, uint16 suspiciousBps) internal pure returns (uint8) {
        if (score_ >= spamBps) return LedgerTypes.VERDICT_SPAM;
        if (score_ >= suspiciousBps) return LedgerTypes.VERDICT_SUSPICIOUS;
        return LedgerTypes.VERDICT_NOT_SPAM;
    }

    /// @notice Whether `country`, now at flagging weight `weight`, takes the majority from
    ///         `leader` (at `leaderWeight`): strictly more weight, so ties stay with the country
    ///         that reached the weight first.
    function takesLead(bytes2 country, uint256 weight, bytes2 leader, uint256 leaderWeight)
        internal
        pure
        returns (bool)
    {
        return country != leader && (leader == bytes2(0) || outweighs(weight, leaderWeight));
    }

    /// @notice Whether a challenger's flagging weight takes the majority from the leader's:
    ///         strictly more, so ties stay with the country that reached the weight first.
    function outweighs(uint256 weight, uint256 leaderWeight) internal pure returns (bool) {
        return weight > leaderWeight;
    }

    /// @notice 0 when the counted votes carry a verdict, else the NO_CONSENSUS_* reason:
    ///         contesting weight at least the counted weight, no vote scored, or the weight on
    ///         the verdict's side (flagging for SPAM/SUSPICIOUS, non-flagging for NOT_SPAM)
    ///         below `minVerdictShareBps` of the eligible weight.
    function noConsensus(
        Sums memory t,
        uint256 eligible,
        uint16 minVerdictShareBps,
        uint16 spamBps,
        uint16 suspiciousBps
    ) internal pure returns (uint8) {
        if (t.contest != 0 && t.contest >= t.participating) return NO_CONSENSUS_COUNTRY_CONTESTED;
        if (t.scoring == 0) return NO_CONSENSUS_NO_SCORES;
        uint8 v = verdict(weightedScore(t.weightedScoreSum, t.scoring), spamBps, suspiciousBps);
        uint256 side = v == LedgerTypes.VERDICT_NOT_SPAM ? t.scoring - t.flagging : t.flagging;
        if (!meets(side, eligible, minVerdictShareBps)) return NO_CONSENSUS_VERDICT_SHARE;
        return 0;
    }

    /// @notice The category with the largest summed weight in `packed` (ties: lowest code).
    function topCategory(uint256 packed) internal pure returns (uint8 best) {
        uint256 bestWeight;
        for (uint8 c; c < LedgerTypes.CATEGORY_COUNT; ++c) {
            uint256 x = (packed >> (28 * uint256(c))) & CAT_MASK;
            if (x > bestWeight) (best, bestWeight) = (c, x);
        }
    }
}

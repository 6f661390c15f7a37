// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title GasProbe
/// @notice Bench helper (never deployed by the migrations): the gas a contract pays to call a
///         view of another contract on-chain, cold account access and calldata copy included.
///         `bench/gas_table.py` reads it with eth_call, so it costs nothing.
contract GasProbe {
    /// @notice Gas used by `target.staticcall(data)`, whether it succeeded, and its return data.
    function measure(address target, bytes calldata data) external view returns (uint256 used, bool ok, bytes memory out) {
        uint256 before = gasleft();
        (ok, out) = target.staticcall(data);
        used = before - gasleft();
    }
}

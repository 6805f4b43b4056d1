// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Rfc9162} from "../lib/Rfc9162.sol";

/// @notice Exposes the Rfc9162 library to the cross-check tests; never deployed by the service.
contract Rfc9162Harness {
    function leafHash(bytes calldata data) external pure returns (bytes32) {
        return Rfc9162.leafHash(data);
    }

    function nodeHash(bytes32 left, bytes32 right) external pure returns (bytes32) {
        return Rfc9162.nodeHash(left, right);
    }

    function verifyInclusion(
        bytes32 leaf,
        uint256 index,
        uint256 size,
        bytes32[] calldata path,
        bytes32 root
    ) external pure returns (bool) {
        (bool ok, bytes32 computed) = Rfc9162.rootFromAuditPath(leaf, index, size, path);
        return ok && computed == root;
    }
}

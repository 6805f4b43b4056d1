// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title RFC 9162 Merkle hashing with the sha256 precompile
/// @notice The same leaf and node hashing as tsd's off-chain core, so an on-chain verifier of
/// deposit certificates stays possible.
library Rfc9162 {
    /// @notice SHA-256(0x00 || data): the hash of a leaf.
    function leafHash(bytes memory data) internal pure returns (bytes32) {
        return sha256(abi.encodePacked(bytes1(0x00), data));
    }

    /// @notice SHA-256(0x01 || left || right): the hash of an inner node.
    function nodeHash(bytes32 left, bytes32 right) internal pure returns (bytes32) {
        return sha256(abi.encodePacked(bytes1(0x01), left, right));
    }

    /// @notice Folds an audit path (RFC 9162 section 2.1.3.2) into the root it proves.
    /// @return ok False when the path does not fit `index` and `size`.
    /// @return root The computed root; meaningful only when `ok`.
    function rootFromAuditPath(
        bytes32 leaf,
        uint256 index,
        uint256 size,
        bytes32[] memory path
    ) internal pure returns (bool ok, bytes32 root) {
        if (index >= size) return (false, bytes32(0));
        uint256 fn = index;
        uint256 sn = size - 1;
        root = leaf;
        for (uint256 i = 0; i < path.length; ++i) {
            if (sn == 0) return (false, bytes32(0));
            if (fn & 1 == 1 || fn == sn) {
                root = nodeHash(path[i], root);
                while (fn & 1 == 0 && fn != 0) {
                    fn >>= 1;
                    sn >>= 1;
                }
            } else {
                root = nodeHash(root, path[i]);
            }
            fn >>= 1;
            sn >>= 1;
        }
        return (sn == 0, root);
    }
}

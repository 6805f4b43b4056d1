// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title tsd evidence registry
/// @notice Anchors Merkle roots of deposit batches and keeps the history of the certifier keys
/// that sign anchor attestations. Protocol: tsd docs/protocol.md sections 6 and 7.
interface IEvidenceRegistry {
    /// @notice What the registry knows of one anchored root; all zero for an unknown root.
    struct Anchor {
        uint64 timestamp;
        uint64 blockNumber;
        uint64 treeSize;
        uint64 batch;
    }

    /// @notice The period during which a certifier key may sign attestations.
    /// @dev `until` is zero while the key is active; both are block timestamps (seconds).
    struct CertifierPeriod {
        uint64 since;
        uint64 until;
    }

    /// @notice The root is zero.
    error ZeroRoot();
    /// @notice The tree size is zero: an empty tree is never anchored.
    error ZeroTreeSize();
    /// @notice The root was anchored before; a root is anchored once.
    error RootAlreadyAnchored(bytes32 root);
    /// @notice The certifier address is zero.
    error ZeroCertifier();
    /// @notice The key was registered before (active or retired); a key's history is never rewritten.
    error CertifierAlreadyRegistered(address certifier);
    /// @notice The key is not an active certifier.
    error CertifierNotActive(address certifier);

    /// @notice A batch root was anchored.
    event RootAnchored(bytes32 indexed root, uint64 indexed batch, uint64 treeSize, uint64 timestamp);
    /// @notice A certifier key became active at `since`.
    event CertifierAdded(address indexed certifier, uint64 since);
    /// @notice A certifier key stopped being active at `until`.
    event CertifierRetired(address indexed certifier, uint64 until);

    /// @notice Anchors the Merkle root of one batch of deposits.
    /// @dev Only ANCHORER_ROLE, only while not paused. Reverts with ZeroRoot, ZeroTreeSize or
    /// RootAlreadyAnchored. The stored timestamp is the block timestamp.
    /// @param root RFC 9162 Merkle tree head of the batch.
    /// @param treeSize Number of leaves in the batch.
    /// @param batch The service's batch number.
    function anchor(bytes32 root, uint64 treeSize, uint64 batch) external;

    /// @notice The anchor record of `root`; all fields zero when the root is unknown.
    function anchorOf(
        bytes32 root
    ) external view returns (uint64 timestamp, uint64 blockNumber, uint64 treeSize, uint64 batch);

    /// @notice Registers a certifier key, active from the current block timestamp.
    /// @dev Only the default admin. A key registered before (even retired) cannot be added again.
    function addCertifier(address certifier) external;

    /// @notice Retires an active certifier key from the current block timestamp on.
    /// @dev Only the default admin. Attestations issued before `until` stay valid.
    function retireCertifier(address certifier) external;

    /// @notice The active period of a certifier key; both zero for a key never registered.
    function certifier(address certifier) external view returns (uint64 since, uint64 until);

    /// @notice Every certifier key ever registered, in registration order.
    function certifiers() external view returns (address[] memory);
}

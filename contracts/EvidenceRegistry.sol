// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {AccessControlDefaultAdminRules} from "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {IEvidenceRegistry} from "./IEvidenceRegistry.sol";

/// @title tsd evidence registry
/// @notice Not upgradeable on purpose: certificates point at this address for years, and the
/// rules that made an anchor valid must not change under them.
contract EvidenceRegistry is IEvidenceRegistry, AccessControlDefaultAdminRules, Pausable {
    /// @notice The role allowed to anchor roots (the service's hot anchoring key).
    bytes32 public constant ANCHORER_ROLE = keccak256("ANCHORER_ROLE");

    mapping(bytes32 root => Anchor) private _anchors;
    mapping(address certifier => CertifierPeriod) private _certifiers;
    address[] private _certifierList;

    /// @param initialDelay Delay (seconds) before a default-admin transfer can be accepted.
    /// @param initialAdmin The first default admin.
    constructor(uint48 initialDelay, address initialAdmin) AccessControlDefaultAdminRules(initialDelay, initialAdmin) {}

    /// @inheritdoc IEvidenceRegistry
    function anchor(bytes32 root, uint64 treeSize, uint64 batch) external onlyRole(ANCHORER_ROLE) whenNotPaused {
        if (root == bytes32(0)) revert ZeroRoot();
        if (treeSize == 0) revert ZeroTreeSize();
        // treeSize is never zero once stored, whatever the clock says.
        if (_anchors[root].treeSize != 0) revert RootAlreadyAnchored(root);
        uint64 timestamp = _timestamp();
        _anchors[root] = Anchor({
            timestamp: timestamp,
            blockNumber: uint64(block.number),
            treeSize: treeSize,
            batch: batch
        });
        emit RootAnchored(root, batch, treeSize, timestamp);
    }

    /// @inheritdoc IEvidenceRegistry
    function anchorOf(
        bytes32 root
    ) external view returns (uint64 timestamp, uint64 blockNumber, uint64 treeSize, uint64 batch) {
        Anchor storage a = _anchors[root];
        return (a.timestamp, a.blockNumber, a.treeSize, a.batch);
    }

    /// @inheritdoc IEvidenceRegistry
    function addCertifier(address certifier_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (certifier_ == address(0)) revert ZeroCertifier();
        if (_certifiers[certifier_].since != 0) revert CertifierAlreadyRegistered(certifier_);
        uint64 since = _timestamp();
        _certifiers[certifier_] = CertifierPeriod({since: since, until: 0});
        _certifierList.push(certifier_);
        emit CertifierAdded(certifier_, since);
    }

    /// @inheritdoc IEvidenceRegistry
    function retireCertifier(address certifier_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        CertifierPeriod storage period = _certifiers[certifier_];
        if (period.since == 0 || period.until != 0) revert CertifierNotActive(certifier_);
        uint64 until = _timestamp();
        period.until = until;
        emit CertifierRetired(certifier_, until);
    }

    /// @inheritdoc IEvidenceRegistry
    function certifier(address certifier_) external view returns (uint64 since, uint64 until) {
        CertifierPeriod storage period = _certifiers[certifier_];
        return (period.since, period.until);
    }

    /// @inheritdoc IEvidenceRegistry
    function certifiers() external view returns (address[] memory) {
        return _certifierList;
    }

    /// @notice Stops anchoring; certifier management and reads go on.
    function pause() external onlyRole(DEFAULT_ADMIN_ROLE) {
        _pause();
    }

    /// @notice Resumes anchoring.
    function unpause() external onlyRole(DEFAULT_ADMIN_ROLE) {
        _unpause();
    }

    /// @dev The registry's clock; a test harness may override it.
    function _timestamp() internal view virtual returns (uint64) {
        return uint64(block.timestamp);
    }
}

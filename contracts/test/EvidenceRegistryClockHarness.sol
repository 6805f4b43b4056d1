// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {EvidenceRegistry} from "../EvidenceRegistry.sol";

/// @notice The registry with a clock the tests set, to show every stored and emitted time comes
/// from `_timestamp()`; never deployed by the service.
contract EvidenceRegistryClockHarness is EvidenceRegistry {
    uint64 private _now;

    constructor(
        uint48 initialDelay,
        address initialAdmin,
        uint64 initialNow
    ) EvidenceRegistry(initialDelay, initialAdmin) {
        _now = initialNow;
    }

    function setTimestamp(uint64 now_) external {
        _now = now_;
    }

    function _timestamp() internal view override returns (uint64) {
        return _now;
    }
}

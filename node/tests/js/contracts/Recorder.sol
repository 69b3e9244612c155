// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.28;

/// Storage that changes per block: each record() writes the value, the block it was written in
/// and a per-block history entry, and emits an event.
contract Recorder {
    uint256 public value; // slot 0
    uint256 public updatedAt; // slot 1
    mapping(uint256 => uint256) public valueAt; // slot 2: block number => value

    event Recorded(uint256 indexed blockNumber, address indexed by, uint256 value);

    function record(uint256 newValue) external {
        value = newValue;
        updatedAt = block.number;
        valueAt[block.number] = newValue;
        emit Recorded(block.number, msg.sender, newValue);
    }

    uint256 public fills; // slot 3

    /// Writes `n` fresh slots: gas grows with n, for estimateGas. The slots depend only on the
    /// number of earlier calls, so the gas is the same in whichever block the call lands.
    function fill(uint256 n) external {
        uint256 base = uint256(keccak256(abi.encode(fills++)));
        for (uint256 i = 0; i < n; i++) {
            assembly {
                sstore(add(base, i), add(i, 1))
            }
        }
    }
}

// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.28;

/// Every way a call can fail: custom errors with arguments, require messages, panics, a bare
/// revert. Plus views that read the caller's balance and the block, for state overrides.
contract Checks {
    error Unauthorized(address caller, bytes32 role);
    error TooLarge(uint256 value, uint256 limit);

    address public immutable owner;
    uint256 public stored;

    constructor() {
        owner = msg.sender;
    }

    function onlyOwner() external view returns (bool) {
        if (msg.sender != owner) revert Unauthorized(msg.sender, keccak256("OWNER"));
        return true;
    }

    function setSmall(uint256 value) external {
        if (value > 100) revert TooLarge(value, 100);
        stored = value;
    }

    function setPositive(uint256 value) external {
        require(value > 0, "value must be positive");
        stored = value;
    }

    function divide(uint256 a, uint256 b) external pure returns (uint256) {
        return a / b;
    }

    function bare() external pure {
        revert();
    }

    function callerBalance() external view returns (uint256) {
        return msg.sender.balance;
    }

    function balanceAt(address who) external view returns (uint256) {
        return who.balance;
    }
}

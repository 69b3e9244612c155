// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.28;

/// The code an EOA delegates to with EIP-7702: it runs in the EOA's context, on the EOA's
/// storage, and logs from the EOA's address.
contract Delegate {
    uint256 public count; // slot 0 of whoever runs this code

    event Pinged(address indexed self, address indexed caller, uint256 count);

    function ping() external returns (uint256) {
        count += 1;
        emit Pinged(address(this), msg.sender, count);
        return count;
    }

    function self() external view returns (address) {
        return address(this);
    }
}

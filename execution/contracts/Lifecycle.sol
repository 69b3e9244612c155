// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.28;

/// @title Child
/// @notice A small contract that Factory deploys with CREATE2 and that can self-destruct.
/// @dev It takes no constructor arguments, so its CREATE2 address depends only on the factory
/// and the salt: keccak256(0xff ++ factory ++ salt ++ keccak256(Child creation code))[12:].
/// Storage layout (checked by execution/tests/contracts.rs):
///   slot 0: creator (address; written by the constructor)
///   slot 1: value   (uint256)
contract Child {
    address public creator;
    uint256 public value;

    event Destroyed(address indexed beneficiary, uint256 amount);

    constructor() payable {
        creator = msg.sender;
    }

    receive() external payable {}

    function set(uint256 newValue) external {
        value = newValue;
    }

    /// @notice Self-destructs, sending the whole balance to `beneficiary`. Since Cancun
    /// (EIP-6780) the account is only deleted when it was created in the same transaction;
    /// otherwise only the balance moves. Callable by anyone (test contract).
    function destroy(address payable beneficiary) external {
        emit Destroyed(beneficiary, address(this).balance);
        selfdestruct(beneficiary);
    }
}

/// @title Factory
/// @notice Lifecycle operations for property tests of Parallax's executor: deterministic
/// deployment (CREATE2), self-destruct in the creating transaction (so a later transaction can
/// re-create the child at the same address), reverts, gas burning and storage writes.
/// @dev Storage layout (checked by execution/tests/contracts.rs):
///   slot 0: slots (mapping(uint256 => uint256)), written by writeSlots/revertAfterWrites
/// The factory writes no other storage, so transactions using disjoint keys do not conflict.
contract Factory {
    mapping(uint256 => uint256) public slots;

    event Deployed(bytes32 indexed salt, address child);

    /// @notice Deploys a Child with CREATE2 under `salt`, forwarding msg.value to it. Reverts
    /// with "Factory: create2 failed" when the address is taken (a live child exists there).
    function deploy(bytes32 salt) public payable returns (address child) {
        bytes memory code = type(Child).creationCode;
        assembly {
            child := create2(callvalue(), add(code, 0x20), mload(code), salt)
        }
        require(child != address(0), "Factory: create2 failed");
        emit Deployed(salt, child);
    }

    /// @notice Deploys a Child under `salt` and makes it self-destruct in the same transaction,
    /// sending msg.value on to `beneficiary`. The account is deleted (EIP-6780), so the same
    /// salt can be deployed again by a later transaction.
    function deployAndDestroy(bytes32 salt, address payable beneficiary) external payable returns (address child) {
        child = deploy(salt);
        Child(payable(child)).destroy(beneficiary);
    }

    /// @notice The address a Child deployed under `salt` has.
    function childAddress(bytes32 salt) external view returns (address) {
        bytes32 hash = keccak256(abi.encodePacked(bytes1(0xff), address(this), salt, keccak256(type(Child).creationCode)));
        return address(uint160(uint256(hash)));
    }

    /// @notice Always reverts with the reason "Factory: always reverts".
    function alwaysRevert() external pure {
        revert("Factory: always reverts");
    }

    /// @notice Sets slots[start + i] = value for i in 0..count.
    function writeSlots(uint256 start, uint256 count, uint256 value) external {
        for (uint256 i = 0; i < count; ++i) {
            slots[start + i] = value;
        }
    }

    /// @notice Writes like writeSlots(start, count, 1), then reverts with
    /// "Factory: reverted after writes", so none of the writes may persist.
    function revertAfterWrites(uint256 start, uint256 count) external {
        for (uint256 i = 0; i < count; ++i) {
            slots[start + i] = 1;
        }
        revert("Factory: reverted after writes");
    }

    /// @notice Hashes in a loop until at least `amount` gas has been used by the loop. When
    /// `amount` is more than the gas left, the call runs out of gas.
    function burnGas(uint256 amount) external view returns (bytes32 h) {
        uint256 left = gasleft();
        uint256 stop = amount >= left ? 0 : left - amount;
        h = bytes32(amount);
        while (gasleft() > stop) {
            h = keccak256(abi.encodePacked(h));
        }
    }
}

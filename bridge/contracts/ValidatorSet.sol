// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.28;

/// The validator set both bridge contracts check signatures against: each validator's
/// secp256k1 bridge address with its voting power.
///
/// Signatures are 65 bytes each (r, s, v with v 27 or 28, s in the lower half of the curve
/// order). A quorum is passed in strictly ascending order of signer address, so no signer can
/// count twice, and carries more than 2/3 of the total power.
///
/// Storage (a contract keeps one `Set` in one place; `ParallaxBridgeL2`'s is written by the
/// genesis, so this layout is part of the chain's definition): `powerOf` at the set's slot S,
/// `list` at S + 1, `totalPower` at S + 2.
library ValidatorSet {
    struct Set {
        /// Each current validator's power (0: not a validator).
        mapping(address => uint256) powerOf;
        /// The current validators, in the order they were set.
        address[] list;
        /// Sum of the current validators' power.
        uint256 totalPower;
    }

    /// secp256k1's group order halved: larger `s` values are the malleable twins of smaller ones.
    uint256 internal constant HALF_ORDER = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0;
    /// Upper bound on the set's total power, so that `3 * signedPower` cannot overflow.
    uint256 internal constant MAX_TOTAL_POWER = 2 ** 128;

    /// Reverts unless `signatures` (ascending signers, each a current validator, none twice)
    /// carry more than 2/3 of the total power over `digest`.
    function requireQuorum(Set storage set, bytes32 digest, bytes[] calldata signatures) internal view {
        uint256 signed = 0;
        address last = address(0);
        for (uint256 i = 0; i < signatures.length; i++) {
            address signer = recover(digest, signatures[i]);
            require(signer != last, "duplicate signer");
            require(signer > last, "signers not in ascending order");
            uint256 power = set.powerOf[signer];
            require(power > 0, "signer is not a validator");
            signed += power;
            last = signer;
        }
        require(3 * signed > 2 * set.totalPower, "insufficient voting power");
    }

    /// The validator who signed `digest`; reverts unless the signature is well-formed and its
    /// signer is a current validator.
    function requireValidator(Set storage set, bytes32 digest, bytes calldata signature)
        internal
        view
        returns (address signer)
    {
        signer = recover(digest, signature);
        require(set.powerOf[signer] > 0, "signer is not a validator");
    }

    /// Who signed `digest`, refusing malformed and malleable signatures.
    function recover(bytes32 digest, bytes calldata sig) internal pure returns (address signer) {
        require(sig.length == 65, "signature must be 65 bytes");
        bytes32 r = bytes32(sig[0:32]);
        bytes32 s = bytes32(sig[32:64]);
        uint8 v = uint8(sig[64]);
        require(v == 27 || v == 28, "bad signature v");
        require(uint256(s) <= HALF_ORDER, "malleable signature s");
        signer = ecrecover(digest, v, r, s);
        require(signer != address(0), "invalid signature");
    }

    /// Replaces the set.
    function replace(Set storage set, address[] memory validators, uint256[] memory powers) internal {
        require(validators.length > 0, "empty validator set");
        require(validators.length == powers.length, "validators and powers differ in length");
        for (uint256 i = 0; i < set.list.length; i++) {
            set.powerOf[set.list[i]] = 0;
        }
        uint256 total = 0;
        for (uint256 i = 0; i < validators.length; i++) {
            address v = validators[i];
            require(v != address(0), "zero validator address");
            require(set.powerOf[v] == 0, "duplicate validator");
            require(powers[i] > 0, "zero voting power");
            require(powers[i] <= MAX_TOTAL_POWER && total + powers[i] <= MAX_TOTAL_POWER, "voting power too large");
            set.powerOf[v] = powers[i];
            total += powers[i];
        }
        set.list = validators;
        set.totalPower = total;
    }

    /// The validators and their power, in the order they were set.
    function members(Set storage set) internal view returns (address[] memory addrs, uint256[] memory powers) {
        addrs = set.list;
        powers = new uint256[](addrs.length);
        for (uint256 i = 0; i < addrs.length; i++) {
            powers[i] = set.powerOf[addrs[i]];
        }
    }

    /// EIP-712 encodes an address[] as the concatenation of 32-byte words.
    function hashAddresses(address[] calldata addrs) internal pure returns (bytes32) {
        uint256[] memory words = new uint256[](addrs.length);
        for (uint256 i = 0; i < addrs.length; i++) {
            words[i] = uint256(uint160(addrs[i]));
        }
        return keccak256(abi.encodePacked(words));
    }
}

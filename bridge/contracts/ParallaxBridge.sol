// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.28;

/// The ERC-20 calls the bridge makes. Tokens that return nothing from `transfer` and
/// `transferFrom` (USDT-style) are accepted too: see `_callToken`.
interface IERC20Minimal {
    function balanceOf(address owner) external view returns (uint256);
    function transfer(address to, uint256 amount) external returns (bool);
    function transferFrom(address from, address to, uint256 amount) external returns (bool);
}

/// The Ethereum side of the Parallax bridge.
///
/// Deposits lock ETH or ERC-20 tokens here and emit `Deposit` with a gap-free nonce; Parallax's
/// validators watch these events and mint on Parallax once a deposit is deep enough.
///
/// Withdrawals go the other way: each Parallax block's withdrawals form a Merkle tree, and more
/// than 2/3 of the validators' voting power signs its root (EIP-712, `WithdrawalRoot`). Once a
/// signed root is submitted (`submitWithdrawalRoot`), anyone can release a withdrawal in it with
/// a Merkle proof (`finalizeWithdrawal`); each withdrawal id pays exactly once, and never more
/// of a token than deposits have locked.
///
/// The validator set and the pause switch change only with signatures from more than 2/3 of
/// the current set's power, over a governance nonce that each change consumes.
///
/// Signatures: 65 bytes each (r, s, v with v 27 or 28, s in the lower half of the curve order),
/// passed in strictly ascending order of signer address, so a signer cannot count twice. The
/// EIP-712 domain binds every signature to this contract, the Ethereum chain id and the
/// Parallax chain id (the domain's `salt`).
///
/// Merkle tree: a leaf is `keccak256(keccak256(abi.encode(id, l1Token, l1Recipient, amount)))`
/// (hashed twice, so no inner node can pass as a leaf); a parent is the keccak256 of its two
/// children in ascending order; an odd node out is carried up a level unchanged.
contract ParallaxBridge {
    // ---- EIP-712 ----

    bytes32 private constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract,bytes32 salt)");
    bytes32 private constant NAME_HASH = keccak256("ParallaxBridge");
    bytes32 private constant VERSION_HASH = keccak256("1");
    /// A Parallax block's withdrawal root.
    bytes32 public constant WITHDRAWAL_ROOT_TYPEHASH = keccak256("WithdrawalRoot(uint256 l2BlockNumber,bytes32 root)");
    /// A replacement validator set; `validators` and `powers` are hashed as EIP-712 arrays.
    bytes32 public constant VALIDATOR_SET_TYPEHASH =
        keccak256("ValidatorSetUpdate(uint256 nonce,address[] validators,uint256[] powers)");
    /// Pausing or unpausing the bridge.
    bytes32 public constant SET_PAUSED_TYPEHASH = keccak256("SetPaused(uint256 nonce,bool paused)");

    /// secp256k1's group order halved: larger `s` values are the malleable twins of smaller ones.
    uint256 private constant HALF_ORDER = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0;
    /// Upper bound on the set's total power, so that `3 * signedPower` cannot overflow.
    uint256 private constant MAX_TOTAL_POWER = 2 ** 128;

    // ---- state ----

    /// The Parallax chain id every signature is bound to.
    uint256 public l2ChainId;
    /// The nonce the next deposit gets (the number of deposits so far).
    uint256 public depositCount;
    /// The nonce the next validator-set update or pause must be signed over.
    uint256 public governanceNonce;
    /// While true, deposits, root submissions and withdrawals revert.
    bool public paused;
    /// Sum of the current validators' power.
    uint256 public totalPower;
    /// Each current validator's power (0: not a validator).
    mapping(address => uint256) public powerOf;
    address[] private validatorList;
    /// Attested withdrawal root of each Parallax block (zero: none).
    mapping(uint256 => bytes32) public withdrawalRoots;
    /// How much of each token (address(0): ETH) deposits have locked and withdrawals not released.
    mapping(address => uint256) public locked;
    mapping(uint256 => bool) private finalized;
    uint256 private entered;

    // ---- events ----

    /// A deposit locked `amount` (what the bridge received) of `token` (address(0): ETH).
    event Deposit(
        uint256 indexed nonce, address indexed token, address indexed from, address l2Recipient, uint256 amount
    );
    /// More than 2/3 of the validators' power attested Parallax block `l2BlockNumber`'s withdrawals.
    event WithdrawalRootAttested(uint256 indexed l2BlockNumber, bytes32 root);
    /// Withdrawal `id` paid `amount` of `token` to `recipient`.
    event WithdrawalFinalized(uint256 indexed id, address indexed token, address indexed recipient, uint256 amount);
    /// The validator set was replaced under governance nonce `nonce`.
    event ValidatorSetUpdated(uint256 indexed nonce, address[] validators, uint256[] powers);
    /// The bridge was paused or unpaused under governance nonce `nonce`.
    event PausedSet(uint256 indexed nonce, bool paused);

    // ---- modifiers ----

    modifier nonReentrant() {
        require(entered == 0, "reentrant call");
        entered = 1;
        _;
        entered = 0;
    }

    modifier whenNotPaused() {
        require(!paused, "bridge is paused");
        _;
    }

    /// Starts with the Parallax chain id and the genesis validator set (bridge addresses and
    /// voting power, as in the Parallax genesis file).
    constructor(uint256 l2ChainId_, address[] memory validators_, uint256[] memory powers_) {
        require(l2ChainId_ != 0, "l2 chain id is zero");
        l2ChainId = l2ChainId_;
        _setValidators(validators_, powers_);
    }

    // ---- deposits ----

    /// Locks the ETH sent and emits `Deposit` for `l2Recipient` on Parallax.
    function depositETH(address l2Recipient) external payable whenNotPaused nonReentrant {
        require(msg.value > 0, "zero deposit");
        require(l2Recipient != address(0), "zero recipient");
        locked[address(0)] += msg.value;
        emit Deposit(depositCount++, address(0), msg.sender, l2Recipient, msg.value);
    }

    /// Takes `amount` of `token` from the sender (who must have approved the bridge) and emits
    /// `Deposit` with the amount that actually arrived (less than `amount` for a token that
    /// charges a fee on transfer).
    function depositERC20(address token, uint256 amount, address l2Recipient) external whenNotPaused nonReentrant {
        require(token != address(0), "token is zero: use depositETH");
        require(token.code.length > 0, "token has no code");
        require(amount > 0, "zero deposit");
        require(l2Recipient != address(0), "zero recipient");
        uint256 before = IERC20Minimal(token).balanceOf(address(this));
        _callToken(token, abi.encodeCall(IERC20Minimal.transferFrom, (msg.sender, address(this), amount)));
        uint256 received = IERC20Minimal(token).balanceOf(address(this)) - before;
        require(received > 0, "nothing received");
        locked[token] += received;
        emit Deposit(depositCount++, token, msg.sender, l2Recipient, received);
    }

    // ---- withdrawals ----

    /// Records Parallax block `l2BlockNumber`'s withdrawal root, signed by more than 2/3 of the
    /// validators' power. Each block's root is recorded once.
    function submitWithdrawalRoot(uint256 l2BlockNumber, bytes32 root, bytes[] calldata signatures)
        external
        whenNotPaused
    {
        require(root != bytes32(0), "zero root");
        require(withdrawalRoots[l2BlockNumber] == bytes32(0), "root already attested");
        _requireQuorum(withdrawalRootDigest(l2BlockNumber, root), signatures);
        withdrawalRoots[l2BlockNumber] = root;
        emit WithdrawalRootAttested(l2BlockNumber, root);
    }

    /// Pays withdrawal `id` (`amount` of `l1Token`, address(0) for ETH, to `l1Recipient`),
    /// proven by `proof` against Parallax block `l2BlockNumber`'s attested root. Anyone may
    /// call it; the funds go to `l1Recipient` whoever calls.
    function finalizeWithdrawal(
        uint256 id,
        address l1Token,
        address l1Recipient,
        uint256 amount,
        uint256 l2BlockNumber,
        bytes32[] calldata proof
    ) external whenNotPaused nonReentrant {
        bytes32 root = withdrawalRoots[l2BlockNumber];
        require(root != bytes32(0), "root not attested");
        require(!finalized[id], "withdrawal already finalized");
        require(processProof(withdrawalLeaf(id, l1Token, l1Recipient, amount), proof) == root, "invalid proof");
        require(amount <= locked[l1Token], "amount exceeds locked funds");
        finalized[id] = true;
        locked[l1Token] -= amount;
        if (l1Token == address(0)) {
            (bool ok,) = l1Recipient.call{value: amount}("");
            require(ok, "ETH transfer failed");
        } else {
            _callToken(l1Token, abi.encodeCall(IERC20Minimal.transfer, (l1Recipient, amount)));
        }
        emit WithdrawalFinalized(id, l1Token, l1Recipient, amount);
    }

    /// Whether withdrawal `id` has been paid.
    function isWithdrawalFinalized(uint256 id) external view returns (bool) {
        return finalized[id];
    }

    /// The Merkle leaf of a withdrawal.
    function withdrawalLeaf(uint256 id, address l1Token, address l1Recipient, uint256 amount)
        public
        pure
        returns (bytes32)
    {
        return keccak256(bytes.concat(keccak256(abi.encode(id, l1Token, l1Recipient, amount))));
    }

    /// The root that `proof` leads to from `leaf`.
    function processProof(bytes32 leaf, bytes32[] calldata proof) public pure returns (bytes32 node) {
        node = leaf;
        for (uint256 i = 0; i < proof.length; i++) {
            bytes32 sibling = proof[i];
            node = node < sibling
                ? keccak256(abi.encodePacked(node, sibling))
                : keccak256(abi.encodePacked(sibling, node));
        }
    }

    // ---- governance ----

    /// Replaces the validator set; needs signatures from more than 2/3 of the current set's
    /// power over `ValidatorSetUpdate(governanceNonce, validators, powers)`.
    function updateValidatorSet(address[] calldata validators_, uint256[] calldata powers_, bytes[] calldata signatures)
        external
    {
        uint256 nonce = governanceNonce;
        _requireQuorum(validatorSetDigest(nonce, validators_, powers_), signatures);
        governanceNonce = nonce + 1;
        _setValidators(validators_, powers_);
        emit ValidatorSetUpdated(nonce, validators_, powers_);
    }

    /// Pauses or unpauses; needs signatures from more than 2/3 of the current set's power over
    /// `SetPaused(governanceNonce, paused)`.
    function setPaused(bool paused_, bytes[] calldata signatures) external {
        uint256 nonce = governanceNonce;
        _requireQuorum(setPausedDigest(nonce, paused_), signatures);
        governanceNonce = nonce + 1;
        paused = paused_;
        emit PausedSet(nonce, paused_);
    }

    /// The current validators and their power, in the order they were set.
    function validators() external view returns (address[] memory addrs, uint256[] memory powers) {
        addrs = validatorList;
        powers = new uint256[](addrs.length);
        for (uint256 i = 0; i < addrs.length; i++) {
            powers[i] = powerOf[addrs[i]];
        }
    }

    // ---- EIP-712 digests ----

    /// The EIP-712 domain separator: name "ParallaxBridge", version "1", this chain's id, this
    /// contract, and the Parallax chain id as the salt.
    function domainSeparator() public view returns (bytes32) {
        return keccak256(
            abi.encode(DOMAIN_TYPEHASH, NAME_HASH, VERSION_HASH, block.chainid, address(this), bytes32(l2ChainId))
        );
    }

    /// The digest validators sign to attest a Parallax block's withdrawal root.
    function withdrawalRootDigest(uint256 l2BlockNumber, bytes32 root) public view returns (bytes32) {
        return _typedDigest(keccak256(abi.encode(WITHDRAWAL_ROOT_TYPEHASH, l2BlockNumber, root)));
    }

    /// The digest the current validators sign to replace the set.
    function validatorSetDigest(uint256 nonce, address[] calldata validators_, uint256[] calldata powers_)
        public
        view
        returns (bytes32)
    {
        return _typedDigest(
            keccak256(
                abi.encode(
                    VALIDATOR_SET_TYPEHASH,
                    nonce,
                    keccak256(abi.encodePacked(_addressWords(validators_))),
                    keccak256(abi.encodePacked(powers_))
                )
            )
        );
    }

    /// The digest the current validators sign to pause or unpause.
    function setPausedDigest(uint256 nonce, bool paused_) public view returns (bytes32) {
        return _typedDigest(keccak256(abi.encode(SET_PAUSED_TYPEHASH, nonce, paused_)));
    }

    // ---- internals ----

    function _typedDigest(bytes32 structHash) private view returns (bytes32) {
        return keccak256(abi.encodePacked("\x19\x01", domainSeparator(), structHash));
    }

    /// EIP-712 encodes an address[] as the concatenation of 32-byte words.
    function _addressWords(address[] calldata addrs) private pure returns (uint256[] memory words) {
        words = new uint256[](addrs.length);
        for (uint256 i = 0; i < addrs.length; i++) {
            words[i] = uint256(uint160(addrs[i]));
        }
    }

    /// Reverts unless `signatures` (ascending signers, each a current validator, none twice)
    /// carry more than 2/3 of the total power over `digest`.
    function _requireQuorum(bytes32 digest, bytes[] calldata signatures) private view {
        uint256 signed = 0;
        address last = address(0);
        for (uint256 i = 0; i < signatures.length; i++) {
            address signer = _recover(digest, signatures[i]);
            require(signer != last, "duplicate signer");
            require(signer > last, "signers not in ascending order");
            uint256 power = powerOf[signer];
            require(power > 0, "signer is not a validator");
            signed += power;
            last = signer;
        }
        require(3 * signed > 2 * totalPower, "insufficient voting power");
    }

    function _recover(bytes32 digest, bytes calldata sig) private pure returns (address signer) {
        require(sig.length == 65, "signature must be 65 bytes");
        bytes32 r = bytes32(sig[0:32]);
        bytes32 s = bytes32(sig[32:64]);
        uint8 v = uint8(sig[64]);
        require(v == 27 || v == 28, "bad signature v");
        require(uint256(s) <= HALF_ORDER, "malleable signature s");
        signer = ecrecover(digest, v, r, s);
        require(signer != address(0), "invalid signature");
    }

    function _setValidators(address[] memory validators_, uint256[] memory powers_) private {
        require(validators_.length > 0, "empty validator set");
        require(validators_.length == powers_.length, "validators and powers differ in length");
        for (uint256 i = 0; i < validatorList.length; i++) {
            powerOf[validatorList[i]] = 0;
        }
        uint256 total = 0;
        for (uint256 i = 0; i < validators_.length; i++) {
            address v = validators_[i];
            require(v != address(0), "zero validator address");
            require(powerOf[v] == 0, "duplicate validator");
            require(powers_[i] > 0, "zero voting power");
            require(powers_[i] <= MAX_TOTAL_POWER && total + powers_[i] <= MAX_TOTAL_POWER, "voting power too large");
            powerOf[v] = powers_[i];
            total += powers_[i];
        }
        validatorList = validators_;
        totalPower = total;
    }

    /// Calls a token and reverts unless the call succeeded and returned nothing or `true`.
    function _callToken(address token, bytes memory data) private {
        (bool ok, bytes memory ret) = token.call(data);
        require(ok && (ret.length == 0 || (ret.length == 32 && abi.decode(ret, (bool)))), "token transfer failed");
    }
}

// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.28;

import {ValidatorSet} from "./ValidatorSet.sol";

/// The ERC-20 calls the bridge makes. Tokens that return nothing from `transfer` and
/// `transferFrom` (USDT-style) are accepted too: see `_callToken` and `_tryPay`.
interface IERC20Minimal {
    function balanceOf(address owner) external view returns (uint256);
    function transfer(address to, uint256 amount) external returns (bool);
    function transferFrom(address from, address to, uint256 amount) external returns (bool);
}

/// The Ethereum side of the Parallax bridge.
///
/// Deposits lock ETH or ERC-20 tokens here and emit `Deposit` with a gap-free nonce and, for a
/// token, the name, symbol and decimals the token reports (read defensively); Parallax's
/// validators watch these events and mint the bridged token on Parallax once a deposit is deep
/// enough. Parallax's own gas token never comes from here and never goes back: on Parallax, ETH
/// is a bridged ERC-20 like every other token, so everything withdrawable was deposited.
///
/// Withdrawals go the other way: each Parallax block's withdrawals form a Merkle tree, and more
/// than 2/3 of the validators' voting power signs its root (EIP-712, `WithdrawalRoot`). Once a
/// signed root is submitted (`submitWithdrawalRoot`), anyone can finalize a withdrawal in it
/// with a Merkle proof (`finalizeWithdrawal`, or many at once with `finalizeWithdrawals`):
/// - the first finalization proves it: its amount leaves `locked` (never more than is locked);
/// - if the token's rate limit for the current window would be exceeded, it is queued until
///   `releaseAt` (the validator set can cancel it meanwhile), then anyone finalizes it again;
/// - otherwise it is paid at once; a payout that fails (a recipient that refuses ETH, a token
///   that refuses the transfer) does not revert: the withdrawal is recorded as unpaid, its
///   amount `owed`, and anyone may retry `finalizeWithdrawal` later (the recipient's own retry
///   gets all the gas it sends). No withdrawal can hold up another.
///
/// The validator set, the pause switch, rate limits and cancellations change only with
/// signatures from more than 2/3 of the current set's power, over a governance nonce that each
/// change consumes. Any single validator can pause at once (`guardianPause`); only a quorum
/// unpauses.
///
/// Signatures: see `ValidatorSet`. The EIP-712 domain binds every signature to this contract,
/// the Ethereum chain id and the Parallax chain id (the domain's `salt`).
///
/// Merkle tree: a leaf is `keccak256(keccak256(abi.encode(id, l1Token, l1Recipient, amount)))`
/// (hashed twice, so no inner node can pass as a leaf); a parent is the keccak256 of its two
/// children in ascending order; an odd node out is carried up a level unchanged.
contract ParallaxBridge {
    using ValidatorSet for ValidatorSet.Set;

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
    /// Pausing or unpausing the bridge (a quorum).
    bytes32 public constant SET_PAUSED_TYPEHASH = keccak256("SetPaused(uint256 nonce,bool paused)");
    /// One validator pausing the bridge.
    bytes32 public constant GUARDIAN_PAUSE_TYPEHASH = keccak256("GuardianPause(uint256 nonce)");
    /// A token's withdrawal rate limit.
    bytes32 public constant WITHDRAWAL_LIMIT_TYPEHASH =
        keccak256("WithdrawalLimit(uint256 nonce,address token,uint256 maxPerWindow,uint256 window,uint256 delay)");
    /// Cancelling a queued withdrawal.
    bytes32 public constant CANCEL_WITHDRAWAL_TYPEHASH = keccak256("CancelWithdrawal(uint256 nonce,uint256 id)");

    /// The gas a first payout gives the recipient (ETH) or the token (ERC-20): enough for any
    /// wallet contract or token transfer, and a cap on what a hostile one makes the relayer pay.
    uint256 public constant PAYOUT_GAS = 200_000;
    /// The gas each read of a token's name, symbol or decimals may use.
    uint256 private constant METADATA_GAS = 50_000;
    /// Longest token name and symbol carried to Parallax (longer ones are cut).
    uint256 private constant MAX_NAME_BYTES = 64;
    uint256 private constant MAX_SYMBOL_BYTES = 32;
    /// The longest rate-limit window and queueing delay the validators may set.
    uint256 public constant MAX_LIMIT_PERIOD = 30 days;

    // ---- state ----

    /// A withdrawal's state on Ethereum.
    enum Status {
        /// Not finalized yet.
        None,
        /// Paid out.
        Paid,
        /// Proven, but the payout failed; `finalizeWithdrawal` retries it.
        Unpaid,
        /// Proven, above the rate limit: payable from its `releaseAt` on, unless cancelled.
        Queued,
        /// Queued, then cancelled by the validator set; never paid.
        Cancelled
    }

    /// A token's withdrawal rate limit: at most `maxPerWindow` paid per `window` seconds;
    /// withdrawals beyond it wait `delay` seconds. `maxPerWindow` zero: no limit.
    struct Limit {
        uint256 maxPerWindow;
        uint64 window;
        uint64 delay;
    }

    /// What a token's current rate-limit window has paid.
    struct Usage {
        uint256 used;
        uint64 windowStart;
    }

    /// A queued withdrawal.
    struct QueuedWithdrawal {
        address token;
        address recipient;
        uint256 amount;
        uint64 releaseAt;
    }

    /// The Parallax chain id every signature is bound to.
    uint256 public l2ChainId;
    /// The nonce the next deposit gets (the number of deposits so far).
    uint256 public depositCount;
    /// The nonce the next governance change (set update, pause, limit, cancellation) is signed over.
    uint256 public governanceNonce;
    /// While true, deposits, root submissions and withdrawals revert.
    bool public paused;
    ValidatorSet.Set private validatorSet;
    /// Attested withdrawal root of each Parallax block (zero: none).
    mapping(uint256 => bytes32) public withdrawalRoots;
    /// Per token (address(0): ETH): what deposits locked, less every withdrawal proven here.
    /// It backs the bridged supply on Parallax and the withdrawals not yet finalized.
    mapping(address => uint256) public locked;
    /// Per token: proven withdrawals not paid yet (unpaid or queued).
    mapping(address => uint256) public owed;
    /// Per token: queued withdrawals the validator set cancelled (still held here).
    mapping(address => uint256) public cancelled;
    mapping(uint256 => Status) private status;
    mapping(uint256 => QueuedWithdrawal) private queued;
    mapping(address => Limit) private limits;
    mapping(address => Usage) private usage;
    uint256 private entered;

    // ---- events ----

    /// A deposit locked `amount` (what the bridge received) of `token` (address(0): ETH).
    /// `metadata` is `abi.encode(string name, string symbol, uint8 decimals)` as the token
    /// reports them (empty strings where it does not, decimals 18 where it does not; names cut
    /// to 64 bytes, symbols to 32, bytes outside printable ASCII replaced by '?'); empty for ETH.
    event Deposit(
        uint256 indexed nonce,
        address indexed token,
        address indexed from,
        address l2Recipient,
        uint256 amount,
        bytes metadata
    );
    /// More than 2/3 of the validators' power attested Parallax block `l2BlockNumber`'s withdrawals.
    event WithdrawalRootAttested(uint256 indexed l2BlockNumber, bytes32 root);
    /// Withdrawal `id` paid `amount` of `token` to `recipient`.
    event WithdrawalFinalized(uint256 indexed id, address indexed token, address indexed recipient, uint256 amount);
    /// Withdrawal `id` is proven but its payout failed; retrying `finalizeWithdrawal` pays it.
    event WithdrawalPayoutFailed(uint256 indexed id, address indexed token, address indexed recipient, uint256 amount);
    /// Withdrawal `id` is proven but above its token's rate limit: payable from `releaseAt`.
    event WithdrawalQueued(
        uint256 indexed id, address indexed token, address indexed recipient, uint256 amount, uint256 releaseAt
    );
    /// The validator set cancelled queued withdrawal `id` under governance nonce `nonce`.
    event WithdrawalCancelled(uint256 indexed nonce, uint256 indexed id);
    /// A token's rate limit was set under governance nonce `nonce`.
    event WithdrawalLimitSet(
        uint256 indexed nonce, address indexed token, uint256 maxPerWindow, uint256 window, uint256 delay
    );
    /// The validator set was replaced under governance nonce `nonce`.
    event ValidatorSetUpdated(uint256 indexed nonce, address[] validators, uint256[] powers);
    /// The bridge was paused or unpaused by a quorum under governance nonce `nonce`.
    event PausedSet(uint256 indexed nonce, bool paused);
    /// Validator `guardian` paused the bridge on its own.
    event GuardianPaused(address indexed guardian, uint256 nonce);

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
        validatorSet.replace(validators_, powers_);
    }

    // ---- deposits ----

    /// Locks the ETH sent and emits `Deposit` for `l2Recipient` on Parallax, where it arrives
    /// as the bridged ETH token.
    function depositETH(address l2Recipient) external payable whenNotPaused nonReentrant {
        require(msg.value > 0, "zero deposit");
        require(l2Recipient != address(0), "zero recipient");
        _lock(address(0), msg.value);
        emit Deposit(depositCount++, address(0), msg.sender, l2Recipient, msg.value, "");
    }

    /// Takes `amount` of `token` from the sender (who must have approved the bridge) and emits
    /// `Deposit` with the amount that actually arrived (less than `amount` for a token that
    /// charges a fee on transfer) and the token's metadata.
    function depositERC20(address token, uint256 amount, address l2Recipient) external whenNotPaused nonReentrant {
        require(token != address(0), "token is zero: use depositETH");
        require(token.code.length > 0, "token has no code");
        require(amount > 0, "zero deposit");
        require(l2Recipient != address(0), "zero recipient");
        uint256 before = IERC20Minimal(token).balanceOf(address(this));
        _callToken(token, abi.encodeCall(IERC20Minimal.transferFrom, (msg.sender, address(this), amount)));
        uint256 afterwards = IERC20Minimal(token).balanceOf(address(this));
        require(afterwards > before, "nothing received");
        uint256 received = afterwards - before;
        _lock(token, received);
        emit Deposit(depositCount++, token, msg.sender, l2Recipient, received, tokenMetadata(token));
    }

    /// What a deposit of `token` carries to Parallax: `abi.encode(name, symbol, decimals)` as
    /// the token reports them (see `Deposit`).
    function tokenMetadata(address token) public view returns (bytes memory) {
        return abi.encode(
            _readString(token, 0x06fdde03, MAX_NAME_BYTES), // name()
            _readString(token, 0x95d89b41, MAX_SYMBOL_BYTES), // symbol()
            _readDecimals(token)
        );
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
        validatorSet.requireQuorum(withdrawalRootDigest(l2BlockNumber, root), signatures);
        withdrawalRoots[l2BlockNumber] = root;
        emit WithdrawalRootAttested(l2BlockNumber, root);
    }

    /// Finalizes withdrawal `id` (`amount` of `l1Token`, address(0) for ETH, to `l1Recipient`),
    /// proven by `proof` against Parallax block `l2BlockNumber`'s attested root: pays it, queues
    /// it (above the rate limit) or records it unpaid (the payout failed). Called again, it
    /// pays a queued withdrawal once released, and retries an unpaid one (reverting if the
    /// payout fails again). Anyone may call it; the funds go to `l1Recipient` whoever calls.
    function finalizeWithdrawal(
        uint256 id,
        address l1Token,
        address l1Recipient,
        uint256 amount,
        uint256 l2BlockNumber,
        bytes32[] calldata proof
    ) external whenNotPaused nonReentrant {
        _finalize(WithdrawalProof(id, l1Token, l1Recipient, amount, l2BlockNumber, proof), true);
    }

    /// One withdrawal with its proof, for `finalizeWithdrawals`.
    struct WithdrawalProof {
        uint256 id;
        address l1Token;
        address l1Recipient;
        uint256 amount;
        uint256 l2BlockNumber;
        bytes32[] proof;
    }

    /// Finalizes many withdrawals in one transaction (a relayer's batch). Each is proven as by
    /// `finalizeWithdrawal`; those with nothing to do now (paid, still queued, cancelled, or
    /// unpaid: retried only one by one) are skipped rather than reverting the batch.
    function finalizeWithdrawals(WithdrawalProof[] calldata withdrawals) external whenNotPaused nonReentrant {
        for (uint256 i = 0; i < withdrawals.length; i++) {
            _finalize(withdrawals[i], false);
        }
    }

    /// Whether withdrawal `id` has been paid.
    function isWithdrawalFinalized(uint256 id) external view returns (bool) {
        return status[id] == Status.Paid;
    }

    /// Withdrawal `id`'s state (`Status`) and, when queued, when it is released.
    function withdrawalStatus(uint256 id) external view returns (uint8 state, uint256 releaseAt) {
        return (uint8(status[id]), queued[id].releaseAt);
    }

    /// `token`'s rate limit and what its current window has used.
    function withdrawalLimit(address token)
        external
        view
        returns (uint256 maxPerWindow, uint256 window, uint256 delay, uint256 used, uint256 windowStart)
    {
        Limit memory l = limits[token];
        Usage memory u = usage[token];
        return (l.maxPerWindow, l.window, l.delay, u.used, u.windowStart);
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
        validatorSet.requireQuorum(validatorSetDigest(nonce, validators_, powers_), signatures);
        governanceNonce = nonce + 1;
        validatorSet.replace(validators_, powers_);
        emit ValidatorSetUpdated(nonce, validators_, powers_);
    }

    /// Pauses or unpauses; needs signatures from more than 2/3 of the current set's power over
    /// `SetPaused(governanceNonce, paused)`.
    function setPaused(bool paused_, bytes[] calldata signatures) external {
        uint256 nonce = governanceNonce;
        validatorSet.requireQuorum(setPausedDigest(nonce, paused_), signatures);
        governanceNonce = nonce + 1;
        paused = paused_;
        emit PausedSet(nonce, paused_);
    }

    /// Pauses at once on one validator's signature over `GuardianPause(governanceNonce)`
    /// (anyone may send it). It consumes no nonce, so it cannot void a quorum's pending
    /// signatures; unpausing (`setPaused(false)`) consumes one, so an old pause signature cannot
    /// pause again.
    function guardianPause(bytes calldata signature) external {
        uint256 nonce = governanceNonce;
        address guardian = validatorSet.requireValidator(guardianPauseDigest(nonce), signature);
        if (!paused) {
            paused = true;
            emit GuardianPaused(guardian, nonce);
        }
    }

    /// Sets `token`'s withdrawal rate limit (`maxPerWindow` zero: none); needs signatures from
    /// more than 2/3 of the current set's power over `WithdrawalLimit(governanceNonce, …)`.
    /// The current window starts over.
    function setWithdrawalLimit(
        address token,
        uint256 maxPerWindow,
        uint256 window,
        uint256 delay,
        bytes[] calldata signatures
    ) external {
        require(window <= MAX_LIMIT_PERIOD && delay <= MAX_LIMIT_PERIOD, "limit period too long");
        require(maxPerWindow == 0 || window > 0, "a limit needs a window");
        uint256 nonce = governanceNonce;
        validatorSet.requireQuorum(withdrawalLimitDigest(nonce, token, maxPerWindow, window, delay), signatures);
        governanceNonce = nonce + 1;
        limits[token] = Limit(maxPerWindow, uint64(window), uint64(delay));
        usage[token] = Usage(0, uint64(block.timestamp));
        emit WithdrawalLimitSet(nonce, token, maxPerWindow, window, delay);
    }

    /// Cancels queued withdrawal `id` (it is never paid; its funds stay here, counted in
    /// `cancelled`); needs signatures from more than 2/3 of the current set's power over
    /// `CancelWithdrawal(governanceNonce, id)`.
    function cancelWithdrawal(uint256 id, bytes[] calldata signatures) external {
        require(status[id] == Status.Queued, "withdrawal is not queued");
        uint256 nonce = governanceNonce;
        validatorSet.requireQuorum(cancelWithdrawalDigest(nonce, id), signatures);
        governanceNonce = nonce + 1;
        QueuedWithdrawal memory q = queued[id];
        status[id] = Status.Cancelled;
        owed[q.token] -= q.amount;
        cancelled[q.token] += q.amount;
        emit WithdrawalCancelled(nonce, id);
    }

    /// The current validators and their power, in the order they were set.
    function validators() external view returns (address[] memory addrs, uint256[] memory powers) {
        return validatorSet.members();
    }

    /// Sum of the current validators' power.
    function totalPower() external view returns (uint256) {
        return validatorSet.totalPower;
    }

    /// A validator's power (0: not a validator).
    function powerOf(address validator) external view returns (uint256) {
        return validatorSet.powerOf[validator];
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
                    ValidatorSet.hashAddresses(validators_),
                    keccak256(abi.encodePacked(powers_))
                )
            )
        );
    }

    /// The digest the current validators sign to pause or unpause.
    function setPausedDigest(uint256 nonce, bool paused_) public view returns (bytes32) {
        return _typedDigest(keccak256(abi.encode(SET_PAUSED_TYPEHASH, nonce, paused_)));
    }

    /// The digest one validator signs to pause.
    function guardianPauseDigest(uint256 nonce) public view returns (bytes32) {
        return _typedDigest(keccak256(abi.encode(GUARDIAN_PAUSE_TYPEHASH, nonce)));
    }

    /// The digest the current validators sign to set a token's rate limit.
    function withdrawalLimitDigest(uint256 nonce, address token, uint256 maxPerWindow, uint256 window, uint256 delay)
        public
        view
        returns (bytes32)
    {
        return _typedDigest(keccak256(abi.encode(WITHDRAWAL_LIMIT_TYPEHASH, nonce, token, maxPerWindow, window, delay)));
    }

    /// The digest the current validators sign to cancel a queued withdrawal.
    function cancelWithdrawalDigest(uint256 nonce, uint256 id) public view returns (bytes32) {
        return _typedDigest(keccak256(abi.encode(CANCEL_WITHDRAWAL_TYPEHASH, nonce, id)));
    }

    // ---- internals ----

    function _typedDigest(bytes32 structHash) private view returns (bytes32) {
        return keccak256(abi.encodePacked("\x19\x01", domainSeparator(), structHash));
    }

    function _lock(address token, uint256 amount) private {
        require(amount <= type(uint256).max - locked[token] - owed[token], "deposit would overflow the locked amount");
        locked[token] += amount;
    }

    /// Proves, pays, queues or retries one withdrawal. `strict`: revert when there is nothing
    /// to do now (a single call); otherwise skip it (a batch).
    function _finalize(WithdrawalProof memory w, bool strict) private {
        bytes32 root = withdrawalRoots[w.l2BlockNumber];
        require(root != bytes32(0), "root not attested");
        require(
            processProofMemory(withdrawalLeaf(w.id, w.l1Token, w.l1Recipient, w.amount), w.proof) == root,
            "invalid proof"
        );
        Status s = status[w.id];
        if (s == Status.None) {
            require(w.amount <= locked[w.l1Token], "amount exceeds locked funds");
            locked[w.l1Token] -= w.amount;
            owed[w.l1Token] += w.amount;
            uint64 releaseAt = _queueTime(w.l1Token, w.amount);
            if (releaseAt != 0) {
                status[w.id] = Status.Queued;
                queued[w.id] = QueuedWithdrawal(w.l1Token, w.l1Recipient, w.amount, releaseAt);
                emit WithdrawalQueued(w.id, w.l1Token, w.l1Recipient, w.amount, releaseAt);
                return;
            }
            _payOrRecord(w, PAYOUT_GAS);
        } else if (s == Status.Queued) {
            uint64 releaseAt = queued[w.id].releaseAt;
            if (block.timestamp < releaseAt) {
                require(!strict, "withdrawal is queued until its release time");
                return;
            }
            _payOrRecord(w, PAYOUT_GAS);
        } else if (s == Status.Unpaid) {
            if (!strict) return;
            // A retry: everything the caller sent goes to the payout, and a failure reverts.
            uint256 reserve = 40_000;
            require(gasleft() > reserve, "not enough gas for the payout");
            require(_tryPay(w.l1Token, w.l1Recipient, w.amount, gasleft() - reserve), "payout failed again");
            owed[w.l1Token] -= w.amount;
            status[w.id] = Status.Paid;
            emit WithdrawalFinalized(w.id, w.l1Token, w.l1Recipient, w.amount);
        } else {
            require(!strict, s == Status.Paid ? "withdrawal already finalized" : "withdrawal was cancelled");
        }
    }

    /// Pays a proven withdrawal (its amount counted in `owed`) or records it unpaid.
    function _payOrRecord(WithdrawalProof memory w, uint256 gasLimit) private {
        // The payout must get all its gas: a caller must not make it fail by sending too little.
        require(gasleft() >= (gasLimit * 64) / 63 + 60_000, "not enough gas for the payout");
        if (_tryPay(w.l1Token, w.l1Recipient, w.amount, gasLimit)) {
            owed[w.l1Token] -= w.amount;
            status[w.id] = Status.Paid;
            emit WithdrawalFinalized(w.id, w.l1Token, w.l1Recipient, w.amount);
        } else {
            status[w.id] = Status.Unpaid;
            emit WithdrawalPayoutFailed(w.id, w.l1Token, w.l1Recipient, w.amount);
        }
    }

    /// When a withdrawal of `amount` above `token`'s rate limit is released (0: it is within the
    /// limit, which it now uses).
    function _queueTime(address token, uint256 amount) private returns (uint64) {
        Limit memory l = limits[token];
        if (l.maxPerWindow == 0) return 0;
        Usage storage u = usage[token];
        if (block.timestamp >= uint256(u.windowStart) + l.window) {
            u.windowStart = uint64(block.timestamp);
            u.used = 0;
        }
        if (amount <= l.maxPerWindow - u.used) {
            u.used += amount;
            return 0;
        }
        return uint64(block.timestamp) + l.delay;
    }

    function processProofMemory(bytes32 leaf, bytes32[] memory proof) private pure returns (bytes32 node) {
        node = leaf;
        for (uint256 i = 0; i < proof.length; i++) {
            bytes32 sibling = proof[i];
            node = node < sibling
                ? keccak256(abi.encodePacked(node, sibling))
                : keccak256(abi.encodePacked(sibling, node));
        }
    }

    /// Sends `amount` of `token` (address(0): ETH) to `to`, giving the recipient or the token at
    /// most `gasLimit` gas; whether it arrived. At most 32 bytes of what the call returns are
    /// copied, so a hostile recipient cannot make the caller pay for a huge return.
    function _tryPay(address token, address to, uint256 amount, uint256 gasLimit) private returns (bool ok) {
        if (token == address(0)) {
            assembly {
                ok := call(gasLimit, to, amount, 0, 0, 0, 0)
            }
            return ok;
        }
        if (token.code.length == 0) return false;
        bytes memory data = abi.encodeCall(IERC20Minimal.transfer, (to, amount));
        uint256 size;
        uint256 word;
        assembly {
            ok := call(gasLimit, token, 0, add(data, 32), mload(data), 0, 32)
            size := returndatasize()
            word := mload(0)
        }
        return ok && (size == 0 || (size >= 32 && word == 1));
    }

    /// Calls a token and reverts unless the call succeeded and returned nothing or `true`.
    function _callToken(address token, bytes memory data) private {
        (bool ok, bytes memory ret) = token.call(data);
        require(ok && (ret.length == 0 || (ret.length == 32 && abi.decode(ret, (bool)))), "token transfer failed");
    }

    /// A string a token reports (`string` or `bytes32` return), cut to `maxLen` bytes, with
    /// bytes outside printable ASCII replaced by '?'; empty when the call fails or its answer
    /// does not decode.
    function _readString(address token, bytes4 selector, uint256 maxLen) private view returns (string memory) {
        bool ok;
        uint256 size;
        assembly {
            mstore(0, selector)
            ok := staticcall(METADATA_GAS, token, 0, 4, 0, 0)
            size := returndatasize()
        }
        if (!ok) return "";
        bytes memory raw;
        if (size == 32) {
            bytes32 word;
            assembly {
                returndatacopy(0, 0, 32)
                word := mload(0)
            }
            uint256 n = 0;
            while (n < 32 && word[n] != 0) n++;
            if (n > maxLen) n = maxLen;
            raw = new bytes(n);
            for (uint256 i = 0; i < n; i++) raw[i] = word[i];
        } else if (size >= 64) {
            uint256 offset;
            uint256 len;
            assembly {
                returndatacopy(0, 0, 64)
                offset := mload(0)
                len := mload(32)
            }
            if (offset != 32 || len > size - 64) return "";
            if (len > maxLen) len = maxLen;
            raw = new bytes(len);
            assembly {
                returndatacopy(add(raw, 32), 64, len)
            }
        } else {
            return "";
        }
        for (uint256 i = 0; i < raw.length; i++) {
            if (raw[i] < 0x20 || raw[i] > 0x7e) raw[i] = "?";
        }
        return string(raw);
    }

    /// The decimals a token reports; 18 when it does not answer or answers above 255.
    function _readDecimals(address token) private view returns (uint8) {
        bool ok;
        uint256 size;
        uint256 value;
        assembly {
            mstore(0, 0x313ce56700000000000000000000000000000000000000000000000000000000) // decimals()
            ok := staticcall(METADATA_GAS, token, 0, 4, 0, 0)
            size := returndatasize()
            if and(ok, gt(size, 31)) {
                returndatacopy(0, 0, 32)
                value := mload(0)
            }
        }
        if (!ok || size < 32 || value > 255) return 18;
        return uint8(value);
    }
}

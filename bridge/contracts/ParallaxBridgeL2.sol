// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.28;

import {ValidatorSet} from "./ValidatorSet.sol";

/// The ERC-20 that stands for one Ethereum asset on Parallax (an L1 token, or ETH itself for
/// `l1Token` zero). Only the bridge that created it mints (deposits) and burns (withdrawals);
/// it needs no approval to burn, since a withdrawal is its holder's own call to the bridge.
/// Its name, symbol and decimals are the L1 token's, set once by the bridge when it creates it.
contract BridgedToken {
    string public name;
    string public symbol;
    uint8 public decimals;
    /// The bridge that mints and burns.
    address public bridge;
    /// The Ethereum token this one stands for (address(0): ETH).
    address public l1Token;
    uint256 public totalSupply;
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;
    bool private initialized;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    /// Only the L1 token is a constructor argument, so the token's address follows from it alone
    /// (`ParallaxBridgeL2.l2TokenFor`); the metadata comes in `initialize`.
    constructor(address l1Token_) {
        bridge = msg.sender;
        l1Token = l1Token_;
    }

    modifier onlyBridge() {
        require(msg.sender == bridge, "only the bridge");
        _;
    }

    /// Sets the name, symbol and decimals, once.
    function initialize(string calldata name_, string calldata symbol_, uint8 decimals_) external onlyBridge {
        require(!initialized, "already initialized");
        initialized = true;
        name = name_;
        symbol = symbol_;
        decimals = decimals_;
    }

    /// Creates `amount` for `to` (a finalized deposit).
    function mint(address to, uint256 amount) external onlyBridge {
        totalSupply += amount;
        balanceOf[to] += amount;
        emit Transfer(address(0), to, amount);
    }

    /// Destroys `amount` of `from`'s tokens (a withdrawal `from` asked for).
    function burn(address from, uint256 amount) external onlyBridge {
        require(balanceOf[from] >= amount, "burn exceeds balance");
        balanceOf[from] -= amount;
        totalSupply -= amount;
        emit Transfer(from, address(0), amount);
    }

    function approve(address spender, uint256 amount) external returns (bool) {
        allowance[msg.sender][spender] = amount;
        emit Approval(msg.sender, spender, amount);
        return true;
    }

    function transfer(address to, uint256 amount) external returns (bool) {
        _transfer(msg.sender, to, amount);
        return true;
    }

    function transferFrom(address from, address to, uint256 amount) external returns (bool) {
        uint256 allowed = allowance[from][msg.sender];
        if (allowed != type(uint256).max) {
            require(allowed >= amount, "insufficient allowance");
            allowance[from][msg.sender] = allowed - amount;
        }
        _transfer(from, to, amount);
        return true;
    }

    function _transfer(address from, address to, uint256 amount) private {
        require(to != address(0), "transfer to zero");
        require(balanceOf[from] >= amount, "insufficient balance");
        balanceOf[from] -= amount;
        balanceOf[to] += amount;
        emit Transfer(from, to, amount);
    }
}

/// The Parallax side of the bridge, predeployed in genesis at
/// 0x0000000000000000000000000000000000b41d9e (it has no constructor: the genesis writes its
/// validator set into storage, see below).
///
/// Backing: Parallax's gas token is its own asset, never bridged. Every Ethereum asset,
/// ETH included, exists on Parallax only as a `BridgedToken` this contract minted for a deposit
/// and burns for a withdrawal, so what can be withdrawn of an asset is exactly the bridged
/// token's supply, all of it locked on Ethereum.
///
/// Deposits: the protocol, not a transaction, finalizes them. Before a block's transactions,
/// for each deposit the block carries (in nonce order, each checked by the validators against
/// their own view of Ethereum), the executor calls `finalizeDeposit` from the system address.
/// It records the nonce and then mints the bridged token (creating it on the asset's first
/// deposit, with the L1 token's metadata). If minting reverts for any reason, the deposit is
/// recorded as failed (`DepositFailed`) and refunded: a withdrawal of the same amount to the
/// Ethereum depositor is initiated, proven and paid like any other. So no deposit can stop the
/// ones after it.
///
/// Withdrawals: `withdrawERC20` burns the caller's bridged tokens and emits
/// `WithdrawalInitiated` with a gap-free id. Validators put each block's withdrawals in a
/// Merkle tree and sign its root for `ParallaxBridge` on Ethereum. Any single validator can
/// pause withdrawals (`guardianPause`); only a quorum unpauses (`setPaused`).
///
/// Storage, slot by slot (the node reads some slots directly, and the genesis writes the
/// validator set): 0 `nextDepositNonce`, 1 `nextWithdrawalId`, 2 `lastDepositL1Block`,
/// 3 `l1TokenOf`, 4 `isBridgedToken`, 5 `failedDepositRefund`, 6 `governanceNonce`, 7 `paused`,
/// 8..10 the validator set (`ValidatorSet.Set`: power by address, the list, total power).
contract ParallaxBridgeL2 {
    using ValidatorSet for ValidatorSet.Set;

    /// The caller of protocol system calls (revm's and the EIPs' system address).
    address public constant SYSTEM = 0xffffFFFfFFffffffffffffffFfFFFfffFFFfFFfE;

    bytes32 private constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    /// One validator pausing withdrawals.
    bytes32 public constant GUARDIAN_PAUSE_TYPEHASH = keccak256("GuardianPause(uint256 nonce)");
    /// A quorum pausing or unpausing withdrawals.
    bytes32 public constant SET_PAUSED_TYPEHASH = keccak256("SetPaused(uint256 nonce,bool paused)");

    /// The nonce the next finalized deposit must have.
    uint256 public nextDepositNonce;
    /// The id the next withdrawal gets.
    uint256 public nextWithdrawalId;
    /// The Ethereum block of the last deposit finalized (where a restarted watcher resumes).
    uint256 public lastDepositL1Block;
    /// The Ethereum asset each bridged token stands for (address(0): ETH).
    mapping(address => address) public l1TokenOf;
    /// Whether an address is a bridged token this contract created.
    mapping(address => bool) public isBridgedToken;
    /// For a deposit that failed: its refund's withdrawal id + 1 (0: did not fail).
    mapping(uint256 => uint256) public failedDepositRefund;
    /// The nonce the next pause change is signed over.
    uint256 public governanceNonce;
    /// While true, withdrawals revert (deposits and their refunds go on).
    bool public paused;
    ValidatorSet.Set private validatorSet;

    /// Deposit `nonce` from Ethereum was minted on Parallax.
    event DepositFinalized(
        uint256 indexed nonce, address indexed l1Token, address indexed l2Recipient, uint256 amount
    );
    /// Deposit `nonce` could not be minted; withdrawal `refundId` returns it to `l1From`.
    event DepositFailed(
        uint256 indexed nonce, address indexed l1Token, address indexed l1From, uint256 amount, uint256 refundId
    );
    /// A withdrawal to Ethereum: `amount` of `l1Token` (address(0): ETH) for `l1Recipient`.
    /// `from` is this contract for the refund of a failed deposit.
    event WithdrawalInitiated(
        uint256 indexed id, address indexed l1Token, address indexed from, address l1Recipient, uint256 amount
    );
    /// The first deposit of `l1Token` created its bridged token.
    event BridgedTokenCreated(address indexed l1Token, address indexed l2Token);
    /// Withdrawals were paused or unpaused by a quorum under nonce `nonce`.
    event PausedSet(uint256 indexed nonce, bool paused);
    /// Validator `guardian` paused withdrawals on its own.
    event GuardianPaused(address indexed guardian, uint256 nonce);

    /// Records deposit `nonce` (made by `l1From` in Ethereum block `l1Block`) and mints it to
    /// `l2Recipient`, or refunds it to `l1From` if minting fails. Only the protocol calls it,
    /// once per nonce, in order; it reverts for nothing else.
    function finalizeDeposit(
        uint256 nonce,
        address l1Token,
        address l1From,
        address l2Recipient,
        uint256 amount,
        uint256 l1Block,
        bytes calldata metadata
    ) external {
        require(msg.sender == SYSTEM, "only the protocol finalizes deposits");
        require(nonce == nextDepositNonce, "deposit out of order");
        nextDepositNonce = nonce + 1;
        lastDepositL1Block = l1Block;
        try this.mintDeposit(l1Token, l2Recipient, amount, metadata) {
            emit DepositFinalized(nonce, l1Token, l2Recipient, amount);
        } catch {
            uint256 id = _initiate(l1Token, address(this), l1From, amount);
            failedDepositRefund[nonce] = id + 1;
            emit DepositFailed(nonce, l1Token, l1From, amount, id);
        }
    }

    /// Mints a deposit, creating the bridged token first if needed. Only this contract calls
    /// it (from `finalizeDeposit`, so that any revert in here fails the deposit alone).
    function mintDeposit(address l1Token, address l2Recipient, uint256 amount, bytes calldata metadata) external {
        require(msg.sender == address(this), "only the bridge mints");
        address l2Token = l2TokenFor(l1Token);
        if (!isBridgedToken[l2Token]) {
            BridgedToken created = new BridgedToken{salt: _salt(l1Token)}(l1Token);
            require(address(created) == l2Token, "bridged token address mismatch");
            (string memory name_, string memory symbol_, uint8 decimals_) = _metadata(l1Token, metadata);
            created.initialize(name_, symbol_, decimals_);
            l1TokenOf[l2Token] = l1Token;
            isBridgedToken[l2Token] = true;
            emit BridgedTokenCreated(l1Token, l2Token);
        }
        BridgedToken(l2Token).mint(l2Recipient, amount);
    }

    /// Decodes a deposit's metadata (`abi.encode(string, string, uint8)`); external so that a
    /// malformed encoding reverts alone and the caller falls back.
    function decodeMetadata(bytes calldata metadata) external pure returns (string memory, string memory, uint8) {
        return abi.decode(metadata, (string, string, uint8));
    }

    /// Burns `amount` of the caller's bridged `l2Token` and withdraws it to `l1Recipient`.
    function withdrawERC20(address l2Token, uint256 amount, address l1Recipient) external {
        require(!paused, "withdrawals are paused");
        require(isBridgedToken[l2Token], "not a bridged token");
        require(amount > 0, "zero withdrawal");
        require(l1Recipient != address(0), "zero recipient");
        BridgedToken(l2Token).burn(msg.sender, amount);
        _initiate(l1TokenOf[l2Token], msg.sender, l1Recipient, amount);
    }

    /// The bridged token that stands for `l1Token` (address(0): ETH) on Parallax, whether or
    /// not a deposit has created it yet.
    function l2TokenFor(address l1Token) public view returns (address) {
        bytes32 initCodeHash = keccak256(abi.encodePacked(type(BridgedToken).creationCode, abi.encode(l1Token)));
        return address(uint160(uint256(keccak256(abi.encodePacked(bytes1(0xff), address(this), _salt(l1Token), initCodeHash)))));
    }

    // ---- pausing ----

    /// Pauses withdrawals at once on one validator's signature over
    /// `GuardianPause(governanceNonce)` (anyone may send it; it consumes no nonce).
    function guardianPause(bytes calldata signature) external {
        uint256 nonce = governanceNonce;
        address guardian = validatorSet.requireValidator(guardianPauseDigest(nonce), signature);
        if (!paused) {
            paused = true;
            emit GuardianPaused(guardian, nonce);
        }
    }

    /// Pauses or unpauses withdrawals; needs signatures from more than 2/3 of the validators'
    /// power over `SetPaused(governanceNonce, paused)`.
    function setPaused(bool paused_, bytes[] calldata signatures) external {
        uint256 nonce = governanceNonce;
        validatorSet.requireQuorum(setPausedDigest(nonce, paused_), signatures);
        governanceNonce = nonce + 1;
        paused = paused_;
        emit PausedSet(nonce, paused_);
    }

    /// The validators (bridge addresses) and their power, as the genesis set them.
    function validators() external view returns (address[] memory addrs, uint256[] memory powers) {
        return validatorSet.members();
    }

    /// The EIP-712 domain separator: name "ParallaxBridgeL2", version "1", Parallax's chain id,
    /// this contract.
    function domainSeparator() public view returns (bytes32) {
        return keccak256(
            abi.encode(DOMAIN_TYPEHASH, keccak256("ParallaxBridgeL2"), keccak256("1"), block.chainid, address(this))
        );
    }

    /// The digest one validator signs to pause withdrawals.
    function guardianPauseDigest(uint256 nonce) public view returns (bytes32) {
        return _typedDigest(keccak256(abi.encode(GUARDIAN_PAUSE_TYPEHASH, nonce)));
    }

    /// The digest the validators sign to pause or unpause withdrawals.
    function setPausedDigest(uint256 nonce, bool paused_) public view returns (bytes32) {
        return _typedDigest(keccak256(abi.encode(SET_PAUSED_TYPEHASH, nonce, paused_)));
    }

    function _typedDigest(bytes32 structHash) private view returns (bytes32) {
        return keccak256(abi.encodePacked("\x19\x01", domainSeparator(), structHash));
    }

    function _metadata(address l1Token, bytes calldata metadata)
        private
        view
        returns (string memory name_, string memory symbol_, uint8 decimals_)
    {
        if (l1Token == address(0)) return ("Ether", "ETH", 18);
        name_ = "";
        symbol_ = "";
        decimals_ = 18;
        try this.decodeMetadata(metadata) returns (string memory n, string memory s, uint8 d) {
            (name_, symbol_, decimals_) = (n, s, d);
        } catch {}
        if (bytes(name_).length == 0) name_ = "Parallax Bridged Token";
        if (bytes(symbol_).length == 0) symbol_ = "PXB";
    }

    function _salt(address l1Token) private pure returns (bytes32) {
        return bytes32(uint256(uint160(l1Token)));
    }

    function _initiate(address l1Token, address from, address l1Recipient, uint256 amount) private returns (uint256 id) {
        id = nextWithdrawalId++;
        emit WithdrawalInitiated(id, l1Token, from, l1Recipient, amount);
    }
}

// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.28;

/// The ERC-20 that stands for one Ethereum token on Parallax. Only the bridge that created it
/// mints (deposits) and burns (withdrawals); it needs no approval to burn, since a withdrawal
/// is its holder's own call to the bridge.
contract BridgedToken {
    string public constant name = "Parallax Bridged Token";
    string public constant symbol = "PXB";
    uint8 public constant decimals = 18;
    /// The bridge that mints and burns.
    address public bridge;
    /// The Ethereum token this one stands for.
    address public l1Token;
    uint256 public totalSupply;
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    constructor(address l1Token_) {
        bridge = msg.sender;
        l1Token = l1Token_;
    }

    modifier onlyBridge() {
        require(msg.sender == bridge, "only the bridge");
        _;
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
/// 0x0000000000000000000000000000000000b41d9e with empty storage (it has no constructor).
///
/// Deposits: the protocol, not a transaction, finalizes them. Before a block's transactions,
/// for each deposit the block carries (in nonce order, each checked by the validators against
/// their own view of Ethereum), the executor credits ETH deposits straight to the recipient's
/// balance and then calls `finalizeDeposit` from the system address, which records the nonce,
/// mints a bridged ERC-20 for token deposits (creating the token on its first deposit) and
/// emits `DepositFinalized`.
///
/// Withdrawals: `withdrawETH` and `withdrawERC20` take the funds out of circulation (ETH stays
/// in this contract, which has no way to send it; bridged tokens are burned) and emit
/// `WithdrawalInitiated` with a gap-free id. Validators put each block's withdrawals in a
/// Merkle tree and sign its root for `ParallaxBridge` on Ethereum. No more of a token can be
/// withdrawn than deposits minted: Parallax's own ETH (genesis balances, fees) has no backing
/// on Ethereum.
contract ParallaxBridgeL2 {
    /// The caller of protocol system calls (revm's and the EIPs' system address).
    address public constant SYSTEM = 0xffffFFFfFFffffffffffffffFfFFFfffFFFfFFfE;

    /// The nonce the next finalized deposit must have.
    uint256 public nextDepositNonce;
    /// The id the next withdrawal gets.
    uint256 public nextWithdrawalId;
    /// Per L1 token (address(0): ETH): how much deposits minted.
    mapping(address => uint256) public minted;
    /// Per L1 token (address(0): ETH): how much withdrawals burned.
    mapping(address => uint256) public burned;
    /// The Ethereum token each bridged token stands for (zero: not a bridged token).
    mapping(address => address) public l1TokenOf;

    /// Deposit `nonce` from Ethereum was minted on Parallax.
    event DepositFinalized(
        uint256 indexed nonce, address indexed l1Token, address indexed l2Recipient, uint256 amount
    );
    /// A withdrawal to Ethereum: `amount` of `l1Token` (address(0): ETH) for `l1Recipient`.
    event WithdrawalInitiated(
        uint256 indexed id, address indexed l1Token, address indexed from, address l1Recipient, uint256 amount
    );
    /// The first deposit of `l1Token` created its bridged token.
    event BridgedTokenCreated(address indexed l1Token, address indexed l2Token);

    /// Records deposit `nonce`; only the protocol calls it, once per nonce, in order. For ETH
    /// the protocol has already credited `amount` to `l2Recipient`.
    function finalizeDeposit(uint256 nonce, address l1Token, address l2Recipient, uint256 amount) external {
        require(msg.sender == SYSTEM, "only the protocol finalizes deposits");
        require(nonce == nextDepositNonce, "deposit out of order");
        nextDepositNonce = nonce + 1;
        minted[l1Token] += amount;
        if (l1Token != address(0)) {
            address l2Token = l2TokenFor(l1Token);
            if (l2Token.code.length == 0) {
                BridgedToken created = new BridgedToken{salt: _salt(l1Token)}(l1Token);
                require(address(created) == l2Token, "bridged token address mismatch");
                l1TokenOf[l2Token] = l1Token;
                emit BridgedTokenCreated(l1Token, l2Token);
            }
            BridgedToken(l2Token).mint(l2Recipient, amount);
        }
        emit DepositFinalized(nonce, l1Token, l2Recipient, amount);
    }

    /// Withdraws the ETH sent to `l1Recipient` on Ethereum.
    function withdrawETH(address l1Recipient) external payable {
        _initiate(address(0), l1Recipient, msg.value);
    }

    /// Burns `amount` of the caller's bridged `l2Token` and withdraws it to `l1Recipient`.
    function withdrawERC20(address l2Token, uint256 amount, address l1Recipient) external {
        address l1Token = l1TokenOf[l2Token];
        require(l1Token != address(0), "not a bridged token");
        BridgedToken(l2Token).burn(msg.sender, amount);
        _initiate(l1Token, l1Recipient, amount);
    }

    /// The bridged token that stands for `l1Token` on Parallax (whether or not a deposit has
    /// created it yet).
    function l2TokenFor(address l1Token) public view returns (address) {
        bytes32 initCodeHash = keccak256(abi.encodePacked(type(BridgedToken).creationCode, abi.encode(l1Token)));
        return address(uint160(uint256(keccak256(abi.encodePacked(bytes1(0xff), address(this), _salt(l1Token), initCodeHash)))));
    }

    function _salt(address l1Token) private pure returns (bytes32) {
        return bytes32(uint256(uint160(l1Token)));
    }

    function _initiate(address l1Token, address l1Recipient, uint256 amount) private {
        require(amount > 0, "zero withdrawal");
        require(l1Recipient != address(0), "zero recipient");
        require(burned[l1Token] + amount <= minted[l1Token], "exceeds what was bridged");
        burned[l1Token] += amount;
        emit WithdrawalInitiated(nextWithdrawalId++, l1Token, msg.sender, l1Recipient, amount);
    }
}

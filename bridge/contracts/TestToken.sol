// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.28;

/// A plain ERC-20 for the local testnet and the bridge's tests: the deployer may mint, and
/// `feeBasisPoints` (set once, at deployment) of every transfer is burned on the way, which
/// makes it a fee-on-transfer token when non-zero. Like USDC and USDT, the deployer can block
/// addresses: transfers to them revert.
contract TestToken {
    string public name;
    string public symbol;
    uint8 public constant decimals = 18;
    uint256 public totalSupply;
    /// Parts per 10,000 of each transfer that never arrive (burned).
    uint256 public feeBasisPoints;
    address public minter;
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;
    /// Addresses transfers to which revert.
    mapping(address => bool) public blocked;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    constructor(string memory name_, string memory symbol_, uint256 feeBasisPoints_) {
        require(feeBasisPoints_ < 10_000, "fee must be below 100%");
        name = name_;
        symbol = symbol_;
        feeBasisPoints = feeBasisPoints_;
        minter = msg.sender;
    }

    /// Creates `amount` tokens for `to`; only the deployer may.
    function mint(address to, uint256 amount) external {
        require(msg.sender == minter, "only the minter mints");
        totalSupply += amount;
        balanceOf[to] += amount;
        emit Transfer(address(0), to, amount);
    }

    /// Blocks (or unblocks) transfers to `who`; only the deployer may.
    function setBlocked(address who, bool isBlocked) external {
        require(msg.sender == minter, "only the minter blocks");
        blocked[who] = isBlocked;
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
        require(!blocked[to], "recipient is blocked");
        require(balanceOf[from] >= amount, "insufficient balance");
        uint256 fee = (amount * feeBasisPoints) / 10_000;
        balanceOf[from] -= amount;
        balanceOf[to] += amount - fee;
        totalSupply -= fee;
        emit Transfer(from, to, amount - fee);
        if (fee > 0) emit Transfer(from, address(0), fee);
    }
}

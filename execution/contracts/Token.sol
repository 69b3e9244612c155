// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.28;

/// @title Token
/// @notice A plain ERC-20 used by Parallax's executor benchmarks and tests. Anyone may mint:
/// it is a test token, so that state can be set up by transactions as well as written directly.
/// @dev Storage layout (checked against the compiler's storageLayout by
/// execution/tests/contracts.rs; benchmarks write pre-state through it):
///   slot 0: balanceOf   (mapping(address => uint256))
///   slot 1: allowance   (mapping(address => mapping(address => uint256)))
///   slot 2: totalSupply (uint256)
///   slot 3: name        (string)
///   slot 4: symbol      (string)
/// An allowance of type(uint256).max is never decreased by transferFrom.
contract Token {
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;
    uint256 public totalSupply;
    string public name;
    string public symbol;

    uint8 public constant decimals = 18;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    constructor(string memory name_, string memory symbol_, address holder, uint256 initialSupply) {
        name = name_;
        symbol = symbol_;
        _mint(holder, initialSupply);
    }

    /// @notice Creates `amount` new tokens for `to`. Callable by anyone (test token).
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function transfer(address to, uint256 amount) external returns (bool) {
        _transfer(msg.sender, to, amount);
        return true;
    }

    function approve(address spender, uint256 amount) external returns (bool) {
        allowance[msg.sender][spender] = amount;
        emit Approval(msg.sender, spender, amount);
        return true;
    }

    function transferFrom(address from, address to, uint256 amount) external returns (bool) {
        uint256 allowed = allowance[from][msg.sender];
        if (allowed != type(uint256).max) {
            require(allowed >= amount, "Token: insufficient allowance");
            unchecked {
                allowance[from][msg.sender] = allowed - amount;
            }
        }
        _transfer(from, to, amount);
        return true;
    }

    function _transfer(address from, address to, uint256 amount) private {
        uint256 fromBalance = balanceOf[from];
        require(fromBalance >= amount, "Token: insufficient balance");
        unchecked {
            balanceOf[from] = fromBalance - amount;
        }
        // Cannot overflow: the sum of all balances is totalSupply, which is checked in _mint.
        unchecked {
            balanceOf[to] += amount;
        }
        emit Transfer(from, to, amount);
    }

    function _mint(address to, uint256 amount) private {
        totalSupply += amount;
        unchecked {
            balanceOf[to] += amount;
        }
        emit Transfer(address(0), to, amount);
    }
}

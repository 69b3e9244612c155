// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.28;

/// A contract that refuses ETH until its owner lets it in: the recipient of a withdrawal that
/// cannot be paid (for the bridge's tests).
contract RefusingReceiver {
    address public owner;
    bool public accepting;

    constructor() {
        owner = msg.sender;
    }

    /// Starts (or stops) accepting ETH.
    function setAccepting(bool accepting_) external {
        require(msg.sender == owner, "only the owner");
        accepting = accepting_;
    }

    receive() external payable {
        require(accepting, "this contract refuses ETH");
    }
}

/// An ERC-20 that lies (for the bridge's tests): its metadata calls misbehave as configured,
/// and its `balanceOf` for one address can report any amount.
contract HostileToken {
    /// 0: honest; 1: revert; 2: return a long string (200 bytes); 3: return garbage; 4: burn all gas;
    /// 5: bytes32 string; 6: control characters.
    uint256 public mode;
    /// What `decimals()` returns (may be above 255).
    uint256 public reportedDecimals;
    /// An address whose balance `balanceOf` reports as `fakeBalance` (zero address: none).
    address public liar;
    uint256 public fakeBalance;
    mapping(address => uint256) private balances;

    event Transfer(address indexed from, address indexed to, uint256 value);

    constructor(uint256 mode_, uint256 decimals_) {
        mode = mode_;
        reportedDecimals = decimals_;
    }

    function mint(address to, uint256 amount) external {
        balances[to] += amount;
        emit Transfer(address(0), to, amount);
    }

    /// From now on, `balanceOf(who)` reports `amount`.
    function lieAbout(address who, uint256 amount) external {
        liar = who;
        fakeBalance = amount;
    }

    function name() external view returns (string memory) {
        return _text("Hostile Token");
    }

    function symbol() external view returns (string memory) {
        return _text("HOST");
    }

    function decimals() external view returns (uint256) {
        if (mode == 1) revert("no decimals");
        if (mode == 4) _burnGas();
        return reportedDecimals;
    }

    function balanceOf(address who) external view returns (uint256) {
        if (who == liar && liar != address(0)) return fakeBalance;
        return balances[who];
    }

    function transfer(address to, uint256 amount) external returns (bool) {
        _move(msg.sender, to, amount);
        return true;
    }

    function transferFrom(address from, address to, uint256 amount) external returns (bool) {
        _move(from, to, amount);
        return true;
    }

    function _move(address from, address to, uint256 amount) private {
        require(balances[from] >= amount, "insufficient balance");
        balances[from] -= amount;
        balances[to] += amount;
        emit Transfer(from, to, amount);
    }

    function _text(string memory honest) private view returns (string memory) {
        uint256 m = mode;
        if (m == 1) revert("no metadata");
        if (m == 4) _burnGas();
        if (m == 2) {
            bytes memory huge = new bytes(200);
            for (uint256 i = 0; i < huge.length; i++) huge[i] = "A";
            return string(huge);
        }
        if (m == 3) {
            assembly {
                mstore(0, 0xdeadbeef)
                return(0, 40)
            }
        }
        if (m == 5) {
            assembly {
                mstore(0, 0x4d4b520000000000000000000000000000000000000000000000000000000000)
                return(0, 32)
            }
        }
        if (m == 6) return string(abi.encodePacked(honest, hex"0a07ff"));
        return honest;
    }

    function _burnGas() private view {
        uint256 x = 0;
        while (gasleft() > 0) x++;
    }
}

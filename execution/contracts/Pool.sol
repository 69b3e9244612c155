// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.28;

import {Token} from "./Token.sol";

/// @title Pool
/// @notice A constant-product (x * y = k) pool over two Tokens with a 0.3% fee, used by
/// Parallax's executor benchmarks. There are no liquidity shares: anyone may add liquidity and
/// nobody can withdraw it, which is all a benchmark needs.
/// @dev Token addresses are kept in storage rather than immutables so that the runtime bytecode
/// is complete on its own and a benchmark can install it directly with a written pre-state.
/// Storage layout (checked by execution/tests/contracts.rs):
///   slot 0: token0   (address)
///   slot 1: token1   (address)
///   slot 2: reserve0 (uint256)
///   slot 3: reserve1 (uint256)
/// Give each pool its own pair of Tokens and swaps on different pools by different users touch
/// disjoint storage.
contract Pool {
    Token public token0;
    Token public token1;
    uint256 public reserve0;
    uint256 public reserve1;

    uint256 public constant FEE_NUMERATOR = 997;
    uint256 public constant FEE_DENOMINATOR = 1000;

    event LiquidityAdded(address indexed provider, uint256 amount0, uint256 amount1);
    event Swap(
        address indexed sender,
        address indexed to,
        bool zeroForOne,
        uint256 amountIn,
        uint256 amountOut
    );

    constructor(Token token0_, Token token1_) {
        require(address(token0_) != address(token1_), "Pool: identical tokens");
        token0 = token0_;
        token1 = token1_;
    }

    function getReserves() external view returns (uint256, uint256) {
        return (reserve0, reserve1);
    }

    /// @notice Output of swapping `amountIn` at the current reserves (0 when there is none).
    function getAmountOut(uint256 amountIn, bool zeroForOne) public view returns (uint256) {
        (uint256 reserveIn, uint256 reserveOut) = zeroForOne ? (reserve0, reserve1) : (reserve1, reserve0);
        if (amountIn == 0 || reserveIn == 0 || reserveOut == 0) {
            return 0;
        }
        uint256 amountInWithFee = amountIn * FEE_NUMERATOR;
        return (amountInWithFee * reserveOut) / (reserveIn * FEE_DENOMINATOR + amountInWithFee);
    }

    /// @notice Pulls `amount0` of token0 and `amount1` of token1 from the caller (who must have
    /// approved this pool) into the reserves.
    function addLiquidity(uint256 amount0, uint256 amount1) external {
        reserve0 += amount0;
        reserve1 += amount1;
        require(token0.transferFrom(msg.sender, address(this), amount0), "Pool: transfer failed");
        require(token1.transferFrom(msg.sender, address(this), amount1), "Pool: transfer failed");
        emit LiquidityAdded(msg.sender, amount0, amount1);
    }

    /// @notice Swaps `amountIn` of token0 for token1 (`zeroForOne`) or the reverse. Pulls the
    /// input from the caller with transferFrom and sends the output to `to`; reverts when the
    /// output would be below `minOut`.
    function swap(uint256 amountIn, bool zeroForOne, uint256 minOut, address to)
        external
        returns (uint256 amountOut)
    {
        require(amountIn > 0, "Pool: zero input");
        require(reserve0 > 0 && reserve1 > 0, "Pool: no liquidity");
        amountOut = getAmountOut(amountIn, zeroForOne);
        require(amountOut > 0, "Pool: zero output");
        require(amountOut >= minOut, "Pool: slippage");

        (Token tokenIn, Token tokenOut) = zeroForOne ? (token0, token1) : (token1, token0);
        if (zeroForOne) {
            reserve0 += amountIn;
            reserve1 -= amountOut;
        } else {
            reserve1 += amountIn;
            reserve0 -= amountOut;
        }
        require(tokenIn.transferFrom(msg.sender, address(this), amountIn), "Pool: transfer failed");
        require(tokenOut.transfer(to, amountOut), "Pool: transfer failed");
        emit Swap(msg.sender, to, zeroForOne, amountIn, amountOut);
    }
}

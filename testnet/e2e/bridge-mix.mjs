// A random mix of bridge deposits and withdrawals by many users on a running testnet, then a
// conservation check to the wei, for ETH and the test ERC-20:
//   node testnet/e2e/bridge-mix.mjs DIR [--ops N] [--seed S] [--users U]
// Each user (development accounts 8 ..) deposits ETH and tokens on Ethereum and withdraws part
// of what reached Parallax back to its own Ethereum address, in random order and amounts, with
// no waiting between operations. Then it waits until Ethereum and Parallax are quiet (every
// deposit minted, every withdrawal paid) and checks, from both chains' events and balances:
//   - per token: locked on Ethereum = minted on Parallax - burned + in flight (in flight is
//     what was burned but not yet paid out; 0 once quiet), and locked = deposits - payouts;
//   - per user and token: the ERC-20 balances on both chains moved by exactly the amounts
//     this run deposited and withdrew.
// Run it again after restarting nodes: the checks cover the whole history. Prints one JSON line.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ethers } from "ethers";

const args = process.argv.slice(2);
const dir = args[0] ?? ".testnet";
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const OPS = opt("--ops", 40);
let seed = opt("--seed", 1) >>> 0;
const USERS = opt("--users", 8);
const TIMEOUT_MS = Number(process.env.BRIDGE_E2E_TIMEOUT_MS ?? 180_000);
const rand = () => {
  // xorshift32: the same seed gives the same mix.
  seed ^= seed << 13; seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5; seed >>>= 0;
  return seed / 4294967296;
};

const manifest = JSON.parse(readFileSync(join(dir, "testnet.json"), "utf8"));
const l1 = new ethers.JsonRpcProvider(manifest.l1.rpc, undefined, { staticNetwork: true, pollingInterval: 100 });
// Spread the users over the running nodes' RPCs (the full node included).
const l2s = manifest.nodes.filter((n) => n.pid !== null).map((n) => new ethers.JsonRpcProvider(n.rpc_http, undefined, { staticNetwork: true, pollingInterval: 100 }));
const l2 = l2s[0];
const B = manifest.bridge;
const bridgeL1Abi = [
  "function depositETH(address l2Recipient) payable",
  "function depositERC20(address token, uint256 amount, address l2Recipient)",
  "function locked(address token) view returns (uint256)",
  "function depositCount() view returns (uint256)",
  "function isWithdrawalFinalized(uint256 id) view returns (bool)",
  "event Deposit(uint256 indexed nonce, address indexed token, address indexed from, address l2Recipient, uint256 amount)",
  "event WithdrawalFinalized(uint256 indexed id, address indexed token, address indexed recipient, uint256 amount)",
];
const bridgeL2Abi = [
  "function withdrawETH(address l1Recipient) payable",
  "function withdrawERC20(address l2Token, uint256 amount, address l1Recipient)",
  "function l2TokenFor(address l1Token) view returns (address)",
  "function minted(address l1Token) view returns (uint256)",
  "function burned(address l1Token) view returns (uint256)",
  "function nextDepositNonce() view returns (uint256)",
  "function nextWithdrawalId() view returns (uint256)",
  "event WithdrawalInitiated(uint256 indexed id, address indexed l1Token, address indexed from, address l1Recipient, uint256 amount)",
];
const erc20Abi = ["function approve(address,uint256) returns (bool)", "function balanceOf(address) view returns (uint256)"];
const bridgeL1 = new ethers.Contract(B.l1_bridge, bridgeL1Abi, l1);
const bridgeL2 = new ethers.Contract(B.l2_bridge, bridgeL2Abi, l2);
const tokenL1 = new ethers.Contract(B.l1_test_token, erc20Abi, l1);
const l2TokenAddress = await bridgeL2.l2TokenFor(B.l1_test_token);
const tokenL2 = new ethers.Contract(l2TokenAddress, erc20Abi, l2);
const l2TokenBalance = async (who) => ((await l2.getCode(l2TokenAddress)) === "0x" ? 0n : tokenL2.balanceOf(who));

const users = manifest.accounts.slice(8, 8 + USERS).map((a, i) => ({
  address: a.address,
  l1: new ethers.NonceManager(new ethers.Wallet(a.private_key, l1)),
  l2: new ethers.NonceManager(new ethers.Wallet(a.private_key, l2s[i % l2s.length])),
  // Each user's transactions go out one after another (hardhat's automining refuses a nonce
  // that arrives before the one below it).
  queue: Promise.resolve(),
}));
const inTurn = (u, send) => {
  const done = u.queue.then(send).then((t) => t.wait());
  u.queue = done.catch(() => {});
  return done;
};

async function until(what, check) {
  const start = Date.now();
  for (;;) {
    if (await check()) return Date.now() - start;
    if (Date.now() - start > TIMEOUT_MS) throw new Error(`timed out after ${TIMEOUT_MS} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

// Balances before this run.
const before = new Map();
for (const u of users) before.set(u.address, { l1: await tokenL1.balanceOf(u.address), l2: await l2TokenBalance(u.address) });
const moved = new Map(users.map((u) => [u.address, { deposited: 0n, withdrawn: 0n }]));

// Every user approves once (enough for the run).
await Promise.all(users.map(async (u) => (await new ethers.Contract(B.l1_test_token, erc20Abi, u.l1).approve(B.l1_bridge, ethers.MaxUint256)).wait()));

const pending = [];
let deposits = 0;
let withdrawals = 0;
for (let op = 0; op < OPS; op++) {
  const u = users[Math.floor(rand() * users.length)];
  const kind = rand();
  const m = moved.get(u.address);
  if (kind < 0.3) {
    const value = ethers.parseEther("0.001") * BigInt(1 + Math.floor(rand() * 500));
    pending.push(inTurn(u, () => new ethers.Contract(B.l1_bridge, bridgeL1Abi, u.l1).depositETH(u.address, { value })));
    deposits++;
  } else if (kind < 0.6) {
    const amount = ethers.parseUnits(String(1 + Math.floor(rand() * 1000)), 15) + BigInt(Math.floor(rand() * 1e6));
    m.deposited += amount;
    pending.push(inTurn(u, () => new ethers.Contract(B.l1_bridge, bridgeL1Abi, u.l1).depositERC20(B.l1_test_token, amount, u.address)));
    deposits++;
  } else {
    // Withdraw part of what already reached Parallax (minted and not yet withdrawn here).
    const tokenWithdrawable = await l2TokenBalance(u.address);
    if (kind < 0.8 && tokenWithdrawable > 0n) {
      const amount = (tokenWithdrawable * BigInt(1 + Math.floor(rand() * 60))) / 100n;
      if (amount > 0n) {
        m.withdrawn += amount;
        pending.push(inTurn(u, () => new ethers.Contract(B.l2_bridge, bridgeL2Abi, u.l2).withdrawERC20(l2TokenAddress, amount, u.address)));
        withdrawals++;
      }
    } else {
      const bridged = (await bridgeL2.minted(ethers.ZeroAddress)) - (await bridgeL2.burned(ethers.ZeroAddress));
      const value = ethers.parseEther("0.0001") * BigInt(1 + Math.floor(rand() * 100));
      if (value <= bridged / 4n) {
        pending.push(inTurn(u, () => new ethers.Contract(B.l2_bridge, bridgeL2Abi, u.l2).withdrawETH(u.address, { value })));
        withdrawals++;
      }
    }
  }
  // Let some operations land between choices, so later ones see earlier deposits minted.
  if (op % 8 === 7) await Promise.all(pending.splice(0));
}
await Promise.all(pending.splice(0));

// Quiet: every deposit minted and every withdrawal paid.
const quietMs = await until("every deposit minted and every withdrawal finalized", async () => {
  if ((await bridgeL2.nextDepositNonce()) !== (await bridgeL1.depositCount())) return false;
  const next = await bridgeL2.nextWithdrawalId();
  const paid = await bridgeL1.queryFilter(bridgeL1.filters.WithdrawalFinalized(), 0, "latest");
  return BigInt(paid.length) === next;
});

// Conservation from both chains' events and state.
const l1Deposits = await bridgeL1.queryFilter(bridgeL1.filters.Deposit(), 0, "latest");
const l1Paid = await bridgeL1.queryFilter(bridgeL1.filters.WithdrawalFinalized(), 0, "latest");
const l2Initiated = await bridgeL2.queryFilter(bridgeL2.filters.WithdrawalInitiated(), 0, "latest");
const sum = (events, token) => events.filter((e) => e.args[1] === token).reduce((a, e) => a + e.args.amount, 0n);
const report = {};
for (const token of [ethers.ZeroAddress, B.l1_test_token]) {
  const locked = await bridgeL1.locked(token);
  const minted = await bridgeL2.minted(token);
  const burned = await bridgeL2.burned(token);
  const paidIds = new Set(l1Paid.map((e) => e.args.id));
  const inFlight = l2Initiated.filter((e) => e.args.l1Token === token && !paidIds.has(e.args.id)).reduce((a, e) => a + e.args.amount, 0n);
  if (locked !== minted - burned + inFlight) throw new Error(`${token}: locked ${locked} != minted ${minted} - burned ${burned} + in flight ${inFlight}`);
  if (locked !== sum(l1Deposits, token) - sum(l1Paid, token)) throw new Error(`${token}: locked ${locked} != deposits - payouts`);
  if (minted !== sum(l1Deposits, token)) throw new Error(`${token}: minted ${minted} != deposited ${sum(l1Deposits, token)}`);
  if (burned !== sum(l2Initiated, token)) throw new Error(`${token}: burned ${burned} != initiated ${sum(l2Initiated, token)}`);
  report[token === ethers.ZeroAddress ? "eth" : "token"] = { locked: String(locked), minted: String(minted), burned: String(burned), inFlight: String(inFlight) };
}
for (const u of users) {
  const b = before.get(u.address);
  const m = moved.get(u.address);
  const l1Now = await tokenL1.balanceOf(u.address);
  const l2Now = await l2TokenBalance(u.address);
  if (l1Now !== b.l1 - m.deposited + m.withdrawn) throw new Error(`${u.address}: Ethereum token balance ${l1Now}, expected ${b.l1 - m.deposited + m.withdrawn}`);
  if (l2Now !== b.l2 + m.deposited - m.withdrawn) throw new Error(`${u.address}: Parallax token balance ${l2Now}, expected ${b.l2 + m.deposited - m.withdrawn}`);
}
console.log(JSON.stringify({ ops: OPS, deposits, withdrawals, quietMs, totalDeposits: l1Deposits.length, totalWithdrawals: l2Initiated.length, ...report }));

// Shared by the bridge's end-to-end scripts: the testnet's contracts as ethers sees them, a
// poller, and the conservation check every script ends with.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ethers } from "ethers";

export const bridgeL1Abi = [
  "function depositETH(address l2Recipient) payable",
  "function depositERC20(address token, uint256 amount, address l2Recipient)",
  "function locked(address token) view returns (uint256)",
  "function owed(address token) view returns (uint256)",
  "function cancelled(address token) view returns (uint256)",
  "function depositCount() view returns (uint256)",
  "function paused() view returns (bool)",
  "function withdrawalRoots(uint256 l2BlockNumber) view returns (bytes32)",
  "function isWithdrawalFinalized(uint256 id) view returns (bool)",
  "function withdrawalStatus(uint256 id) view returns (uint8 state, uint256 releaseAt)",
  "function submitWithdrawalRoot(uint256 l2BlockNumber, bytes32 root, bytes[] signatures)",
  "function finalizeWithdrawal(uint256 id, address l1Token, address l1Recipient, uint256 amount, uint256 l2BlockNumber, bytes32[] proof)",
  "event Deposit(uint256 indexed nonce, address indexed token, address indexed from, address l2Recipient, uint256 amount, bytes metadata)",
  "event WithdrawalFinalized(uint256 indexed id, address indexed token, address indexed recipient, uint256 amount)",
  "event WithdrawalPayoutFailed(uint256 indexed id, address indexed token, address indexed recipient, uint256 amount)",
  "event WithdrawalQueued(uint256 indexed id, address indexed token, address indexed recipient, uint256 amount, uint256 releaseAt)",
];
export const bridgeL2Abi = [
  "function withdrawERC20(address l2Token, uint256 amount, address l1Recipient)",
  "function l2TokenFor(address l1Token) view returns (address)",
  "function nextDepositNonce() view returns (uint256)",
  "function nextWithdrawalId() view returns (uint256)",
  "function failedDepositRefund(uint256 nonce) view returns (uint256)",
  "function paused() view returns (bool)",
  "event WithdrawalInitiated(uint256 indexed id, address indexed l1Token, address indexed from, address l1Recipient, uint256 amount)",
  "event DepositFinalized(uint256 indexed nonce, address indexed l1Token, address indexed l2Recipient, uint256 amount)",
  "event DepositFailed(uint256 indexed nonce, address indexed l1Token, address indexed l1From, uint256 amount, uint256 refundId)",
];
export const erc20Abi = [
  "function approve(address,uint256) returns (bool)",
  "function balanceOf(address) view returns (uint256)",
  "function transfer(address,uint256) returns (bool)",
  "function totalSupply() view returns (uint256)",
  "function name() view returns (string)",
  "function symbol() view returns (string)",
  "function decimals() view returns (uint8)",
];

/// The testnet in DIR: its manifest, providers and contracts.
export async function testnet(dir) {
  const manifest = JSON.parse(readFileSync(join(dir, "testnet.json"), "utf8"));
  if (!manifest.l1 || !manifest.bridge) throw new Error(`${dir} has no Ethereum (made with --no-l1?)`);
  const opts = { staticNetwork: true, pollingInterval: 100 };
  const l1 = new ethers.JsonRpcProvider(manifest.l1.rpc, undefined, opts);
  const l2s = manifest.nodes.filter((n) => n.pid !== null).map((n) => new ethers.JsonRpcProvider(n.rpc_http, undefined, opts));
  const l2 = l2s[0];
  const B = manifest.bridge;
  const bridgeL1 = new ethers.Contract(B.l1_bridge, bridgeL1Abi, l1);
  const bridgeL2 = new ethers.Contract(B.l2_bridge, bridgeL2Abi, l2);
  const assets = [ethers.ZeroAddress, B.l1_test_token];
  const l2Token = {};
  for (const a of assets) l2Token[a] = await bridgeL2.l2TokenFor(a);
  return { manifest, l1, l2, l2s, B, bridgeL1, bridgeL2, assets, l2Token };
}

/// Polls `check` every 200 ms until it is true; fails after `timeoutMs`.
export async function until(what, check, timeoutMs = Number(process.env.BRIDGE_E2E_TIMEOUT_MS ?? 180_000)) {
  const start = Date.now();
  for (;;) {
    if (await check()) return Date.now() - start;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/// A bridged token's balance (0 while no deposit has created the token).
export async function l2Balance(t, asset, who) {
  const token = t.l2Token[asset];
  if ((await t.l2.getCode(token)) === "0x") return 0n;
  return new ethers.Contract(token, erc20Abi, t.l2).balanceOf(who);
}

async function l2Supply(t, asset) {
  const token = t.l2Token[asset];
  if ((await t.l2.getCode(token)) === "0x") return 0n;
  return new ethers.Contract(token, erc20Abi, t.l2).totalSupply();
}

/// Checks, every `everyMs` while operations run, that each asset's bridged supply on Parallax
/// never exceeds what Ethereum holds locked for it (the supply is read first: a deposit locks
/// on Ethereum before it mints, a withdrawal burns before it is proven, so the inequality
/// holds at every instant in between). Returns a handle whose `stop()` resolves to the number
/// of samples, or throws the first violation.
export function sampleBacking(t, everyMs = 300) {
  let running = true;
  let samples = 0;
  let violation = null;
  const loop = (async () => {
    while (running && !violation) {
      try {
        for (const asset of t.assets) {
          const supply = await l2Supply(t, asset);
          const locked = await t.bridgeL1.locked(asset);
          if (supply > locked) violation = new Error(`${asset}: bridged supply ${supply} above locked ${locked}`);
        }
        samples++;
      } catch (e) {
        // A node restarting mid-run: sample again next time.
      }
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      if (violation) throw violation;
      return samples;
    },
  };
}

/// Waits until Ethereum and Parallax are quiet: every deposit Ethereum holds minted (or
/// failed), and every withdrawal Parallax initiated proven on Ethereum (paid, unpaid, queued).
export async function quiet(t, timeoutMs) {
  return until("every deposit minted and every withdrawal proven on Ethereum", async () => {
    if ((await t.bridgeL2.nextDepositNonce()) !== (await t.bridgeL1.depositCount())) return false;
    const next = await t.bridgeL2.nextWithdrawalId();
    return BigInt((await provenIds(t)).size) === next;
  }, timeoutMs);
}

/// The ids Ethereum has proven (each appears in one of these events at least once).
async function provenIds(t) {
  const ids = new Set();
  for (const name of ["WithdrawalFinalized", "WithdrawalPayoutFailed", "WithdrawalQueued"]) {
    for (const e of await t.bridgeL1.queryFilter(t.bridgeL1.filters[name](), 0, "latest")) ids.add(e.args.id);
  }
  return ids;
}

/// Conservation to the wei, per asset, from both chains' state and events:
///   locked on Ethereum == bridged supply on Parallax + withdrawals in flight (initiated on
///     Parallax, refunds of failed deposits included, not yet proven on Ethereum);
///   what the bridge holds == locked + owed (proven, unpaid or queued) + cancelled;
///   locked == deposits - proven withdrawals; supply == minted - burned by users.
/// Returns the figures; throws on any difference.
export async function conservation(t) {
  const l1Deposits = await t.bridgeL1.queryFilter(t.bridgeL1.filters.Deposit(), 0, "latest");
  const initiated = await t.bridgeL2.queryFilter(t.bridgeL2.filters.WithdrawalInitiated(), 0, "latest");
  const finalized = await t.bridgeL2.queryFilter(t.bridgeL2.filters.DepositFinalized(), 0, "latest");
  const proven = await provenIds(t);
  const report = {};
  for (const asset of t.assets) {
    const mine = (e) => e.args[1] === asset;
    const sum = (events) => events.filter(mine).reduce((a, e) => a + e.args.amount, 0n);
    const locked = await t.bridgeL1.locked(asset);
    const owed = await t.bridgeL1.owed(asset);
    const cancelled = await t.bridgeL1.cancelled(asset);
    const held = asset === ethers.ZeroAddress
      ? await t.l1.getBalance(t.B.l1_bridge)
      : await new ethers.Contract(asset, erc20Abi, t.l1).balanceOf(t.B.l1_bridge);
    const supply = await l2Supply(t, asset);
    const inFlight = sum(initiated.filter((e) => !proven.has(e.args.id)));
    const provenAmount = sum(initiated.filter((e) => proven.has(e.args.id)));
    const burned = sum(initiated.filter((e) => e.args.from.toLowerCase() !== t.B.l2_bridge.toLowerCase()));
    const name = asset === ethers.ZeroAddress ? "eth" : "token";
    const fail = (what) => { throw new Error(`${name}: ${what} (locked ${locked}, owed ${owed}, cancelled ${cancelled}, held ${held}, supply ${supply}, in flight ${inFlight})`); };
    if (locked !== supply + inFlight) fail("locked != bridged supply + in flight");
    if (held !== locked + owed + cancelled) fail("held != locked + owed + cancelled");
    if (locked !== sum(l1Deposits) - provenAmount) fail("locked != deposits - proven withdrawals");
    if (supply !== sum(finalized) - burned) fail("supply != minted - burned");
    report[name] = { locked: String(locked), owed: String(owed), supply: String(supply), inFlight: String(inFlight) };
  }
  report.totalDeposits = l1Deposits.length;
  report.totalWithdrawals = initiated.length;
  return report;
}

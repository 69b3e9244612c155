// The bridge end to end on a running testnet, as a user with ethers does it:
//   node testnet/e2e/bridge.mjs [DIR]        (DIR: the testnet directory, default .testnet)
// 1. deposits ETH and the test ERC-20 on Ethereum and waits until both are spendable on
//    Parallax (it spends part of each there);
// 2. withdraws both on Parallax to a fresh Ethereum address and waits, doing nothing else,
//    until the validators' relayer has paid them out on Ethereum;
// 3. checks conservation: locked on Ethereum = minted on Parallax - burned + in flight.
// Prints one JSON line with the timings (milliseconds) and exits non-zero on any failure.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ethers } from "ethers";

const dir = process.argv[2] ?? ".testnet";
const manifest = JSON.parse(readFileSync(join(dir, "testnet.json"), "utf8"));
if (!manifest.l1 || !manifest.bridge) throw new Error(`${dir} has no Ethereum (made with --no-l1?)`);
const TIMEOUT_MS = Number(process.env.BRIDGE_E2E_TIMEOUT_MS ?? 120_000);

const l1 = new ethers.JsonRpcProvider(manifest.l1.rpc, undefined, { staticNetwork: true, pollingInterval: 100 });
const l2 = new ethers.JsonRpcProvider(manifest.nodes[0].rpc_http, undefined, { staticNetwork: true, pollingInterval: 100 });
// Account 7 of the public test mnemonic: funded on both chains.
const key = manifest.accounts[7].private_key;
const userL1 = new ethers.NonceManager(new ethers.Wallet(key, l1));
const userL2 = new ethers.NonceManager(new ethers.Wallet(key, l2));
const user = await userL1.getAddress();
const l1Recipient = ethers.Wallet.createRandom().address;
const l2Spend = ethers.Wallet.createRandom().address;

const bridgeL1 = new ethers.Contract(manifest.bridge.l1_bridge, [
  "function depositETH(address l2Recipient) payable",
  "function depositERC20(address token, uint256 amount, address l2Recipient)",
  "function locked(address token) view returns (uint256)",
  "function isWithdrawalFinalized(uint256 id) view returns (bool)",
], userL1);
const tokenL1 = new ethers.Contract(manifest.bridge.l1_test_token, [
  "function approve(address spender, uint256 amount) returns (bool)",
  "function balanceOf(address owner) view returns (uint256)",
], userL1);
const bridgeL2 = new ethers.Contract(manifest.bridge.l2_bridge, [
  "function withdrawETH(address l1Recipient) payable",
  "function withdrawERC20(address l2Token, uint256 amount, address l1Recipient)",
  "function l2TokenFor(address l1Token) view returns (address)",
  "function minted(address l1Token) view returns (uint256)",
  "function burned(address l1Token) view returns (uint256)",
  "function nextWithdrawalId() view returns (uint256)",
  "event WithdrawalInitiated(uint256 indexed id, address indexed l1Token, address indexed from, address l1Recipient, uint256 amount)",
  "event DepositFinalized(uint256 indexed nonce, address indexed l1Token, address indexed l2Recipient, uint256 amount)",
], userL2);
const l2TokenAddress = await bridgeL2.l2TokenFor(manifest.bridge.l1_test_token);
const erc20 = ["function balanceOf(address) view returns (uint256)", "function transfer(address,uint256) returns (bool)"];
const tokenL2 = new ethers.Contract(l2TokenAddress, erc20, userL2);

async function until(what, check) {
  const start = Date.now();
  for (;;) {
    if (await check()) return Date.now() - start;
    if (Date.now() - start > TIMEOUT_MS) throw new Error(`timed out after ${TIMEOUT_MS} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
const l2TokenBalance = async (who) => ((await l2.getCode(l2TokenAddress)) === "0x" ? 0n : tokenL2.balanceOf(who));

const ethAmount = ethers.parseEther("2");
const tokenAmount = ethers.parseEther("1000");

// 1. Deposits.
const ethBefore = await l2.getBalance(user);
const tokBefore = await l2TokenBalance(user);
await (await tokenL1.approve(manifest.bridge.l1_bridge, tokenAmount)).wait();
const depositStart = Date.now();
const d1 = await (await bridgeL1.depositETH(user, { value: ethAmount })).wait();
const tokenDepositStart = Date.now();
const d2 = await (await bridgeL1.depositERC20(manifest.bridge.l1_test_token, tokenAmount, user)).wait();
const depositIncluded = Date.now();
await until("the ETH deposit on Parallax", async () => (await l2.getBalance(user)) >= ethBefore + ethAmount);
const ethArrived = Date.now();
await until("the ERC-20 deposit on Parallax", async () => (await l2TokenBalance(user)) >= tokBefore + tokenAmount);
const tokenArrived = Date.now();
// Parallax's RPC shows each deposit's DepositFinalized event (eth_getLogs), with what Ethereum's
// Deposit event recorded.
const depositEvent = new ethers.Interface(["event Deposit(uint256 indexed nonce, address indexed token, address indexed from, address l2Recipient, uint256 amount)"]);
for (const [receipt, token, amount] of [[d1, ethers.ZeroAddress, ethAmount], [d2, manifest.bridge.l1_test_token, tokenAmount]]) {
  const nonce = receipt.logs.map((l) => { try { return depositEvent.parseLog(l); } catch { return null; } }).find((e) => e?.name === "Deposit").args.nonce;
  const finalized = await bridgeL2.queryFilter(bridgeL2.filters.DepositFinalized(nonce), 0, "latest");
  if (finalized.length !== 1) throw new Error(`deposit ${nonce}: ${finalized.length} DepositFinalized events on Parallax`);
  const e = finalized[0];
  if (e.args.l1Token !== token || e.args.l2Recipient !== user || e.args.amount !== amount) throw new Error(`deposit ${nonce}: DepositFinalized ${e.args}`);
}
// Spendable: move part of each on Parallax.
await (await userL2.sendTransaction({ to: l2Spend, value: ethers.parseEther("0.5") })).wait();
await (await tokenL2.transfer(l2Spend, ethers.parseEther("100"))).wait();
const spent = Date.now();
if ((await tokenL2.balanceOf(l2Spend)) !== ethers.parseEther("100")) throw new Error("the bridged token did not move");

// 2. Withdrawals, hands-off: nothing but waiting after the two Parallax transactions.
const withdrawEth = ethers.parseEther("1");
const withdrawTok = ethers.parseEther("400");
const firstId = await bridgeL2.nextWithdrawalId();
const withdrawStart = Date.now();
const w1 = await (await bridgeL2.withdrawETH(l1Recipient, { value: withdrawEth })).wait();
const ethWithdrawIncluded = Date.now();
const tokenWithdrawStart = Date.now();
const w2 = await (await bridgeL2.withdrawERC20(l2TokenAddress, withdrawTok, l1Recipient)).wait();
const withdrawIncluded = Date.now();
const ids = [w1, w2].flatMap((r) => r.logs.map((l) => bridgeL2.interface.parseLog(l)).filter((e) => e?.name === "WithdrawalInitiated").map((e) => e.args.id));
if (ids.length !== 2 || ids[0] !== firstId) throw new Error(`unexpected withdrawal ids ${ids}`);
await until("the ETH withdrawal on Ethereum", async () => (await l1.getBalance(l1Recipient)) === withdrawEth);
const ethBack = Date.now();
await until("the ERC-20 withdrawal on Ethereum", async () => (await tokenL1.balanceOf(l1Recipient)) === withdrawTok);
const tokenBack = Date.now();
for (const id of ids) {
  if (!(await bridgeL1.isWithdrawalFinalized(id))) throw new Error(`withdrawal ${id} paid but not marked finalized`);
}

// 3. Conservation, per token: everything withdrawn so far is finalized, so nothing is in flight
// once the relayer has caught up; wait for that, then compare to the wei.
const tokens = [ethers.ZeroAddress, manifest.bridge.l1_test_token];
await until("every initiated withdrawal finalized", async () => {
  const next = await bridgeL2.nextWithdrawalId();
  for (let id = 0n; id < next; id++) if (!(await bridgeL1.isWithdrawalFinalized(id))) return false;
  return true;
});
for (const t of tokens) {
  const locked = await bridgeL1.locked(t);
  const minted = await bridgeL2.minted(t);
  const burned = await bridgeL2.burned(t);
  if (locked !== minted - burned) throw new Error(`conservation broken for ${t}: locked ${locked}, minted ${minted}, burned ${burned}`);
}
const l1Block = async (n) => (await l1.getBlock(n)).timestamp;
const head = await l1.getBlockNumber();
// Each figure runs from the moment the user sends the transaction to the moment the funds are
// there (deposits: the balance on Parallax; withdrawals: the balance on Ethereum).
console.log(JSON.stringify({
  depositIncludedOnL1Ms: depositIncluded - depositStart,
  depositToSpendableEthMs: ethArrived - depositStart,
  depositToSpendableTokenMs: tokenArrived - tokenDepositStart,
  spentOnParallaxMs: spent - tokenArrived,
  withdrawalIncludedOnL2Ms: ethWithdrawIncluded - withdrawStart,
  withdrawalToL1EthMs: ethBack - withdrawStart,
  withdrawalToL1TokenMs: tokenBack - tokenWithdrawStart,
  confirmations: manifest.bridge.confirmations,
  l1BlockTimeS: head > 2 ? (await l1Block(head)) - (await l1Block(head - 1)) : null,
  depositL1Blocks: [d1.blockNumber, d2.blockNumber],
  withdrawalIds: ids.map(String),
}));

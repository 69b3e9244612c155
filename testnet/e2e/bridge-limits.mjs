// The bridge's brakes on a running testnet, driven with the validators' own bridge keys (read
// from DIR/node*/key.json, as an operator holds them):
//   node testnet/e2e/bridge-limits.mjs DIR
// 1. More than 2/3 of the validators set a rate limit on ETH withdrawals (1 ETH per hour,
//    20 s delay beyond it); parallax_bridgeStatus shows it. A withdrawal within the limit is
//    paid at once; one above it is queued on Ethereum (status `queued`, with its release
//    time) and paid by the relayer once released, with no step by the user.
// 2. One validator pauses Ethereum's bridge on its own: deposits revert; status shows it; a
//    quorum unpauses.
// 3. One validator pauses withdrawals on Parallax: a withdrawal reverts, deposits are still
//    minted; status shows it; a quorum unpauses and the withdrawal goes through.
// Ends with the limit removed and the conservation check. Prints one JSON line.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ethers } from "ethers";
import { conservation, l2Balance, testnet, until } from "./lib.mjs";

const dir = process.argv[2] ?? ".testnet";
const t = await testnet(dir);
const { manifest, l1, l2, B } = t;
const ETH = ethers.ZeroAddress;
const rpc = (method, params) => l2.send(method, params);
const keys = manifest.nodes.filter((n) => n.validator).map((n) => {
  const file = JSON.parse(readFileSync(join(dirname(n.config), "key.json"), "utf8"));
  return new ethers.Wallet(file.bridge.secretKey);
});
function dirname(p) { return p.replace(/\/[^/]*$/, ""); }
const l1Domain = {
  name: "ParallaxBridge", version: "1", chainId: manifest.l1.chain_id, verifyingContract: B.l1_bridge,
  salt: ethers.zeroPadValue(ethers.toBeHex(manifest.chain_id), 32),
};
const l2Domain = { name: "ParallaxBridgeL2", version: "1", chainId: manifest.chain_id, verifyingContract: B.l2_bridge };
// Signatures of the first `n` validators in ascending signer order, as the contracts take them.
async function quorum(domain, types, value, n = 3) {
  const signed = await Promise.all(keys.slice(0, n).map(async (k) => [k.address.toLowerCase(), await k.signTypedData(domain, types, value)]));
  return signed.sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([, s]) => s);
}
const govAbi = [
  "function governanceNonce() view returns (uint256)",
  "function setWithdrawalLimit(address token, uint256 maxPerWindow, uint256 window, uint256 delay, bytes[] signatures)",
  "function setPaused(bool paused, bytes[] signatures)",
  "function guardianPause(bytes signature)",
];
const sender = new ethers.NonceManager(new ethers.Wallet(manifest.accounts[1].private_key, l1));
const govL1 = new ethers.Contract(B.l1_bridge, govAbi, sender);
const user = manifest.accounts[2];
const userL1 = new ethers.NonceManager(new ethers.Wallet(user.private_key, l1));
const userL2 = new ethers.NonceManager(new ethers.Wallet(user.private_key, l2));
const govL2 = new ethers.Contract(B.l2_bridge, govAbi, userL2);
const status = (q) => rpc("parallax_bridgeStatus", q ? [q] : []);
const limitTypes = { WithdrawalLimit: [
  { name: "nonce", type: "uint256" }, { name: "token", type: "address" }, { name: "maxPerWindow", type: "uint256" },
  { name: "window", type: "uint256" }, { name: "delay", type: "uint256" }] };
const pausedTypes = { SetPaused: [{ name: "nonce", type: "uint256" }, { name: "paused", type: "bool" }] };
const guardianTypes = { GuardianPause: [{ name: "nonce", type: "uint256" }] };
async function setLimit(max, window, delay) {
  const nonce = await govL1.governanceNonce();
  const sigs = await quorum(l1Domain, limitTypes, { nonce, token: ETH, maxPerWindow: max, window, delay });
  await (await govL1.setWithdrawalLimit(ETH, max, window, delay, sigs)).wait();
}

// 1. A rate limit, shown, a withdrawal queued above it and released.
await setLimit(ethers.parseEther("1"), 3600, 20);
await until("the limit in parallax_bridgeStatus", async () => {
  const l = (await status()).withdrawalLimits.find((x) => x.token === ETH);
  return l && BigInt(l.maxPerWindow) === ethers.parseEther("1") && BigInt(l.delaySeconds) === 20n;
});
const before = await l2Balance(t, ETH, user.address);
await (await t.bridgeL1.connect(userL1).depositETH(user.address, { value: ethers.parseEther("3") })).wait();
await until("the deposit", async () => (await l2Balance(t, ETH, user.address)) >= before + ethers.parseEther("3"));
const [small, large] = [ethers.Wallet.createRandom().address, ethers.Wallet.createRandom().address];
const withdraw = async (to, amount, extra = {}) => {
  const tx = await t.bridgeL2.connect(userL2).withdrawERC20(t.l2Token[ETH], amount, to, { gasLimit: 300_000, ...extra });
  try {
    return await tx.wait();
  } catch (e) {
    if (e?.receipt) return e.receipt;
    throw e;
  }
};
const idOf = (r) => r.logs.map((l) => { try { return t.bridgeL2.interface.parseLog(l); } catch { return null; } }).find((e) => e?.name === "WithdrawalInitiated").args.id;
const rSmall = await withdraw(small, ethers.parseEther("0.5"));
const rLarge = await withdraw(large, ethers.parseEther("2"));
await until("the withdrawal within the limit paid", async () => (await l1.getBalance(small)) === ethers.parseEther("0.5"));
const largeId = idOf(rLarge);
let queuedSeen = null;
await until("the withdrawal above the limit queued", async () => {
  const s = (await status({ withdrawal: ethers.toQuantity(largeId) })).withdrawal;
  if (s.state === "queued") queuedSeen = s;
  return s.state === "queued" || (await l1.getBalance(large)) > 0n;
});
if (!queuedSeen || !queuedSeen.releaseAt) throw new Error(`the large withdrawal was never reported queued with a release time: ${JSON.stringify(queuedSeen)}`);
const queuedAt = Date.now();
await until("the queued withdrawal paid once released", async () => (await l1.getBalance(large)) === ethers.parseEther("2"));
const releasedAfterMs = Date.now() - queuedAt;

// 2. One validator pauses Ethereum's side.
let nonce = await govL1.governanceNonce();
await (await govL1.guardianPause(await keys[3].signTypedData(l1Domain, guardianTypes, { nonce }))).wait();
if ((await status()).paused.ethereum !== true) throw new Error("status does not show Ethereum's bridge paused");
let refused = false;
try {
  await t.bridgeL1.connect(userL1).depositETH.staticCall(user.address, { value: 1n });
} catch (e) {
  refused = String(e?.shortMessage ?? e).includes("bridge is paused") || String(e?.reason).includes("bridge is paused");
}
if (!refused) throw new Error("a deposit went through a paused bridge");
nonce = await govL1.governanceNonce();
await (await govL1.setPaused(false, await quorum(l1Domain, pausedTypes, { nonce, paused: false }))).wait();
await until("status to show Ethereum's bridge unpaused", async () => (await status()).paused.ethereum === false);

// 3. One validator pauses Parallax's withdrawals; deposits go on.
nonce = await govL2.governanceNonce();
const pauseTx = await govL2.guardianPause(await keys[1].signTypedData(l2Domain, guardianTypes, { nonce }));
await pauseTx.wait();
if ((await status()).paused.parallax !== true) throw new Error("status does not show Parallax's withdrawals paused");
const blocked = await withdraw(small, ethers.parseEther("0.1"));
if (blocked.status !== 0) throw new Error("a withdrawal went through while paused");
const mid = await l2Balance(t, ETH, user.address);
await (await t.bridgeL1.connect(userL1).depositETH(user.address, { value: ethers.parseEther("0.25") })).wait();
await until("a deposit minted while withdrawals are paused", async () => (await l2Balance(t, ETH, user.address)) >= mid + ethers.parseEther("0.25"));
nonce = await govL2.governanceNonce();
await (await govL2.setPaused(false, await quorum(l2Domain, pausedTypes, { nonce, paused: false }))).wait();
const after = await withdraw(small, ethers.parseEther("0.1"));
if (after.status !== 1) throw new Error("the withdrawal still fails after the quorum unpaused");
if ((await status()).paused.parallax !== false) throw new Error("status still shows Parallax paused");
await until("the withdrawal after the pause paid", async () => (await l1.getBalance(small)) === ethers.parseEther("0.6"));

// No limit any more.
await setLimit(0n, 0n, 0n);
console.log(JSON.stringify({ queued: String(largeId), releaseAt: queuedSeen.releaseAt, releasedAfterMs, ...(await conservation(t)) }));

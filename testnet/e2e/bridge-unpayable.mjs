// Thousands of withdrawals that can never be paid, interleaved with ordinary ones, on a
// running testnet:
//   node testnet/e2e/bridge-unpayable.mjs DIR [--count N]
// Four users (development accounts 16..19) deposit ETH and the test token, then withdraw N
// times in all, in waves. Every third withdrawal goes where no payout can arrive: ETH to a
// contract that refuses ETH, ETH to the Ethereum bridge itself, tokens to an address the token
// blocks. The rest go to fresh addresses. It waits, doing nothing, until Ethereum has proven
// every withdrawal, then checks: every ordinary withdrawal paid to the wei; every unpayable
// one recorded unpaid on Ethereum and reported `unpaid` by parallax_bridgeStatus; then the
// blocked recipients are let in and anyone finalizes their withdrawals with nothing but RPC
// data (parallax_getWithdrawalProof). Ends with the conservation check. Prints one JSON line.
import { readFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { ethers } from "ethers";
import { conservation, erc20Abi, l2Balance, quiet, testnet, until } from "./lib.mjs";

const args = process.argv.slice(2);
const dir = args[0] ?? ".testnet";
const ci = args.indexOf("--count");
const COUNT = ci >= 0 ? Number(args[ci + 1]) : 2_000;
const WAVE = 120; // per user and wave: within the mempool's 128 per sender
const t = await testnet(dir);
const { manifest, l1, l2, B } = t;
const ETH = ethers.ZeroAddress;
const PTT = B.l1_test_token;
const artifact = (name) => JSON.parse(readFileSync(join(dirname(fileURLToPath(import.meta.url)), "../../bridge/contracts/artifacts", `${name}.json`), "utf8"));
const rpc = (method, params) => l2.send(method, params);

// Ethereum: a contract that refuses ETH, and an address the token blocks (account 0 is the
// test token's minter).
const owner = new ethers.NonceManager(new ethers.Wallet(manifest.accounts[0].private_key, l1));
const refusing = artifact("RefusingReceiver");
const refuser = await (await new ethers.ContractFactory(refusing.abi, refusing.bytecode, owner).deploy()).waitForDeployment();
const refuserAddress = await refuser.getAddress();
const blocked = ethers.Wallet.createRandom().address;
const tokenAdmin = new ethers.Contract(PTT, ["function setBlocked(address who, bool isBlocked)"], owner);
await (await tokenAdmin.setBlocked(blocked, true)).wait();

// Deposits.
const users = manifest.accounts.slice(16, 20).map((a) => ({
  address: a.address,
  key: a.private_key,
  l1: new ethers.NonceManager(new ethers.Wallet(a.private_key, l1)),
}));
const perUser = Math.ceil(COUNT / users.length);
const ethEach = ethers.parseEther("0.001");
const pttEach = ethers.parseEther("1");
for (const u of users) {
  await (await new ethers.Contract(PTT, erc20Abi, u.l1).approve(B.l1_bridge, ethers.MaxUint256)).wait();
  await (await t.bridgeL1.connect(u.l1).depositETH(u.address, { value: ethEach * BigInt(perUser) })).wait();
  await (await t.bridgeL1.connect(u.l1).depositERC20(PTT, pttEach * BigInt(perUser), u.address)).wait();
}
await until("the deposits on Parallax", async () => {
  for (const u of users) {
    if ((await l2Balance(t, ETH, u.address)) < ethEach * BigInt(perUser)) return false;
    if ((await l2Balance(t, PTT, u.address)) < pttEach * BigInt(perUser)) return false;
  }
  return true;
});

// The withdrawals: pre-signed, sent in waves.
const chainId = (await l2.getNetwork()).chainId;
const fee = await l2.getFeeData();
const iface = t.bridgeL2.interface;
const plan = []; // { user, recipient, asset, amount, unpayable }
for (let i = 0; i < COUNT; i++) {
  const unpayable = i % 3 === 0;
  const kind = (i / 3) % 3;
  let asset, recipient;
  if (unpayable) {
    [asset, recipient] = [[ETH, refuserAddress], [ETH, B.l1_bridge], [PTT, blocked]][Math.floor(kind)];
  } else {
    asset = i % 2 === 0 ? ETH : PTT;
    recipient = ethers.getAddress(ethers.dataSlice(ethers.keccak256(ethers.toUtf8Bytes(`recipient ${i} ${Date.now()}`)), 12));
  }
  plan.push({ user: users[i % users.length], recipient, asset, amount: asset === ETH ? ethEach : pttEach, unpayable });
}
const started = Date.now();
const nonces = new Map();
for (const u of users) nonces.set(u.address, await l2.getTransactionCount(u.address, "pending"));
const hashes = [];
for (let wave = 0; wave * WAVE * users.length < COUNT; wave++) {
  const batch = plan.slice(wave * WAVE * users.length, (wave + 1) * WAVE * users.length);
  const raw = await Promise.all(batch.map(async (p) => {
    const wallet = new ethers.Wallet(p.user.key);
    const nonce = nonces.get(p.user.address);
    nonces.set(p.user.address, nonce + 1);
    return wallet.signTransaction({
      type: 2, chainId, nonce, gasLimit: 200_000,
      maxFeePerGas: fee.maxFeePerGas * 2n, maxPriorityFeePerGas: fee.maxPriorityFeePerGas,
      to: B.l2_bridge, data: iface.encodeFunctionData("withdrawERC20", [t.l2Token[p.asset], p.amount, p.recipient]),
    });
  }));
  const sent = [];
  for (let i = 0; i < raw.length; i += 50) {
    sent.push(...(await Promise.all(raw.slice(i, i + 50).map((r) => rpc("eth_sendRawTransaction", [r])))));
  }
  hashes.push(...sent);
  // The wave is in when every sender's last transaction is.
  await until(`wave ${wave} on Parallax`, async () => (await l2.getTransactionReceipt(sent[sent.length - 1])) !== null);
  await until(`wave ${wave} mined`, async () => {
    for (const u of users) if ((await l2.getTransactionCount(u.address, "latest")) < nonces.get(u.address)) return false;
    return true;
  });
}
const ids = [];
for (const h of hashes) {
  const r = await l2.getTransactionReceipt(h);
  if (r.status !== 1) throw new Error(`withdrawal ${h} failed on Parallax`);
  const e = r.logs.map((l) => { try { return iface.parseLog(l); } catch { return null; } }).find((x) => x?.name === "WithdrawalInitiated");
  ids.push(e.args.id);
}
const onParallax = Date.now();

// Hands off: wait until Ethereum has proven every withdrawal.
await quiet(t, 600_000);
const settled = Date.now();
let paid = 0;
let unpaid = 0;
for (let i = 0; i < COUNT; i++) {
  const p = plan[i];
  const [state] = await t.bridgeL1.withdrawalStatus(ids[i]);
  if (p.unpayable) {
    if (state !== 2n) throw new Error(`unpayable withdrawal ${ids[i]} is in state ${state}, not unpaid`);
    unpaid++;
  } else {
    if (state !== 1n) throw new Error(`ordinary withdrawal ${ids[i]} is in state ${state}, not paid`);
    const got = p.asset === ETH ? await l1.getBalance(p.recipient) : await new ethers.Contract(PTT, erc20Abi, l1).balanceOf(p.recipient);
    if (got !== p.amount) throw new Error(`${p.recipient} got ${got}, expected ${p.amount}`);
    paid++;
  }
}
const status = async (id) => (await rpc("parallax_bridgeStatus", [{ withdrawal: ethers.toQuantity(id) }])).withdrawal.state;
if ((await status(ids[0])) !== "unpaid") throw new Error(`status of ${ids[0]}: ${await status(ids[0])}`);
if ((await status(ids[1])) !== "finalized") throw new Error(`status of ${ids[1]}: ${await status(ids[1])}`);

// The recipients can take their funds now: anyone finalizes them from RPC data alone.
await (await refuser.connect(owner).setAccepting(true)).wait();
await (await tokenAdmin.setBlocked(blocked, false)).wait();
const anyone = t.bridgeL1.connect(new ethers.NonceManager(new ethers.Wallet(manifest.accounts[5].private_key, l1)));
const claimed = [];
for (const i of [0, 6]) {
  const proof = await rpc("parallax_getWithdrawalProof", [ethers.toQuantity(ids[i])]);
  await (await anyone.finalizeWithdrawal(proof.id, proof.l1Token, proof.l1Recipient, proof.amount, proof.l2BlockNumber, proof.proof)).wait();
  claimed.push(String(ids[i]));
}
if ((await l1.getBalance(refuserAddress)) !== ethEach) throw new Error("the refusing contract did not get its ETH once it accepted");
if ((await new ethers.Contract(PTT, erc20Abi, l1).balanceOf(blocked)) !== pttEach) throw new Error("the unblocked address did not get its tokens");
const report = await conservation(t);
console.log(JSON.stringify({ count: COUNT, paid, unpaid, claimed, toParallaxMs: onParallax - started, settledMs: settled - onParallax, ...report }));

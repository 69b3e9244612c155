// Finishing a withdrawal with nothing but RPC data, as a user or watchtower would when no
// validator relays (run it on a testnet whose validators have `relay = false`):
//   node testnet/e2e/bridge-manual.mjs DIR
// A user deposits ETH and the test token, withdraws both on Parallax to a fresh address, then
// waits until a node's parallax_getWithdrawalProof carries a quorum of the validators'
// signatures, submits the root to Ethereum itself (when no one has) and finalizes each
// withdrawal with its proof, paying the gas from its own Ethereum account. Checks the funds
// arrived and that no validator submitted anything. Prints one JSON line.
import { ethers } from "ethers";
import { conservation, erc20Abi, l2Balance, testnet, until } from "./lib.mjs";

const t = await testnet(process.argv[2] ?? ".testnet");
const { manifest, l1, l2, B } = t;
const ETH = ethers.ZeroAddress;
const PTT = B.l1_test_token;
const key = manifest.accounts[3].private_key;
const userL1 = new ethers.NonceManager(new ethers.Wallet(key, l1));
const userL2 = new ethers.NonceManager(new ethers.Wallet(key, l2));
const user = await userL1.getAddress();
const to = ethers.Wallet.createRandom().address;
const amounts = { [ETH]: ethers.parseEther("0.75"), [PTT]: ethers.parseEther("12") };

await (await new ethers.Contract(PTT, erc20Abi, userL1).approve(B.l1_bridge, amounts[PTT])).wait();
const ethBefore = await l2Balance(t, ETH, user);
const pttBefore = await l2Balance(t, PTT, user);
await (await t.bridgeL1.connect(userL1).depositETH(user, { value: amounts[ETH] })).wait();
await (await t.bridgeL1.connect(userL1).depositERC20(PTT, amounts[PTT], user)).wait();
await until("the deposits on Parallax", async () =>
  (await l2Balance(t, ETH, user)) >= ethBefore + amounts[ETH] && (await l2Balance(t, PTT, user)) >= pttBefore + amounts[PTT]);

const ids = [];
for (const asset of [ETH, PTT]) {
  const r = await (await t.bridgeL2.connect(userL2).withdrawERC20(t.l2Token[asset], amounts[asset], to)).wait();
  const e = r.logs.map((l) => { try { return t.bridgeL2.interface.parseLog(l); } catch { return null; } }).find((x) => x?.name === "WithdrawalInitiated");
  ids.push(e.args.id);
}

// RPC data only: the proof and the quorum's signatures, from any node.
const proofs = [];
for (const id of ids) {
  let proof;
  await until(`a quorum's signatures for withdrawal ${id}`, async () => {
    proof = await l2.send("parallax_getWithdrawalProof", [ethers.toQuantity(id)]);
    return proof?.quorum === true;
  });
  proofs.push(proof);
}
const bridge = t.bridgeL1.connect(userL1);
let rootsSubmitted = 0;
for (const p of proofs) {
  if ((await bridge.withdrawalRoots(p.l2BlockNumber)) === ethers.ZeroHash) {
    await (await bridge.submitWithdrawalRoot(p.l2BlockNumber, p.root, p.signatures)).wait();
    rootsSubmitted++;
  }
  await (await bridge.finalizeWithdrawal(p.id, p.l1Token, p.l1Recipient, p.amount, p.l2BlockNumber, p.proof)).wait();
}
if ((await l1.getBalance(to)) !== amounts[ETH]) throw new Error("the ETH did not arrive");
if ((await new ethers.Contract(PTT, erc20Abi, l1).balanceOf(to)) !== amounts[PTT]) throw new Error("the tokens did not arrive");
for (const n of manifest.nodes.filter((n) => n.pid !== null)) {
  const p = new ethers.JsonRpcProvider(n.rpc_http, undefined, { staticNetwork: true });
  const s = await p.send("parallax_bridgeStatus", []);
  if (BigInt(s.withdrawals.rootsSubmittedByThisNode) !== 0n || BigInt(s.withdrawals.finalizedByThisNode) !== 0n) {
    throw new Error(`${n.name} relayed although relaying is off: ${JSON.stringify(s.withdrawals)}`);
  }
}
console.log(JSON.stringify({ withdrawals: ids.map(String), rootsSubmitted, signatures: proofs.map((p) => p.signatures.length), ...(await conservation(t)) }));

// The bridge end to end on a running testnet, as a user with ethers does it:
//   node testnet/e2e/bridge.mjs [DIR]        (DIR: the testnet directory, default .testnet)
// 1. deposits ETH and the test ERC-20 on Ethereum and waits until both are spendable on
//    Parallax: ETH arrives as the bridged ETH token (an ERC-20 named "Ether"), the test token as
//    its bridged token with the same name, symbol and decimals; the user's PLX (Parallax's own
//    gas currency) does not change, but for gas. It spends part of each there;
// 2. withdraws both on Parallax to a fresh Ethereum address and waits, doing nothing else,
//    until the validators' relayer has paid them out on Ethereum;
// 3. checks conservation to the wei (see lib.mjs).
// Prints one JSON line with the timings (milliseconds) and exits non-zero on any failure.
import { ethers } from "ethers";
import { conservation, erc20Abi, l2Balance, quiet, testnet, until } from "./lib.mjs";

const t = await testnet(process.argv[2] ?? ".testnet");
const { manifest, l1, l2, B } = t;
// Account 7 of the public test mnemonic: funded on both chains.
const key = manifest.accounts[7].private_key;
const userL1 = new ethers.NonceManager(new ethers.Wallet(key, l1));
const userL2 = new ethers.NonceManager(new ethers.Wallet(key, l2));
const user = await userL1.getAddress();
const l1Recipient = ethers.Wallet.createRandom().address;
const l2Spend = ethers.Wallet.createRandom().address;
const ETH = ethers.ZeroAddress;
const PTT = B.l1_test_token;

const bridgeL1 = t.bridgeL1.connect(userL1);
const bridgeL2 = t.bridgeL2.connect(userL2);
const tokenL1 = new ethers.Contract(PTT, erc20Abi, userL1);
const ethL2 = new ethers.Contract(t.l2Token[ETH], erc20Abi, userL2);
const pttL2 = new ethers.Contract(t.l2Token[PTT], erc20Abi, userL2);

const ethAmount = ethers.parseEther("2");
const tokenAmount = ethers.parseEther("1000");

// 1. Deposits.
const plxBefore = await l2.getBalance(user);
const ethBefore = await l2Balance(t, ETH, user);
const tokBefore = await l2Balance(t, PTT, user);
await (await tokenL1.approve(B.l1_bridge, tokenAmount)).wait();
const depositStart = Date.now();
const d1 = await (await bridgeL1.depositETH(user, { value: ethAmount })).wait();
const tokenDepositStart = Date.now();
const d2 = await (await bridgeL1.depositERC20(PTT, tokenAmount, user)).wait();
const depositIncluded = Date.now();
await until("the ETH deposit on Parallax", async () => (await l2Balance(t, ETH, user)) >= ethBefore + ethAmount);
const ethArrived = Date.now();
await until("the ERC-20 deposit on Parallax", async () => (await l2Balance(t, PTT, user)) >= tokBefore + tokenAmount);
const tokenArrived = Date.now();
if ((await l2.getBalance(user)) !== plxBefore) throw new Error("a deposit changed the user's PLX: Parallax's currency must not be bridged");
// Wallets show the bridged tokens as their Ethereum originals.
const describe = async (c) => [await c.name(), await c.symbol(), Number(await c.decimals())];
const [ethMeta, pttMeta] = [await describe(ethL2), await describe(pttL2)];
if (JSON.stringify(ethMeta) !== JSON.stringify(["Ether", "ETH", 18])) throw new Error(`bridged ETH is ${ethMeta}`);
if (JSON.stringify(pttMeta) !== JSON.stringify(["Parallax Test Token", "PTT", 18])) throw new Error(`bridged PTT is ${pttMeta}`);
// Parallax's RPC shows each deposit's DepositFinalized event (eth_getLogs), with what Ethereum's
// Deposit event recorded.
for (const [receipt, token, amount] of [[d1, ETH, ethAmount], [d2, PTT, tokenAmount]]) {
  const nonce = receipt.logs.map((l) => { try { return t.bridgeL1.interface.parseLog(l); } catch { return null; } }).find((e) => e?.name === "Deposit").args.nonce;
  const finalized = await t.bridgeL2.queryFilter(t.bridgeL2.filters.DepositFinalized(nonce), 0, "latest");
  if (finalized.length !== 1) throw new Error(`deposit ${nonce}: ${finalized.length} DepositFinalized events on Parallax`);
  const e = finalized[0];
  if (e.args.l1Token !== token || e.args.l2Recipient !== user || e.args.amount !== amount) throw new Error(`deposit ${nonce}: DepositFinalized ${e.args}`);
}
// Spendable: move part of each on Parallax (gas paid in PLX).
await (await ethL2.transfer(l2Spend, ethers.parseEther("0.5"))).wait();
await (await pttL2.transfer(l2Spend, ethers.parseEther("100"))).wait();
const spent = Date.now();
if ((await pttL2.balanceOf(l2Spend)) !== ethers.parseEther("100")) throw new Error("the bridged token did not move");

// 2. Withdrawals, hands-off: nothing but waiting after the two Parallax transactions.
const withdrawEth = ethers.parseEther("1");
const withdrawTok = ethers.parseEther("400");
const firstId = await t.bridgeL2.nextWithdrawalId();
const withdrawStart = Date.now();
const w1 = await (await bridgeL2.withdrawERC20(t.l2Token[ETH], withdrawEth, l1Recipient)).wait();
const ethWithdrawIncluded = Date.now();
const tokenWithdrawStart = Date.now();
const w2 = await (await bridgeL2.withdrawERC20(t.l2Token[PTT], withdrawTok, l1Recipient)).wait();
const ids = [w1, w2].flatMap((r) => r.logs.map((l) => { try { return t.bridgeL2.interface.parseLog(l); } catch { return null; } }).filter((e) => e?.name === "WithdrawalInitiated").map((e) => e.args.id));
if (ids.length !== 2 || ids[0] !== firstId) throw new Error(`unexpected withdrawal ids ${ids}`);
await until("the ETH withdrawal on Ethereum", async () => (await l1.getBalance(l1Recipient)) === withdrawEth);
const ethBack = Date.now();
await until("the ERC-20 withdrawal on Ethereum", async () => (await tokenL1.balanceOf(l1Recipient)) === withdrawTok);
const tokenBack = Date.now();
for (const id of ids) {
  if (!(await t.bridgeL1.isWithdrawalFinalized(id))) throw new Error(`withdrawal ${id} paid but not marked finalized`);
}

// 3. Conservation, once nothing is in flight.
await quiet(t);
const report = await conservation(t);
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
  confirmations: B.confirmations,
  l1BlockTimeS: head > 2 ? (await l1Block(head)) - (await l1Block(head - 1)) : null,
  depositL1Blocks: [d1.blockNumber, d2.blockNumber],
  withdrawalIds: ids.map(String),
  bridgedEth: ethMeta,
  bridgedToken: pttMeta,
  ...report,
}));

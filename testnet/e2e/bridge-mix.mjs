// A random mix of bridge deposits and withdrawals by many users on a running testnet, then a
// conservation check to the wei, for ETH and the test ERC-20:
//   node testnet/e2e/bridge-mix.mjs DIR [--ops N] [--seed S] [--users U] [--via I]
// Each user (development accounts 8 ..) deposits ETH and tokens on Ethereum and withdraws part
// of what reached Parallax back to its own Ethereum address, in random order and amounts, with
// no waiting between operations. Among them, users who hold only Parallax's own currency (PLX,
// never bridged; fresh accounts funded on Parallax alone) try to take what depositors locked:
// they send PLX to the bridge and withdraw bridged ETH and tokens they do not hold. Every one
// of those must fail, and every depositor's withdrawal must succeed and be paid.
// While it runs, each asset's bridged supply is sampled against what Ethereum holds locked
// (never above). Then it waits until both chains are quiet and checks (lib.mjs `conservation`):
//   - per asset: locked on Ethereum == bridged supply + in flight, held == locked + owed +
//     cancelled, locked == deposits - proven, supply == minted - burned;
//   - per user: bridged balances on Parallax, the token on Ethereum, and ETH on Ethereum (less
//     the user's own gas) moved by exactly the amounts this run deposited and withdrew.
// `--via I` sends every Parallax transaction through node I's RPC (for runs during which other
// nodes restart). Run it again after restarts: the checks cover the whole history. Prints one
// JSON line.
import { ethers } from "ethers";
import { bridgeL1Abi, bridgeL2Abi, conservation, erc20Abi, l2Balance, quiet, sampleBacking, testnet } from "./lib.mjs";

const args = process.argv.slice(2);
const dir = args[0] ?? ".testnet";
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const OPS = opt("--ops", 40);
let seed = opt("--seed", 1) >>> 0;
const USERS = opt("--users", 8);
const VIA = opt("--via", -1);
const rand = () => {
  // xorshift32: the same seed gives the same mix.
  seed ^= seed << 13; seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5; seed >>>= 0;
  return seed / 4294967296;
};

const t = await testnet(dir);
const { manifest, l1, B } = t;
const ETH = ethers.ZeroAddress;
const PTT = B.l1_test_token;
const opts = { staticNetwork: true, pollingInterval: 100 };
const l2s = VIA >= 0 ? [new ethers.JsonRpcProvider(manifest.nodes[VIA].rpc_http, undefined, opts)] : t.l2s;

const users = manifest.accounts.slice(8, 8 + USERS).map((a, i) => ({
  address: a.address,
  l1: new ethers.NonceManager(new ethers.Wallet(a.private_key, l1)),
  l2: new ethers.NonceManager(new ethers.Wallet(a.private_key, l2s[i % l2s.length])),
  // Each user's transactions go out one after another.
  queue: Promise.resolve(),
  fees: 0n,
}));
const inTurn = (u, send) => {
  const done = u.queue.then(send).then((tx) => tx.wait(1, 180_000)).catch((e) => {
    // A transaction that reverts on chain is a receipt with status 0, not an exception.
    if (e?.receipt) return e.receipt;
    throw e;
  });
  u.queue = done.catch(() => {});
  return done;
};

// Balances before this run.
const before = new Map();
for (const u of users) {
  before.set(u.address, {
    l1Eth: await l1.getBalance(u.address),
    l1Ptt: await new ethers.Contract(PTT, erc20Abi, l1).balanceOf(u.address),
    l2Eth: await l2Balance(t, ETH, u.address),
    l2Ptt: await l2Balance(t, PTT, u.address),
  });
}
const moved = new Map(users.map((u) => [u.address, { [ETH]: { deposited: 0n, withdrawn: 0n }, [PTT]: { deposited: 0n, withdrawn: 0n } }]));
// What each user holds on Parallax as far as this run knows (minted deposits only count once
// seen, so withdrawals never ask for more than the user holds).
const l2Held = async (u, asset) => (await l2Balance(t, asset, u.address)) - moved.get(u.address)[asset].pendingWithdraw;
for (const m of moved.values()) for (const a of [ETH, PTT]) m[a].pendingWithdraw = 0n;

// Every user approves once (enough for the run).
await Promise.all(users.map((u) => inTurn(u, () => new ethers.Contract(PTT, erc20Abi, u.l1).approve(B.l1_bridge, ethers.MaxUint256)).then((r) => { u.fees += r.fee; })));

// Users with nothing but PLX: fresh keys funded on Parallax by development account 6.
const funder = new ethers.NonceManager(new ethers.Wallet(manifest.accounts[6].private_key, l2s[0]));
const outsiders = [];
for (let i = 0; i < 2; i++) {
  const w = ethers.Wallet.createRandom().connect(l2s[0]);
  await (await funder.sendTransaction({ to: w.address, value: ethers.parseEther("50") })).wait();
  outsiders.push({ address: w.address, l2: new ethers.NonceManager(w), queue: Promise.resolve(), fees: 0n });
}

// Backing is sampled while the mix runs, not only once it is quiet.
const sampler = sampleBacking(t);
const pending = [];
const depositorWithdrawals = [];
const attacks = [];
let deposits = 0;
let withdrawals = 0;
const GAS = { gasLimit: 300_000 };
for (let op = 0; op < OPS; op++) {
  const kind = rand();
  if (kind < 0.1) {
    // An outsider tries: PLX sent to the bridge, or bridged assets it does not hold.
    const o = outsiders[Math.floor(rand() * outsiders.length)];
    const bridge = new ethers.Contract(B.l2_bridge, bridgeL2Abi, o.l2);
    const which = Math.floor(rand() * 3);
    const attempt = which === 0
      ? inTurn(o, () => o.l2.sendTransaction({ to: B.l2_bridge, value: ethers.parseEther("1"), ...GAS }))
      : inTurn(o, () => bridge.withdrawERC20(t.l2Token[which === 1 ? ETH : PTT], ethers.parseEther("0.01"), o.address, GAS));
    attacks.push(attempt);
    continue;
  }
  const u = users[Math.floor(rand() * users.length)];
  const m = moved.get(u.address);
  if (kind < 0.35) {
    const value = ethers.parseEther("0.001") * BigInt(1 + Math.floor(rand() * 500));
    m[ETH].deposited += value;
    pending.push(inTurn(u, () => new ethers.Contract(B.l1_bridge, bridgeL1Abi, u.l1).depositETH(u.address, { value })).then((r) => { u.fees += r.fee; return r; }));
    deposits++;
  } else if (kind < 0.6) {
    const amount = ethers.parseUnits(String(1 + Math.floor(rand() * 1000)), 15) + BigInt(Math.floor(rand() * 1e6));
    m[PTT].deposited += amount;
    pending.push(inTurn(u, () => new ethers.Contract(B.l1_bridge, bridgeL1Abi, u.l1).depositERC20(PTT, amount, u.address)).then((r) => { u.fees += r.fee; return r; }));
    deposits++;
  } else {
    // Withdraw part of what already reached Parallax.
    const asset = kind < 0.8 ? PTT : ETH;
    const held = await l2Held(u, asset);
    const amount = (held * BigInt(1 + Math.floor(rand() * 60))) / 100n;
    if (amount > 0n) {
      m[asset].withdrawn += amount;
      m[asset].pendingWithdraw += amount;
      const sent = inTurn(u, () => new ethers.Contract(B.l2_bridge, bridgeL2Abi, u.l2).withdrawERC20(t.l2Token[asset], amount, u.address, GAS))
        .then((r) => { m[asset].pendingWithdraw -= amount; return r; });
      pending.push(sent);
      depositorWithdrawals.push(sent);
      withdrawals++;
    }
  }
  // Let some operations land between choices, so later ones see earlier deposits minted.
  if (op % 8 === 7) await Promise.all(pending.splice(0));
}
await Promise.all(pending.splice(0));
for (const r of await Promise.all(depositorWithdrawals)) {
  if (r.status !== 1) throw new Error(`a depositor's withdrawal of what it held was refused: ${r.hash}`);
}
for (const r of await Promise.all(attacks)) {
  if (r.status !== 0) throw new Error(`an outsider's attempt on the bridge succeeded: ${r.hash}`);
}

const quietMs = await quiet(t);
const backingSamples = await sampler.stop();
const report = await conservation(t);
// Every depositor's withdrawal (to an ordinary address) was paid.
const paid = new Set((await t.bridgeL1.queryFilter(t.bridgeL1.filters.WithdrawalFinalized(), 0, "latest")).map((e) => e.args.id));
for (const r of await Promise.all(depositorWithdrawals)) {
  for (const l of r.logs) {
    let e;
    try { e = t.bridgeL2.interface.parseLog(l); } catch { continue; }
    if (e?.name === "WithdrawalInitiated" && !paid.has(e.args.id)) throw new Error(`withdrawal ${e.args.id} was not paid`);
  }
}
for (const u of users) {
  const b = before.get(u.address);
  const m = moved.get(u.address);
  const expect = async (what, now, want) => {
    if (now !== want) throw new Error(`${u.address}: ${what} is ${now}, expected ${want}`);
  };
  await expect("bridged ETH on Parallax", await l2Balance(t, ETH, u.address), b.l2Eth + m[ETH].deposited - m[ETH].withdrawn);
  await expect("bridged PTT on Parallax", await l2Balance(t, PTT, u.address), b.l2Ptt + m[PTT].deposited - m[PTT].withdrawn);
  await expect("PTT on Ethereum", await new ethers.Contract(PTT, erc20Abi, l1).balanceOf(u.address), b.l1Ptt - m[PTT].deposited + m[PTT].withdrawn);
  await expect("ETH on Ethereum", await l1.getBalance(u.address), b.l1Eth - u.fees - m[ETH].deposited + m[ETH].withdrawn);
}
console.log(JSON.stringify({ ops: OPS, deposits, withdrawals, attacks: attacks.length, quietMs, backingSamples, ...report }));

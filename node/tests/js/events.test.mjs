// Events as dapps follow them: eth_getLogs (address lists, topic OR-lists, block range, block
// hash), filters over HTTP (ethers polling, eth_newFilter / eth_getFilterChanges /
// eth_getFilterLogs / eth_uninstallFilter, block and pending-transaction filters), and
// WebSocket subscriptions (ethers WebSocketProvider, viem webSocket(), raw eth_subscribe).
// Accounts 12 and 13.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ethers } from 'ethers';
import {
  CHAIN_ID,
  TEST_MS,
  WS,
  contracts,
  deployEthers,
  devKey,
  ethersProvider,
  expected,
  hex,
  rpc,
  rpcError,
  rpcRaw,
  target,
  viemWs,
  waitFor,
  withTimeout,
} from './lib/harness.mjs';
import { connectWs } from './lib/rawws.mjs';

let provider, me, other, a, aAddr, b, bAddr;
const sent = {}; // name -> receipt
const TRANSFER = ethers.id('Transfer(address,address,uint256)');
const APPROVAL = ethers.id('Approval(address,address,uint256)');
const x = ethers.getAddress('0x' + '11'.repeat(20));
const y = ethers.getAddress('0x' + '22'.repeat(20));
const pad = (addr) => ethers.zeroPadValue(addr, 32).toLowerCase();
const settle = (ms) => new Promise((r) => setTimeout(r, ms));

before(async () => {
  provider = ethersProvider();
  me = new ethers.Wallet(devKey(12), provider);
  other = new ethers.Wallet(devKey(13), provider);
  ({ contract: a, address: aAddr } = await deployEthers(me, 'Token', ['A', 'A', 10n ** 24n]));
  ({ contract: b, address: bAddr } = await deployEthers(me, 'Token', ['B', 'B', 10n ** 24n]));
  const steps = [
    ['t1', () => a.transfer(x, 1)],
    ['t2', () => b.transfer(y, 2)],
    ['t3', () => a.approve(y, 3)],
    ['t4', () => b.transfer(x, 4)],
  ];
  for (const [name, send] of steps) {
    sent[name] = await withTimeout((await send()).wait(), name);
  }
});

after(() => provider.destroy());

const key = (l) => `${l.transactionHash}:${BigInt(l.logIndex)}`;

function assertLogs(got, names) {
  const want = names.map((n) => sent[n].logs[0]);
  assert.deepEqual(got.map(key), want.map((l) => `${l.transactionHash}:${BigInt(l.index)}`), `logs of ${names}`);
  for (const [i, l] of got.entries()) {
    const w = want[i];
    assert.equal(l.address.toLowerCase(), w.address.toLowerCase());
    assert.deepEqual(l.topics, w.topics);
    assert.equal(l.data, w.data);
    assert.equal(BigInt(l.blockNumber), BigInt(w.blockNumber));
    assert.equal(l.blockHash, w.blockHash);
    assert.equal(BigInt(l.transactionIndex), BigInt(w.transactionIndex));
    assert.equal(l.removed, false);
  }
}

test('eth_getLogs: address lists, topic OR-lists, null wildcards, ranges and blockHash', { timeout: TEST_MS }, async () => {
  const from = hex(sent.t1.blockNumber);
  const to = hex(sent.t4.blockNumber);
  const range = { fromBlock: from, toBlock: to };
  assertLogs(await rpc('eth_getLogs', [{ ...range, address: aAddr }]), ['t1', 't3']);
  assertLogs(await rpc('eth_getLogs', [{ ...range, address: [aAddr, bAddr], topics: [TRANSFER] }]), ['t1', 't2', 't4']);
  assertLogs(
    await rpc('eth_getLogs', [{ ...range, address: [aAddr, bAddr], topics: [[TRANSFER, APPROVAL], null, pad(y)] }]),
    ['t2', 't3'],
  );
  assertLogs(await rpc('eth_getLogs', [{ ...range, address: [aAddr, bAddr], topics: [null, null, [pad(x), pad(y)]] }]), [
    't1',
    't2',
    't3',
    't4',
  ]);
  assertLogs(await rpc('eth_getLogs', [{ ...range, topics: [APPROVAL, pad(me.address), pad(y)] }]), ['t3']);
  assertLogs(await rpc('eth_getLogs', [{ blockHash: sent.t2.blockHash, address: [aAddr, bAddr] }]), ['t2']);
  assertLogs(await rpc('eth_getLogs', [{ fromBlock: to, toBlock: to, address: [aAddr, bAddr] }]), ['t4']);
  assert.deepEqual(await rpc('eth_getLogs', [{ ...range, address: aAddr, topics: [TRANSFER, pad(y)] }]), []);
  assert.deepEqual(await rpc('eth_getLogs', [{ ...range, address: ethers.Wallet.createRandom().address }]), []);
  // ethers' getLogs and the contract's queryFilter decode the same logs
  const events = await a.queryFilter(a.filters.Transfer(me.address, x), sent.t1.blockNumber, sent.t4.blockNumber);
  assert.equal(events.length, 1);
  assert.deepEqual([...events[0].args], [me.address, x, 1n]);
  // blockHash together with a range is invalid
  await rpcError('eth_getLogs', [{ blockHash: sent.t2.blockHash, fromBlock: from }]);
  // fromBlock after toBlock is invalid
  if (!(await target()).hardhat) {
    const e = await rpcError('eth_getLogs', [{ fromBlock: to, toBlock: from }]);
    assert.equal(e.code, -32000, JSON.stringify(e));
    assert.equal(e.message, 'invalid block range params');
  }
});

test('filters over HTTP: eth_newFilter, eth_getFilterChanges, eth_getFilterLogs, eth_uninstallFilter', { timeout: TEST_MS }, async () => {
  const ranged = await rpc('eth_newFilter', [{ fromBlock: hex(sent.t1.blockNumber), toBlock: hex(sent.t4.blockNumber), address: [aAddr, bAddr], topics: [TRANSFER] }]);
  assertLogs(await rpc('eth_getFilterLogs', [ranged]), ['t1', 't2', 't4']);
  assert.equal(await rpc('eth_uninstallFilter', [ranged]), true);

  const live = await rpc('eth_newFilter', [{ address: aAddr }]);
  assert.deepEqual(await rpc('eth_getFilterChanges', [live]), []);
  const r = await withTimeout((await a.transfer(y, 55)).wait(), 'a transfer for the filter');
  const changes = await waitFor('the filter to report the transfer', async () => {
    const c = await rpc('eth_getFilterChanges', [live]);
    return c.length ? c : false;
  });
  assert.equal(changes.length, 1);
  assert.equal(changes[0].transactionHash, r.hash);
  assert.equal(changes[0].topics[2], pad(y));
  assert.equal(BigInt(changes[0].data), 55n);
  // changes are reported once
  assert.deepEqual(await rpc('eth_getFilterChanges', [live]), []);
  assert.equal(await rpc('eth_uninstallFilter', [live]), true);
  assert.equal(await rpc('eth_uninstallFilter', [live]), false);
  const gone = await rpcRaw('eth_getFilterChanges', [live]);
  if ((await target()).hardhat) {
    assert.equal(gone.result, null, 'hardhat answers null for an uninstalled filter');
  } else {
    assert.equal(gone.error?.code, -32000, JSON.stringify(gone));
    assert.equal(gone.error.message, 'filter not found');
  }
});

test('eth_newBlockFilter reports new block hashes in order', { timeout: TEST_MS }, async () => {
  const start = BigInt(await rpc('eth_blockNumber'));
  const id = await rpc('eth_newBlockFilter');
  // geth reports blocks after the filter's creation; hardhat also reports the head at creation
  const first = start + (await expected(1n, 0n));
  // make sure blocks come even on a node that mines only on transactions
  await withTimeout((await me.sendTransaction({ to: x, value: 1n })).wait(), 'a block');
  const hashes = await waitFor('new blocks in the block filter', async () => {
    const got = await rpc('eth_getFilterChanges', [id]);
    return got.length ? got : false;
  });
  let prev;
  for (const h of hashes) {
    const block = await rpc('eth_getBlockByHash', [h, false]);
    assert.ok(block, `${h} is a block`);
    assert.ok(BigInt(block.number) >= first, `block ${block.number} predates the filter (head ${start})`);
    if (prev !== undefined) assert.equal(BigInt(block.number), prev + 1n);
    prev = BigInt(block.number);
  }
  assert.equal(await rpc('eth_uninstallFilter', [id]), true);
});

test('eth_newPendingTransactionFilter sees a sent transaction hash', { timeout: TEST_MS }, async () => {
  const id = await rpc('eth_newPendingTransactionFilter');
  const tx = await other.sendTransaction({ to: y, value: 3n });
  const seen = new Set();
  await waitFor('the pending-transaction filter to report the hash', async () => {
    for (const h of await rpc('eth_getFilterChanges', [id])) seen.add(h);
    return seen.has(tx.hash);
  });
  await withTimeout(tx.wait(), 'the pending transaction to be mined');
  assert.equal(await rpc('eth_uninstallFilter', [id]), true);
});

test('ethers over HTTP: contract.on() polls with eth_newFilter / eth_getFilterChanges', { timeout: TEST_MS }, async () => {
  const methods = new Set();
  provider.on('debug', (e) => {
    if (e.action !== 'sendRpcPayload') return;
    for (const p of [].concat(e.payload)) methods.add(p.method);
  });
  const got = new Promise((resolve) => {
    a.on('Transfer', (from, to, value, ev) => {
      if (to === y && value === 4242n) resolve({ from, to, value, ev });
    });
  });
  await waitFor('ethers to install its filter', () => methods.has('eth_newFilter'));
  const r = await withTimeout((await a.transfer(y, 4242)).wait(), 'a transfer for ethers');
  const ev = await withTimeout(got, 'the Transfer event through ethers polling');
  assert.equal(ev.from, me.address);
  assert.equal(ev.to, y);
  assert.equal(ev.value, 4242n);
  assert.equal(ev.ev.log.transactionHash, r.hash);
  assert.equal(ev.ev.log.blockNumber, r.blockNumber);
  await a.removeAllListeners();
  provider.off('debug');
  assert.ok(methods.has('eth_newFilter'), [...methods].join());
  assert.ok(methods.has('eth_getFilterChanges'), [...methods].join());
});

test('ethers WebSocketProvider: on("block"), contract events and pending transactions', { timeout: TEST_MS }, async () => {
  const ws = new ethers.WebSocketProvider(WS, CHAIN_ID, { staticNetwork: true });
  try {
    assert.equal(await withTimeout(ws.send('eth_chainId', []), 'eth_chainId over WebSocket'), hex(CHAIN_ID));
    const head = await ws.getBlockNumber();
    const blocks = [];
    const twoBlocks = new Promise((resolve) => {
      ws.on('block', (n) => {
        blocks.push(n);
        if (blocks.length >= 2) resolve();
      });
    });
    const token = a.connect(ws);
    const event = new Promise((resolve) =>
      token.on('Transfer', (...args) => {
        if (args[2] === 777n) resolve(args);
      }),
    );
    const pending = new Set();
    await ws.on('pending', (h) => pending.add(h));
    await settle(1000);
    const tx = await a.transfer(x, 777);
    const r = await withTimeout(tx.wait(), 'the transfer for the WebSocket listeners');
    await withTimeout(twoBlocks, 'two newHeads through ethers');
    assert.ok(blocks[0] > head - 1, `block ${blocks[0]} after ${head}`);
    assert.equal(blocks[1], blocks[0] + 1);
    const [from, to, value, ev] = await withTimeout(event, 'the Transfer event over WebSocket');
    assert.deepEqual([from, to, value], [me.address, x, 777n]);
    assert.equal(ev.log.transactionHash, r.hash);
    await waitFor('the pending hash over WebSocket', () => pending.has(tx.hash));
  } finally {
    await ws.destroy();
  }
});

test('viem webSocket(): watchBlockNumber and watchContractEvent', { timeout: TEST_MS }, async () => {
  const client = viemWs();
  const abi = contracts().Token.abi;
  const numbers = [];
  const logs = [];
  const unwatchBlocks = client.watchBlockNumber({ onBlockNumber: (n) => numbers.push(n), onError: (e) => numbers.push(e) });
  const unwatchLogs = client.watchContractEvent({
    address: bAddr,
    abi,
    eventName: 'Transfer',
    args: { to: y },
    onLogs: (l) => logs.push(...l),
    onError: (e) => logs.push(e),
  });
  try {
    await settle(1000);
    const r = await withTimeout((await b.transfer(y, 31337)).wait(), 'the transfer for viem');
    await waitFor('viem to see the Transfer log', () => logs.length > 0);
    assert.ok(!(logs[0] instanceof Error), String(logs[0]));
    assert.equal(logs.length, 1);
    assert.equal(logs[0].eventName, 'Transfer');
    assert.deepEqual(logs[0].args, { from: me.address, to: y, value: 31337n });
    assert.equal(logs[0].transactionHash, r.hash);
    assert.equal(logs[0].blockNumber, BigInt(r.blockNumber));
    await waitFor('viem to see two block numbers', () => numbers.length >= 2);
    assert.ok(numbers.every((n) => typeof n === 'bigint'), String(numbers.find((n) => typeof n !== 'bigint')));
    assert.ok(numbers[1] > numbers[0]);
  } finally {
    unwatchBlocks();
    unwatchLogs();
    await client.transport.getRpcClient?.().then((c) => c.close()).catch(() => {});
  }
});

test('raw eth_subscribe: newHeads, logs with a filter, newPendingTransactions, eth_unsubscribe', { timeout: TEST_MS }, async () => {
  const ws = await connectWs(WS);
  try {
    const heads = (await ws.call('eth_subscribe', ['newHeads'])).result;
    const logs = (await ws.call('eth_subscribe', ['logs', { address: aAddr, topics: [TRANSFER, null, pad(x)] }])).result;
    const pend = (await ws.call('eth_subscribe', ['newPendingTransactions'])).result;
    for (const id of [heads, logs, pend]) assert.match(id, /^0x[0-9a-f]+$/, 'a subscription id');
    assert.equal(new Set([heads, logs, pend]).size, 3);
    const tx = await a.transfer(x, 9);
    const r = await withTimeout(tx.wait(), 'the transfer for raw subscriptions');
    const sub = (id) => (m) => m.method === 'eth_subscription' && m.params?.subscription === id;
    const log = (await ws.next(sub(logs), 'the logs notification')).params.result;
    assert.equal(log.transactionHash, r.hash);
    assert.equal(log.address.toLowerCase(), aAddr.toLowerCase());
    assert.deepEqual(log.topics, [TRANSFER, pad(me.address), pad(x)]);
    assert.equal(BigInt(log.data), 9n);
    assert.equal(log.removed, false);
    let seenPending = false;
    while (!seenPending) {
      const m = await ws.next(sub(pend), 'the pending-transaction notification');
      seenPending = m.params.result === tx.hash || m.params.result?.hash === tx.hash;
    }
    const head = (await ws.next(sub(heads), 'a newHeads notification')).params.result;
    assert.match(head.hash, /^0x[0-9a-f]{64}$/);
    const block = await rpc('eth_getBlockByNumber', [head.number, false]);
    assert.equal(block.hash, head.hash);
    assert.equal(block.parentHash, head.parentHash);
    assert.equal(block.stateRoot, head.stateRoot);
    assert.equal(block.baseFeePerGas, head.baseFeePerGas);
    for (const id of [heads, logs, pend]) assert.equal((await ws.call('eth_unsubscribe', [id])).result, true);
    assert.equal((await ws.call('eth_unsubscribe', [heads])).result ?? false, false);
    // an unknown subscription kind is an error
    const bad = await ws.call('eth_subscribe', ['noSuchKind']);
    assert.ok(bad.error, JSON.stringify(bad));
    assert.equal(bad.error.code, await expected(-32602, bad.error.code), JSON.stringify(bad));
  } finally {
    ws.close();
  }
});

// Malformed requests of every kind over raw HTTP (fetch) and a raw WebSocket: each gets
// JSON-RPC's error, and the node keeps serving. Account 15.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ethers } from 'ethers';
import { CHAIN_ID, TEST_MS, WS, devKey, ethersProvider, expected, hex, post, rpc, rpcRaw, target } from './lib/harness.mjs';
import { connectWs } from './lib/rawws.mjs';

let provider, me;
const ME = () => me.address;

before(() => {
  provider = ethersProvider();
  me = new ethers.Wallet(devKey(15), provider);
});

after(() => provider.destroy());

/// The node still answers a plain request correctly.
async function stillServing() {
  assert.equal(await rpc('eth_chainId'), hex(CHAIN_ID));
}

const call = (method, params, id = 1) => ({ jsonrpc: '2.0', id, method, params });
const huge = '0x' + 'f'.repeat(80); // 320 bits

/// [method, params] pairs that must be rejected as invalid params (-32602) by any node.
const invalidParams = () => [
  ['eth_getBalance', [123, 'latest']],
  ['eth_getBalance', ['0x12', 'latest']],
  ['eth_getBalance', [ME(), { blockHash: '0x1234' }]],
  ['eth_getBlockByNumber', ['0x1', 'yes']],
  ['eth_getBlockByNumber', [huge, false]],
  ['eth_getBlockByNumber', ['0xnothex', false]],
  ['eth_getTransactionByHash', ['0x1234']],
  ['eth_sendRawTransaction', ['nothex']],
  ['eth_estimateGas', [{ from: ME(), to: ME(), gas: huge }]],
  ['eth_call', [{ from: ME(), to: ME(), value: '0x1' + '0'.repeat(70) }, 'latest']],
  ['eth_getLogs', [{ address: 'not an address' }]],
  ['eth_feeHistory', ['0x1', 'latest', 'not a list']],
];

const methodMissing = async (error, method) => {
  assert.equal(error?.code, await expected(-32601, -32004), JSON.stringify(error));
  assert.equal(
    error.message,
    await expected(`the method ${method} does not exist/is not available`, `Method ${method} is not supported`),
  );
};

test('bad JSON is a parse error (-32700) with a null id', { timeout: TEST_MS }, async () => {
  for (const body of ['{bad', '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[', '\u0000\u0001\u0002', '{"id":1,}']) {
    const { json, status } = await post(body);
    assert.ok(json, `a JSON answer to ${JSON.stringify(body)} (HTTP ${status})`);
    assert.equal(json.error?.code, -32700, JSON.stringify(json));
    assert.equal(json.id, null);
  }
  await stillServing();
});

test('wrong types and huge numbers in params are invalid params (-32602)', { timeout: TEST_MS }, async () => {
  for (const [method, params] of invalidParams()) {
    const res = await rpcRaw(method, params);
    assert.equal(res.error?.code, -32602, `${method}(${JSON.stringify(params)}): ${JSON.stringify(res)}`);
  }
  await stillServing();
});

test('requests that are not JSON-RPC calls are invalid requests (-32600)', { timeout: TEST_MS }, async () => {
  const notCall = await post({ jsonrpc: '2.0', id: 7, method: 5, params: [] });
  assert.equal(notCall.json?.error?.code, -32600, notCall.text);
  const batchOfJunk = await post([1, 'two']);
  assert.ok(Array.isArray(batchOfJunk.json), batchOfJunk.text);
  assert.equal(batchOfJunk.json.length, 2);
  for (const r of batchOfJunk.json) {
    assert.equal(r.error?.code, -32600, batchOfJunk.text);
    assert.equal(r.id, null);
  }
  await stillServing();
});

test('an unknown method is -32601 "the method X does not exist/is not available"', { timeout: TEST_MS }, async () => {
  await methodMissing((await rpcRaw('eth_noSuchMethod')).error, 'eth_noSuchMethod');
  await methodMissing((await rpcRaw('debug_traceEverything', [1, 2])).error, 'debug_traceEverything');
  // subscriptions need a WebSocket (hardhat also subscribes over HTTP)
  if (!(await target()).hardhat) {
    const sub = await rpcRaw('eth_subscribe', ['newHeads']);
    assert.ok(sub.error, `eth_subscribe over HTTP should fail: ${JSON.stringify(sub)}`);
  }
  await stillServing();
});

test('an oversized body is refused with an error, and the node keeps serving', { timeout: TEST_MS }, async () => {
  const big = '0x' + 'ab'.repeat(6 * 1024 * 1024); // a 12 MB transaction
  let answer;
  try {
    answer = await post(call('eth_sendRawTransaction', [big]));
  } catch (e) {
    answer = { dropped: String(e) }; // a server may also just close the connection
  }
  if (answer.status !== undefined && answer.status < 300) {
    assert.ok(answer.json?.error, `a 12 MB request should fail: ${answer.text.slice(0, 200)}`);
  }
  if (!(await target()).hardhat && answer.status !== undefined) {
    assert.equal(answer.status, 413, 'geth answers 413 Payload Too Large');
  }
  await stillServing();
});

test('junk raw transactions are rejected (-32000), and the node keeps serving', { timeout: TEST_MS }, async () => {
  const fees = await provider.getFeeData();
  const base = {
    to: ME(),
    value: 1n,
    gasLimit: 21_000n,
    maxFeePerGas: fees.maxFeePerGas,
    maxPriorityFeePerGas: fees.maxPriorityFeePerGas,
    nonce: await provider.getTransactionCount(ME()),
    type: 2,
  };
  const good = ethers.Transaction.from(await me.signTransaction({ ...base, chainId: CHAIN_ID }));
  const otherChain = await me.signTransaction({ ...base, chainId: CHAIN_ID + 1 });
  // the right fields with a signature that does not verify
  const broken = good.clone();
  broken.signature = ethers.Signature.from({ r: '0x' + '11'.repeat(32), s: '0x' + '22'.repeat(32), v: 27 });
  const junk = [
    ['0xdeadbeef', /./],
    ['0x', /./],
    ['0xc0', /./],
    ['0x02', /./],
    [good.serialized.slice(0, -10), /./],
    [otherChain, /invalid (sender|chain id)/],
    [broken.serialized, /^(invalid sender|insufficient funds for gas \* price \+ value)/],
  ];
  const { hardhat } = await target();
  for (const [raw, message] of junk) {
    const res = await rpcRaw('eth_sendRawTransaction', [raw]);
    assert.ok(res.error, `${raw.slice(0, 40)}… should be rejected: ${JSON.stringify(res)}`);
    if (!hardhat) {
      assert.equal(res.error.code, -32000, `${raw.slice(0, 40)}…: ${JSON.stringify(res.error)}`);
      assert.match(res.error.message, message);
    }
  }
  // nothing was admitted: the nonce did not move, and the good transaction still goes in
  assert.equal(await provider.getTransactionCount(ME(), 'pending'), base.nonce);
  const hash = await rpc('eth_sendRawTransaction', [good.serialized]);
  assert.equal(hash, good.hash);
  await provider.waitForTransaction(hash, 1, 30_000);
  await stillServing();
});

test('an empty batch is one -32600 error; a mixed batch answers each call by id', { timeout: TEST_MS }, async () => {
  const empty = await post([]);
  const want = await expected('geth', 'hardhat');
  if (want === 'hardhat') {
    assert.deepEqual(empty.json, [], 'hardhat answers an empty batch with []');
  } else {
    assert.ok(!Array.isArray(empty.json), `an empty batch is a single error: ${empty.text}`);
    assert.equal(empty.json.error?.code, -32600, empty.text);
    assert.equal(empty.json.error.message, 'empty batch');
    assert.equal(empty.json.id, null);
  }
  const mixed = await post([
    call('eth_chainId', [], 1),
    call('eth_noSuchMethod', [], 2),
    call('eth_getBalance', [123, 'latest'], 3),
    5,
    call('eth_getBalance', [ME(), 'latest'], 'four'),
    call('eth_blockNumber', [], 6),
  ]);
  assert.ok(Array.isArray(mixed.json), mixed.text);
  assert.equal(mixed.json.length, 6);
  const by = (id) => mixed.json.find((r) => r.id === id);
  assert.equal(by(1).result, hex(CHAIN_ID));
  await methodMissing(by(2).error, 'eth_noSuchMethod');
  assert.equal(by(3).error?.code, -32602);
  assert.equal(by('four').result, await rpc('eth_getBalance', [ME(), 'latest']));
  assert.match(by(6).result, /^0x[0-9a-f]+$/);
  const orphan = mixed.json.filter((r) => r.id === null);
  assert.equal(orphan.length, 1);
  assert.equal(orphan[0].error.code, -32600);
  await stillServing();
});

test('a batch over the node\'s limit is refused, and the node keeps serving', { timeout: TEST_MS }, async (t) => {
  if ((await target()).hardhat) return t.skip('hardhat has no batch limit');
  const calls = Array.from({ length: 2000 }, (_, i) => call('eth_chainId', [], i + 1));
  const res = await post(calls);
  const errors = [].concat(res.json).filter((r) => r?.error);
  assert.ok(errors.length > 0, `2000 calls in one batch should be refused: ${res.text.slice(0, 200)}`);
  assert.match(errors[0].error.message, /^batch too large/);
  await stillServing();
});

test('a raw WebSocket: bad JSON, unknown methods, wrong params and batches get errors; the connection keeps working', { timeout: TEST_MS }, async () => {
  const ws = await connectWs(WS);
  try {
    ws.send('{bad');
    const parse = await ws.next((m) => m.error?.code === -32700 || m.id === null, 'the parse error');
    assert.equal(parse.error?.code, -32700, JSON.stringify(parse));
    assert.equal(parse.id, null);
    assert.equal((await ws.call('eth_chainId')).result, hex(CHAIN_ID));
    await methodMissing((await ws.call('eth_noSuchMethod')).error, 'eth_noSuchMethod');
    for (const [method, params] of invalidParams().slice(0, 6)) {
      const res = await ws.call(method, params);
      assert.equal(res.error?.code, -32602, `${method} over WebSocket: ${JSON.stringify(res)}`);
    }
    ws.send(JSON.stringify([call('eth_chainId', [], 'a'), call('eth_noSuchMethod', [], 'b')]));
    const batch = await ws.next((m) => Array.isArray(m), 'the batch answer');
    assert.equal(batch.find((r) => r.id === 'a').result, hex(CHAIN_ID));
    await methodMissing(batch.find((r) => r.id === 'b').error, 'eth_noSuchMethod');
    assert.equal((await ws.call('eth_chainId')).result, hex(CHAIN_ID));
  } finally {
    ws.close();
  }
});

test('an oversized WebSocket message is refused or the socket closed; new connections work', { timeout: TEST_MS }, async () => {
  const ws = await connectWs(WS);
  try {
    ws.send(JSON.stringify(call('eth_sendRawTransaction', ['0x' + 'ab'.repeat(20 * 1024 * 1024)], 77)));
    const answer = await Promise.race([
      ws.next((m) => m.id === 77 || m.id === null, 'an answer to the oversized message').catch((e) => ({ closed: String(e) })),
      ws.waitClosed().then(() => ({ closed: 'closed' })),
    ]);
    assert.ok(answer.closed || answer.error, `a 40 MB message must not succeed: ${JSON.stringify(answer).slice(0, 200)}`);
  } finally {
    ws.close();
  }
  const again = await connectWs(WS);
  try {
    assert.equal((await again.call('eth_chainId')).result, hex(CHAIN_ID));
  } finally {
    again.close();
  }
  await stillServing();
});

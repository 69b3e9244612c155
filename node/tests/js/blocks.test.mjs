// Blocks, transactions and receipts agree however they are asked for; block hashes are
// keccak(rlp(header)); fee methods follow EIP-1559; node info methods. Parallax-only:
// finality (safe = finalized = latest) and the parallax_ namespace. Account 14.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ethers } from 'ethers';
import {
  CHAIN_ID,
  TEST_MS,
  deployEthers,
  devKey,
  ethersProvider,
  expected,
  headerHash,
  hex,
  post,
  rpc,
  target,
  withTimeout,
} from './lib/harness.mjs';

let provider, me, token, n, txs;

before(async () => {
  provider = ethersProvider();
  me = new ethers.Wallet(devKey(14), provider);
  ({ contract: token } = await deployEthers(me, 'Token', ['Blocks', 'BLK', 10n ** 21n]));
  // two transactions, sent together (on Parallax they may share a block)
  const t1 = await token.transfer('0x' + '33'.repeat(20), 5);
  const t2 = await me.sendTransaction({ to: '0x' + '44'.repeat(20), value: 6n });
  const r1 = await withTimeout(t1.wait(), 'the token transfer');
  await withTimeout(t2.wait(), 'the ETH transfer');
  n = r1.blockNumber;
  txs = [t1.hash, t2.hash];
});

after(() => provider.destroy());

test('eth_getBlockByNumber and eth_getBlockByHash agree, with hashes or full transactions', { timeout: TEST_MS }, async () => {
  const byNum = await rpc('eth_getBlockByNumber', [hex(n), false]);
  const byNumFull = await rpc('eth_getBlockByNumber', [hex(n), true]);
  const byHash = await rpc('eth_getBlockByHash', [byNum.hash, false]);
  const byHashFull = await rpc('eth_getBlockByHash', [byNum.hash, true]);
  assert.deepEqual(byHash, byNum);
  assert.deepEqual(byHashFull, byNumFull);
  assert.equal(BigInt(byNum.number), BigInt(n));
  assert.ok(byNum.transactions.includes(txs[0]));
  assert.deepEqual(byNumFull.transactions.map((t) => t.hash), byNum.transactions);
  const { transactions: _a, ...headerA } = byNum;
  const { transactions: _b, ...headerB } = byNumFull;
  assert.deepEqual(headerA, headerB);
  for (const f of ['hash', 'parentHash', 'stateRoot', 'transactionsRoot', 'receiptsRoot', 'mixHash', 'sha3Uncles']) {
    assert.match(byNum[f], /^0x[0-9a-f]{64}$/, f);
  }
  for (const f of ['number', 'gasLimit', 'gasUsed', 'timestamp', 'baseFeePerGas', 'size', 'difficulty']) {
    assert.match(byNum[f], /^0x(0|[1-9a-f][0-9a-f]*)$/, `${f} is an unpadded quantity`);
  }
  assert.deepEqual(byNum.uncles, []);
  // the hash is keccak(rlp(header)) of the fields the node reports
  assert.equal(headerHash(byNum), byNum.hash);
  const latest = await rpc('eth_getBlockByNumber', ['latest', false]);
  assert.equal(headerHash(latest), latest.hash);
  // the parent link
  const parent = await rpc('eth_getBlockByNumber', [hex(n - 1), false]);
  assert.equal(byNum.parentHash, parent.hash);
  assert.ok(BigInt(byNum.timestamp) >= BigInt(parent.timestamp));
  // full transactions are the same objects eth_getTransactionByHash returns
  for (const [i, tx] of byNumFull.transactions.entries()) {
    assert.deepEqual(await rpc('eth_getTransactionByHash', [tx.hash]), tx);
    assert.equal(BigInt(tx.transactionIndex), BigInt(i));
    assert.equal(tx.blockHash, byNum.hash);
    assert.deepEqual(await rpc('eth_getTransactionByBlockNumberAndIndex', [hex(n), hex(i)]), tx);
    assert.deepEqual(await rpc('eth_getTransactionByBlockHashAndIndex', [byNum.hash, hex(i)]), tx);
  }
  const count = byNum.transactions.length;
  assert.equal(await rpc('eth_getBlockTransactionCountByNumber', [hex(n)]), hex(count));
  assert.equal(await rpc('eth_getBlockTransactionCountByHash', [byNum.hash]), hex(count));
  assert.equal(await rpc('eth_getTransactionByBlockNumberAndIndex', [hex(n), hex(count)]), null);
  // unknown blocks and transactions are null
  const nothing = ethers.keccak256('0xabcdef');
  assert.equal(await rpc('eth_getBlockByHash', [nothing, false]), null);
  assert.equal(await rpc('eth_getTransactionByHash', [nothing]), null);
  assert.equal(await rpc('eth_getTransactionReceipt', [nothing]), null);
  // ethers sees the same block
  const eb = await provider.getBlock(n, true);
  assert.equal(eb.hash, byNum.hash);
  assert.deepEqual([...eb.transactions], byNum.transactions);
  // the genesis block
  const genesis = await rpc('eth_getBlockByNumber', ['earliest', false]);
  assert.equal(genesis.number, '0x0');
  assert.equal(headerHash(genesis), genesis.hash);
});

test('eth_getBlockReceipts equals each eth_getTransactionReceipt; gas and log indices add up', { timeout: TEST_MS }, async (t) => {
  const block = await rpc('eth_getBlockByNumber', [hex(n), false]);
  const receipts = await Promise.all(block.transactions.map((h) => rpc('eth_getTransactionReceipt', [h])));
  let cumulative = 0n;
  let logIndex = 0n;
  for (const [i, r] of receipts.entries()) {
    assert.equal(BigInt(r.transactionIndex), BigInt(i));
    assert.equal(r.blockHash, block.hash);
    assert.equal(r.blockNumber, block.number);
    cumulative += BigInt(r.gasUsed);
    assert.equal(BigInt(r.cumulativeGasUsed), cumulative);
    for (const l of r.logs) {
      assert.equal(BigInt(l.logIndex), logIndex, 'log indices run across the whole block');
      logIndex += 1n;
      assert.equal(l.blockHash, block.hash);
      assert.equal(l.transactionHash, r.transactionHash);
    }
  }
  assert.equal(BigInt(block.gasUsed), cumulative);
  if ((await target()).hardhat) return t.skip('hardhat does not implement eth_getBlockReceipts');
  assert.deepEqual(await rpc('eth_getBlockReceipts', [hex(n)]), receipts);
  assert.deepEqual(await rpc('eth_getBlockReceipts', [block.hash]), receipts);
  assert.deepEqual(await rpc('eth_getBlockReceipts', [{ blockHash: block.hash }]), receipts);
});

/// EIP-1559's next base fee.
function nextBaseFee(b) {
  const base = BigInt(b.baseFeePerGas);
  const target = BigInt(b.gasLimit) / 2n;
  const used = BigInt(b.gasUsed);
  if (used === target) return base;
  if (used > target) {
    const delta = (base * (used - target)) / target / 8n;
    return base + (delta > 1n ? delta : 1n);
  }
  return base - (base * (target - used)) / target / 8n;
}

/// geth's reward percentiles for one block.
async function rewards(block, percentiles) {
  if (block.transactions.length === 0) return percentiles.map(() => 0n);
  const base = BigInt(block.baseFeePerGas);
  const items = [];
  for (const tx of block.transactions) {
    const r = await rpc('eth_getTransactionReceipt', [tx.hash]);
    items.push({ gas: BigInt(r.gasUsed), reward: BigInt(r.effectiveGasPrice) - base });
  }
  items.sort((a, b) => (a.reward < b.reward ? -1 : a.reward > b.reward ? 1 : 0));
  const used = BigInt(block.gasUsed);
  return percentiles.map((p) => {
    const threshold = (Number(used) * p) / 100;
    let idx = 0;
    let sum = Number(items[0].gas);
    while (sum < threshold && idx < items.length - 1) {
      idx += 1;
      sum += Number(items[idx].gas);
    }
    return items[idx].reward;
  });
}

test('eth_feeHistory with percentiles matches the blocks; gas price and tip', { timeout: TEST_MS }, async () => {
  const percentiles = [25, 75];
  const fh = await rpc('eth_feeHistory', [hex(4), hex(n), percentiles]);
  assert.equal(BigInt(fh.oldestBlock), BigInt(n - 3));
  assert.equal(fh.baseFeePerGas.length, 5);
  assert.equal(fh.gasUsedRatio.length, 4);
  assert.equal(fh.reward.length, 4);
  for (let i = 0; i < 4; i++) {
    const b = await rpc('eth_getBlockByNumber', [hex(n - 3 + i), true]);
    assert.equal(BigInt(fh.baseFeePerGas[i]), BigInt(b.baseFeePerGas), `baseFee of ${n - 3 + i}`);
    assert.ok(Math.abs(fh.gasUsedRatio[i] - Number(BigInt(b.gasUsed)) / Number(BigInt(b.gasLimit))) < 1e-9);
    assert.deepEqual(fh.reward[i].map(BigInt), await rewards(b, percentiles), `rewards of ${n - 3 + i}`);
    if (i === 3) assert.equal(BigInt(fh.baseFeePerGas[4]), nextBaseFee(b), 'the next base fee');
  }
  // the same via ethers-style 'latest'
  const latest = await rpc('eth_feeHistory', ['0x1', 'latest', []]);
  assert.equal(latest.baseFeePerGas.length, 2);
  assert.equal(latest.reward, undefined);

  const head = await rpc('eth_getBlockByNumber', ['latest', false]);
  const gasPrice = BigInt(await rpc('eth_gasPrice'));
  const tip = BigInt(await rpc('eth_maxPriorityFeePerGas'));
  assert.ok(gasPrice >= BigInt(head.baseFeePerGas), `eth_gasPrice ${gasPrice} below the base fee ${head.baseFeePerGas}`);
  assert.ok(gasPrice >= nextBaseFee(head), `eth_gasPrice ${gasPrice} below the next base fee`);
  assert.ok(tip >= 0n);
  // a transaction at exactly eth_gasPrice is accepted and mined
  const r = await withTimeout(
    (await me.sendTransaction({ type: 0, to: me.address, value: 0n, gasPrice, chainId: CHAIN_ID })).wait(),
    'a legacy transaction at eth_gasPrice',
  );
  assert.equal(r.status, 1);
});

test('node info: web3_clientVersion, web3_sha3, net_*, eth_syncing, eth_accounts', { timeout: TEST_MS }, async () => {
  const { clientVersion } = await target();
  assert.match(clientVersion, /^[^/]+\/.+/);
  assert.equal(await rpc('web3_sha3', ['0x68656c6c6f20776f726c64']), '0x47173285a8d7341e5e972fc677286384f802f8ef42a5ec5f03bbfa254cb01fad');
  assert.equal(await rpc('net_listening'), true);
  assert.match(await rpc('net_peerCount'), /^0x(0|[1-9a-f][0-9a-f]*)$/);
  assert.equal(await rpc('eth_syncing'), false);
  const accounts = await rpc('eth_accounts');
  assert.equal(accounts.length, await expected(0, 20), 'a node without a keystore has no accounts');
  assert.match(await rpc('eth_blockNumber'), /^0x(0|[1-9a-f][0-9a-f]*)$/);
});

test('Parallax: finality is immediate — safe and finalized are the latest block', { timeout: TEST_MS }, async (t) => {
  if (!(await target()).parallax) return t.skip('not a Parallax node');
  let last;
  for (let i = 0; i < 10; i++) {
    const { json } = await post([
      { jsonrpc: '2.0', id: 1, method: 'eth_getBlockByNumber', params: ['latest', false] },
      { jsonrpc: '2.0', id: 2, method: 'eth_getBlockByNumber', params: ['finalized', false] },
      { jsonrpc: '2.0', id: 3, method: 'eth_getBlockByNumber', params: ['safe', false] },
    ]);
    const [l, f, s] = [1, 2, 3].map((id) => json.find((r) => r.id === id).result);
    last = [l.number, f.number, s.number];
    // a block may commit between the three reads of one batch, never more than one
    assert.ok(BigInt(l.number) - BigInt(f.number) <= 1n && BigInt(l.number) - BigInt(s.number) <= 1n, `${last}`);
    if (l.hash === f.hash && l.hash === s.hash) {
      // state at 'finalized' is the latest state
      const [b1, b2] = await Promise.all([
        rpc('eth_getBalance', [me.address, 'finalized']),
        rpc('eth_getBalance', [me.address, l.number]),
      ]);
      assert.equal(b1, b2);
      return;
    }
  }
  assert.fail(`latest/finalized/safe never agreed: ${last}`);
});

test('Parallax: parallax_validators and parallax_consensusStatus', { timeout: TEST_MS }, async (t) => {
  if (!(await target()).parallax) return t.skip('not a Parallax node');
  const validators = await rpc('parallax_validators');
  assert.equal(validators.length, Number(process.env.PARALLAX_VALIDATORS ?? 1));
  for (const [i, v] of validators.entries()) {
    assert.equal(v.index, i);
    assert.match(v.consensusKey, /^0x[0-9a-f]{64}$/);
    assert.match(v.bridgeAddress, /^0x[0-9a-fA-F]{40}$/);
    assert.equal(v.votingPower, '0x1');
    assert.ok(v.name && v.peerId, JSON.stringify(v));
  }
  const s1 = await rpc('parallax_consensusStatus');
  await withTimeout((await me.sendTransaction({ to: me.address, value: 0n })).wait(), 'a block');
  const s2 = await rpc('parallax_consensusStatus');
  for (const s of [s1, s2]) {
    assert.ok(BigInt(s.highestQcRound) >= BigInt(s.committedRound), JSON.stringify(s));
    assert.ok(BigInt(s.lastVotedRound) >= BigInt(s.lockedRound), JSON.stringify(s));
    assert.ok(BigInt(s.round) >= BigInt(s.highestQcRound), JSON.stringify(s));
  }
  assert.ok(BigInt(s2.head) > BigInt(s1.head), 'the head moved');
  assert.ok(BigInt(s2.committedRound) > BigInt(s1.committedRound), 'rounds committed');
  assert.ok(s2.commits > s1.commits);
  assert.ok(BigInt(s2.head) <= BigInt(await rpc('eth_blockNumber')));
});

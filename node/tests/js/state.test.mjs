// State at any block over raw JSON-RPC: block numbers, EIP-1898 {blockHash} / {blockNumber},
// eth_getProof verified against the header's state root (viem getProof), eth_createAccessList.
// Account 11.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ethers } from 'ethers';
import {
  TEST_MS,
  contracts,
  deployEthers,
  devKey,
  ethersProvider,
  hex,
  rpc,
  rpcError,
  target,
  verifyProof,
  viemPublic,
  withTimeout,
} from './lib/harness.mjs';

let provider, me, recorder, recorderAddr;
/// [{ number, hash, value }] for three record() calls in three blocks.
const history = [];

before(async () => {
  provider = ethersProvider();
  me = new ethers.Wallet(devKey(11), provider);
  ({ contract: recorder, address: recorderAddr } = await deployEthers(me, 'Recorder'));
  for (const value of [101n, 202n, 303n]) {
    // record() writes slots named by block.number, so an estimate against the latest block
    // (geth's default) can be short for the next block: send with room, as a dapp would
    const r = await withTimeout((await recorder.record(value, { gasLimit: 200_000 })).wait(), `record(${value})`);
    history.push({ number: r.blockNumber, hash: r.blockHash, value });
  }
});

after(() => provider.destroy());

const slot = (n) => ethers.zeroPadValue(ethers.toBeHex(n), 32);
const word = (n) => ethers.zeroPadValue(ethers.toBeHex(n), 32);
const callValue = { to: () => recorderAddr, data: () => recorder.interface.encodeFunctionData('value') };

test('eth_getStorageAt, eth_call, eth_getBalance, eth_getTransactionCount at past block numbers', { timeout: TEST_MS }, async () => {
  for (const h of history) {
    assert.equal(await rpc('eth_getStorageAt', [recorderAddr, '0x0', hex(h.number)]), word(h.value));
    assert.equal(await rpc('eth_getStorageAt', [recorderAddr, '0x1', hex(h.number)]), word(h.number));
    assert.equal(
      await rpc('eth_call', [{ to: callValue.to(), data: callValue.data() }, hex(h.number)]),
      word(h.value),
    );
  }
  // the history mapping: valueAt[n] at slot keccak(n . 2)
  const mapSlot = ethers.keccak256(ethers.concat([word(history[1].number), word(2)]));
  assert.equal(await rpc('eth_getStorageAt', [recorderAddr, mapSlot, 'latest']), word(history[1].value));
  assert.equal(await rpc('eth_getStorageAt', [recorderAddr, mapSlot, hex(history[0].number)]), word(0));
  // the account: each record() cost exactly its receipt's fee, and one nonce
  const first = history[0].number;
  const last = history[2].number;
  const balance = async (n) => BigInt(await rpc('eth_getBalance', [me.address, hex(n)]));
  const nonce = async (n) => Number(await rpc('eth_getTransactionCount', [me.address, hex(n)]));
  let fees = 0n;
  for (const h of history) {
    const block = await rpc('eth_getBlockByNumber', [hex(h.number), true]);
    for (const tx of block.transactions.filter((t) => t.from.toLowerCase() === me.address.toLowerCase())) {
      const r = await rpc('eth_getTransactionReceipt', [tx.hash]);
      fees += BigInt(r.gasUsed) * BigInt(r.effectiveGasPrice);
    }
  }
  assert.equal((await balance(first - 1)) - (await balance(last)), fees);
  assert.equal((await nonce(last)) - (await nonce(first - 1)), 3);
  // the contract had no code before its deployment and has it at every later block
  assert.equal(await rpc('eth_getCode', [recorderAddr, '0x0']), '0x');
  assert.equal(await rpc('eth_getCode', [recorderAddr, hex(first)]), contracts().Recorder.deployed);
  // 'earliest' is the genesis state
  assert.equal(await rpc('eth_getCode', [recorderAddr, 'earliest']), '0x');
});

test('EIP-1898: {blockHash}, {blockHash, requireCanonical}, {blockNumber}', { timeout: TEST_MS }, async () => {
  for (const h of history) {
    const byHash = { blockHash: h.hash };
    assert.equal(await rpc('eth_getStorageAt', [recorderAddr, '0x0', byHash]), word(h.value));
    assert.equal(await rpc('eth_call', [{ to: recorderAddr, data: callValue.data() }, byHash]), word(h.value));
    assert.equal(
      await rpc('eth_call', [{ to: recorderAddr, data: callValue.data() }, { blockHash: h.hash, requireCanonical: true }]),
      word(h.value),
    );
    assert.equal(
      await rpc('eth_getBalance', [me.address, byHash]),
      await rpc('eth_getBalance', [me.address, hex(h.number)]),
    );
    assert.equal(
      await rpc('eth_getTransactionCount', [me.address, byHash]),
      await rpc('eth_getTransactionCount', [me.address, hex(h.number)]),
    );
    assert.equal(await rpc('eth_getCode', [recorderAddr, byHash]), contracts().Recorder.deployed);
    assert.equal(
      await rpc('eth_getStorageAt', [recorderAddr, '0x0', { blockNumber: hex(h.number) }]),
      word(h.value),
    );
  }
  // ethers reads at a past number, viem at a block hash (EIP-1898 object)
  assert.equal(await recorder.value({ blockTag: history[0].number }), history[0].value);
  const viem = viemPublic();
  assert.equal(await viem.getBalance({ address: me.address, blockHash: history[1].hash }), await viem.getBalance({ address: me.address, blockNumber: BigInt(history[1].number) }));
  // an unknown block hash is an error, not the latest state
  const unknown = ethers.keccak256('0x1234');
  const e = await rpcError('eth_getBalance', [me.address, { blockHash: unknown }]);
  if (!(await target()).hardhat) assert.equal(e.code, -32000, JSON.stringify(e));
  await rpcError('eth_call', [{ to: recorderAddr, data: callValue.data() }, { blockHash: unknown }]);
});

test('a block beyond the head is an error, not the latest state', { timeout: TEST_MS }, async () => {
  const head = BigInt(await rpc('eth_blockNumber'));
  const e = await rpcError('eth_getBalance', [me.address, hex(head + 1000n)]);
  if (!(await target()).hardhat) {
    assert.equal(e.code, -32000, JSON.stringify(e));
    assert.equal(e.message, 'header not found');
  }
  await rpcError('eth_call', [{ to: recorderAddr, data: callValue.data() }, hex(head + 1000n)]);
  assert.equal(await rpc('eth_getBlockByNumber', [hex(head + 1000n), false]), null);
});

test('eth_getProof (viem getProof) verifies against the state root, now and at a past block', { timeout: TEST_MS }, async () => {
  const viem = viemPublic();
  const keys = [slot(0), slot(1), slot(9)];
  for (const h of [history[0], history[2]]) {
    const block = await rpc('eth_getBlockByNumber', [hex(h.number), false]);
    const proof = await viem.getProof({ address: recorderAddr, storageKeys: keys, blockNumber: BigInt(h.number) });
    const leaf = verifyProof(block.stateRoot, recorderAddr, proof.accountProof);
    assert.ok(leaf, 'the account is in the trie');
    const [nonce, balance, storageRoot, codeHash] = ethers.decodeRlp(leaf);
    assert.equal(BigInt(nonce === '0x' ? 0 : nonce), BigInt(proof.nonce));
    assert.equal(BigInt(balance === '0x' ? 0 : balance), proof.balance);
    assert.equal(storageRoot, proof.storageHash);
    assert.equal(codeHash, proof.codeHash);
    assert.equal(codeHash, ethers.keccak256(contracts().Recorder.deployed));
    assert.equal(proof.nonce, 1, 'a contract starts at nonce 1 (EIP-161)');
    const values = [h.value, BigInt(h.number), 0n];
    for (const [i, sp] of proof.storageProof.entries()) {
      assert.equal(BigInt(sp.key), BigInt(keys[i]));
      assert.equal(sp.value, values[i]);
      const v = verifyProof(proof.storageHash, keys[i], sp.proof);
      if (values[i] === 0n) assert.equal(v, null, 'an empty slot is proven absent');
      else assert.equal(BigInt(ethers.decodeRlp(v)), values[i]);
    }
  }
  // an externally owned account: no code, empty storage
  const block = await rpc('eth_getBlockByNumber', ['latest', false]);
  const proof = await rpc('eth_getProof', [me.address, [], block.number]);
  const leaf = verifyProof(block.stateRoot, me.address, proof.accountProof);
  const [nonce, balance, storageRoot, codeHash] = ethers.decodeRlp(leaf);
  assert.equal(BigInt(nonce), BigInt(proof.nonce));
  assert.equal(BigInt(balance), BigInt(proof.balance));
  assert.equal(BigInt(proof.balance), BigInt(await rpc('eth_getBalance', [me.address, block.number])));
  assert.equal(storageRoot, '0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421');
  assert.equal(codeHash, ethers.keccak256('0x'));
  // an account that does not exist is proven absent
  const absent = await rpc('eth_getProof', ['0x000000000000000000000000000000000000dEaD', [], block.number]);
  assert.equal(verifyProof(block.stateRoot, '0x000000000000000000000000000000000000dEaD', absent.accountProof), null);
});

test('eth_createAccessList lists the slots a call touches, and its gas', { timeout: TEST_MS }, async (t) => {
  if ((await target()).hardhat) return t.skip('hardhat does not implement eth_createAccessList');
  const data = recorder.interface.encodeFunctionData('record', [7]);
  const res = await rpc('eth_createAccessList', [{ from: me.address, to: recorderAddr, data }, 'latest']);
  assert.equal(res.error, undefined);
  const entry = res.accessList.find((e) => e.address.toLowerCase() === recorderAddr.toLowerCase());
  assert.ok(entry, JSON.stringify(res));
  // value, updatedAt and valueAt[the pending block]
  const expectKeys = [slot(0), slot(1)];
  for (const k of expectKeys) assert.ok(entry.storageKeys.includes(k), `${k} missing from ${JSON.stringify(entry)}`);
  assert.equal(entry.storageKeys.length, 3, JSON.stringify(entry));
  assert.ok(BigInt(res.gasUsed) > 21_000n);
  // a transaction with the list succeeds (with room: record() writes a slot named by the block)
  const tx = await me.sendTransaction({ type: 1, to: recorderAddr, data, accessList: res.accessList, gasPrice: (await provider.getFeeData()).gasPrice, gasLimit: 200_000 });
  const r = await withTimeout(tx.wait(), 'the access-list transaction');
  assert.equal(r.status, 1);
});

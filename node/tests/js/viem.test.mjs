// viem as a dapp uses it: deploy, read and write contracts, decode reverts, estimate gas,
// simulate with state overrides, read past state. Accounts 2 and 3.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import {
  BaseError,
  ContractFunctionRevertedError,
  decodeEventLog,
  encodeFunctionData,
  getContractAddress,
  keccak256,
  toHex,
  parseEther,
} from 'viem';
import { TEST_MS, contracts, devKey, viemPublic, viemWallet, withTimeout } from './lib/harness.mjs';

let client, wallet, other, tokenAddr, checksAddr, recorderAddr;

const receipt = (hash, what) =>
  withTimeout(client.waitForTransactionReceipt({ hash, pollingInterval: 250 }), what);

async function deploy(name, args = []) {
  const { abi, bytecode } = contracts()[name];
  const nonce = await client.getTransactionCount({ address: wallet.account.address });
  const hash = await wallet.deployContract({ abi, bytecode, args });
  const r = await receipt(hash, `${name}'s deployment`);
  assert.equal(r.status, 'success');
  assert.equal(r.contractAddress, getContractAddress({ from: wallet.account.address, nonce: BigInt(nonce) }).toLowerCase());
  return r;
}

/// The ContractFunctionRevertedError inside a viem error.
function reverted(e) {
  assert.ok(e instanceof BaseError, `not a viem error: ${e}`);
  const inner = e.walk((x) => x instanceof ContractFunctionRevertedError);
  assert.ok(inner, `no ContractFunctionRevertedError in: ${e.message}`);
  return inner;
}

before(async () => {
  client = viemPublic();
  wallet = viemWallet(devKey(2));
  other = viemWallet(devKey(3));
});

test('viem deploys, reads and writes; receipts decode', { timeout: TEST_MS }, async () => {
  const { abi } = contracts().Token;
  const r = await deploy('Token', ['Viem Token', 'VIEM', parseEther('500')]);
  tokenAddr = r.contractAddress;
  assert.equal(r.type, 'eip1559');
  assert.equal(r.from, wallet.account.address.toLowerCase());
  assert.equal(r.to, null);
  assert.equal(await client.getBytecode({ address: tokenAddr }), contracts().Token.deployed);
  assert.equal(await client.readContract({ address: tokenAddr, abi, functionName: 'symbol' }), 'VIEM');
  const hash = await wallet.writeContract({
    address: tokenAddr,
    abi,
    functionName: 'approve',
    args: [other.account.address, 77n],
  });
  const r2 = await receipt(hash, 'approve');
  assert.equal(r2.status, 'success');
  assert.equal(r2.logs.length, 1);
  const ev = decodeEventLog({ abi, ...r2.logs[0] });
  assert.equal(ev.eventName, 'Approval');
  assert.deepEqual(ev.args, { owner: wallet.account.address, spender: other.account.address, value: 77n });
  assert.ok(r2.effectiveGasPrice > 0n);
  assert.ok(r2.gasUsed > 21_000n);
  assert.equal(r2.cumulativeGasUsed >= r2.gasUsed, true);
  assert.equal(
    await client.readContract({ address: tokenAddr, abi, functionName: 'allowance', args: [wallet.account.address, other.account.address] }),
    77n,
  );
  // transferFrom within the allowance, from the other account
  const hash3 = await other.writeContract({
    address: tokenAddr,
    abi,
    functionName: 'transferFrom',
    args: [wallet.account.address, other.account.address, 70n],
  });
  const r3 = await receipt(hash3, 'transferFrom');
  assert.equal(r3.status, 'success');
  const ev3 = decodeEventLog({ abi, ...r3.logs[0] });
  assert.deepEqual(ev3, { eventName: 'Transfer', args: { from: wallet.account.address, to: other.account.address, value: 70n } });
  assert.equal(await client.readContract({ address: tokenAddr, abi, functionName: 'balanceOf', args: [other.account.address] }), 70n);
});

test('viem decodes custom errors: ContractFunctionRevertedError with errorName and args', { timeout: TEST_MS }, async () => {
  const { abi } = contracts().Token;
  // simulateContract (eth_call) of a transfer beyond the allowance
  await assert.rejects(
    client.simulateContract({
      account: other.account,
      address: tokenAddr,
      abi,
      functionName: 'transferFrom',
      args: [wallet.account.address, other.account.address, 100n],
    }),
    (e) => {
      const r = reverted(e);
      assert.equal(r.data?.errorName, 'InsufficientAllowance');
      assert.deepEqual(r.data.args, [other.account.address, 7n, 100n]);
      return true;
    },
  );
  // writeContract estimates gas first; the revert surfaces there
  await assert.rejects(
    other.writeContract({ address: tokenAddr, abi, functionName: 'transfer', args: [wallet.account.address, 10n ** 30n] }),
    (e) => {
      const r = reverted(e);
      assert.equal(r.data?.errorName, 'InsufficientBalance');
      assert.deepEqual(r.data.args, [other.account.address, 70n, 10n ** 30n]);
      return true;
    },
  );
  const c = await deploy('Checks');
  checksAddr = c.contractAddress;
  const checks = contracts().Checks.abi;
  await assert.rejects(
    client.readContract({ account: other.account, address: checksAddr, abi: checks, functionName: 'onlyOwner' }),
    (e) => {
      const r = reverted(e);
      assert.equal(r.data?.errorName, 'Unauthorized');
      assert.deepEqual(r.data.args, [other.account.address, keccak256(toHex('OWNER'))]);
      return true;
    },
  );
  // a require message: the reason
  await assert.rejects(
    client.simulateContract({ account: wallet.account, address: checksAddr, abi: checks, functionName: 'setPositive', args: [0n] }),
    (e) => {
      const r = reverted(e);
      assert.equal(r.reason, 'value must be positive');
      assert.equal(r.data?.errorName, 'Error');
      return true;
    },
  );
  // estimateContractGas of a reverting call
  await assert.rejects(
    client.estimateContractGas({ account: wallet.account, address: checksAddr, abi: checks, functionName: 'setSmall', args: [1000n] }),
    (e) => {
      const r = reverted(e);
      assert.equal(r.data?.errorName, 'TooLarge');
      assert.deepEqual(r.data.args, [1000n, 100n]);
      return true;
    },
  );
});

test('viem estimateGas is enough: a write sent with exactly the estimate succeeds', { timeout: TEST_MS }, async () => {
  const r = await deploy('Recorder');
  recorderAddr = r.contractAddress;
  const abi = contracts().Recorder.abi;
  const gas = await client.estimateContractGas({ account: wallet.account, address: recorderAddr, abi, functionName: 'fill', args: [10n] });
  const hash = await wallet.writeContract({ address: recorderAddr, abi, functionName: 'fill', args: [10n], gas });
  const rr = await receipt(hash, 'fill with the estimate');
  assert.equal(rr.status, 'success');
  assert.ok(rr.gasUsed <= gas && gas * 1000n <= rr.gasUsed * 1016n + 1000n, `estimate ${gas}, used ${rr.gasUsed}`);
  const tx = await client.getTransaction({ hash });
  assert.equal(tx.gas, gas);
});

test('viem call with state overrides: balance, code and storage', { timeout: TEST_MS }, async () => {
  const checks = contracts().Checks;
  const nobody = '0x00000000000000000000000000000000000c0de1';
  // a balance override seen by the callee
  const { data } = await client.call({
    account: nobody,
    to: checksAddr,
    data: encodeFunctionData({ abi: checks.abi, functionName: 'callerBalance' }),
    stateOverride: [{ address: nobody, balance: 123_456_789n }],
  });
  assert.equal(BigInt(data), 123_456_789n);
  // without the override the balance is zero
  const plain = await client.call({ account: nobody, to: checksAddr, data: encodeFunctionData({ abi: checks.abi, functionName: 'callerBalance' }) });
  assert.equal(BigInt(plain.data), 0n);
  // code and storage put on an empty address
  const empty = '0x00000000000000000000000000000000000c0de2';
  const recorder = contracts().Recorder;
  const res = await client.call({
    to: empty,
    data: encodeFunctionData({ abi: recorder.abi, functionName: 'value' }),
    stateOverride: [{ address: empty, code: recorder.deployed, state: [{ slot: toHex(0, { size: 32 }), value: toHex(4242, { size: 32 }) }] }],
  });
  assert.equal(BigInt(res.data), 4242n);
  // stateDiff changes one slot and keeps the others
  const hash = await wallet.writeContract({ address: recorderAddr, abi: recorder.abi, functionName: 'record', args: [5n], gas: 200_000n });
  const rr = await receipt(hash, 'record(5)');
  const diff = await client.call({
    to: recorderAddr,
    data: encodeFunctionData({ abi: recorder.abi, functionName: 'updatedAt' }),
    stateOverride: [{ address: recorderAddr, stateDiff: [{ slot: toHex(0, { size: 32 }), value: toHex(1, { size: 32 }) }] }],
  });
  assert.equal(BigInt(diff.data), rr.blockNumber);
});

test('viem reads past state: balances, contract reads and storage at older blocks', { timeout: TEST_MS }, async () => {
  const abi = contracts().Recorder.abi;
  const blocks = [];
  for (const v of [11n, 22n, 33n]) {
    // record() writes slots named by block.number: an estimate against the latest block can
    // be short for the next one, so send with room
    const hash = await wallet.writeContract({ address: recorderAddr, abi, functionName: 'record', args: [v], gas: 200_000n });
    const r = await receipt(hash, `record(${v})`);
    assert.equal(r.status, 'success');
    blocks.push(r.blockNumber);
  }
  assert.ok(blocks[0] < blocks[1] && blocks[1] < blocks[2], `one block each: ${blocks}`);
  for (const [i, v] of [11n, 22n, 33n].entries()) {
    assert.equal(await client.readContract({ address: recorderAddr, abi, functionName: 'value', blockNumber: blocks[i] }), v);
    assert.equal(await client.readContract({ address: recorderAddr, abi, functionName: 'updatedAt', blockNumber: blocks[i] }), blocks[i]);
    assert.equal(BigInt(await client.getStorageAt({ address: recorderAddr, slot: '0x0', blockNumber: blocks[i] })), v);
  }
  // one block before the first record, the value was still the earlier one (5)
  assert.equal(await client.readContract({ address: recorderAddr, abi, functionName: 'value', blockNumber: blocks[0] - 1n }), 5n);
  // the sender's balance and nonce moved exactly by the transactions in between
  const [b0, b2] = await Promise.all([
    client.getBalance({ address: wallet.account.address, blockNumber: blocks[0] - 1n }),
    client.getBalance({ address: wallet.account.address, blockNumber: blocks[2] }),
  ]);
  let spent = 0n;
  for (const n of blocks) {
    const block = await client.getBlock({ blockNumber: n, includeTransactions: true });
    for (const tx of block.transactions.filter((t) => t.from === wallet.account.address.toLowerCase())) {
      const r = await client.getTransactionReceipt({ hash: tx.hash });
      spent += r.gasUsed * r.effectiveGasPrice + tx.value;
    }
  }
  assert.equal(b0 - b2, spent);
  const n0 = await client.getTransactionCount({ address: wallet.account.address, blockNumber: blocks[0] - 1n });
  const n2 = await client.getTransactionCount({ address: wallet.account.address, blockNumber: blocks[2] });
  assert.equal(n2 - n0, 3);
  // before the contract existed it had no code
  assert.equal(await client.getBytecode({ address: recorderAddr, blockNumber: 0n }), undefined);
});

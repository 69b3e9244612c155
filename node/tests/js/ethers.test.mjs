// ethers v6 as a dapp uses it: deploy, call and send; receipts; balances to the wei; revert
// decoding; gas estimation. Accounts 0 and 1.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ethers } from 'ethers';
import {
  CHAIN_ID,
  TEST_MS,
  WAIT_MS,
  contracts,
  deployEthers,
  devKey,
  ethersProvider,
  assertRevert,
  expected,
  rpc,
  rpcRaw,
  target,
  withTimeout,
} from './lib/harness.mjs';

let provider, alice, bob, token, tokenAddr, checks, checksAddr, recorder;

before(async () => {
  provider = ethersProvider();
  alice = new ethers.Wallet(devKey(0), provider);
  bob = new ethers.Wallet(devKey(1), provider);
});

after(() => provider.destroy());

test('the node reports the configured chain id', { timeout: TEST_MS }, async () => {
  assert.equal(await rpc('eth_chainId'), '0x' + CHAIN_ID.toString(16));
  assert.equal((await provider.getNetwork()).chainId, BigInt(CHAIN_ID));
  assert.equal(await rpc('net_version'), String(CHAIN_ID));
});

test('deploys an ERC-20-like token: receipt, contractAddress, code, Transfer log', { timeout: TEST_MS }, async () => {
  const supply = ethers.parseEther('1000000');
  const nonce = await provider.getTransactionCount(alice.address, 'latest');
  const deployed = await deployEthers(alice, 'Token', ['Parallax Test', 'PTT', supply]);
  token = deployed.contract;
  tokenAddr = deployed.address;
  const r = deployed.receipt;
  assert.equal(r.status, 1);
  assert.equal(r.to, null);
  assert.equal(r.from, alice.address);
  assert.equal(r.contractAddress, ethers.getCreateAddress({ from: alice.address, nonce }));
  assert.equal(r.contractAddress, tokenAddr);
  assert.equal(r.type, 2);
  assert.ok(r.gasUsed > 21_000n && r.gasUsed < 3_000_000n, `gasUsed ${r.gasUsed}`);
  assert.equal(r.logs.length, 1);
  const log = token.interface.parseLog(r.logs[0]);
  assert.equal(log.name, 'Transfer');
  assert.deepEqual([...log.args], [ethers.ZeroAddress, alice.address, supply]);
  assert.equal(r.logs[0].address, tokenAddr);
  assert.equal(r.logs[0].blockNumber, r.blockNumber);
  assert.equal(r.logs[0].blockHash, r.blockHash);
  assert.equal(r.logs[0].transactionHash, r.hash);
  assert.equal(await provider.getCode(tokenAddr), contracts().Token.deployed);
  assert.equal(await token.name(), 'Parallax Test');
  assert.equal(await token.symbol(), 'PTT');
  assert.equal(await token.decimals(), 18n);
  assert.equal(await token.totalSupply(), supply);
  assert.equal(await token.balanceOf(alice.address), supply);
});

test('a token transfer: receipt fields, decoded events, balances to the wei', { timeout: TEST_MS }, async () => {
  const amount = 12_345_678_901n;
  const beforeToken = await token.balanceOf(alice.address);
  const tx = await token.transfer(bob.address, amount);
  const r = await withTimeout(tx.wait(), 'the transfer receipt');
  assert.equal(r.status, 1);
  assert.equal(r.to, tokenAddr);
  assert.equal(r.contractAddress, null);
  assert.equal(r.type, 2);
  assert.equal(r.logs.length, 1);
  const ev = token.interface.parseLog(r.logs[0]);
  assert.equal(ev.name, 'Transfer');
  assert.equal(ev.args.from, alice.address);
  assert.equal(ev.args.to, bob.address);
  assert.equal(ev.args.value, amount);
  assert.equal(r.logs[0].topics[0], ethers.id('Transfer(address,address,uint256)'));
  assert.equal(r.logs[0].topics[1], ethers.zeroPadValue(alice.address, 32).toLowerCase());
  assert.equal(r.logs[0].data, ethers.toBeHex(amount, 32));
  assert.equal(await token.balanceOf(alice.address), beforeToken - amount);
  assert.equal(await token.balanceOf(bob.address, { blockTag: r.blockNumber }), amount + (await token.balanceOf(bob.address, { blockTag: r.blockNumber - 1 })));

  // the effective gas price is the block's base fee plus the tip, capped by maxFeePerGas
  const block = await provider.getBlock(r.blockNumber);
  const sent = await provider.getTransaction(r.hash);
  const uncapped = block.baseFeePerGas + sent.maxPriorityFeePerGas;
  const expectPrice = uncapped < sent.maxFeePerGas ? uncapped : sent.maxFeePerGas;
  assert.equal(r.gasPrice, expectPrice);
  // the sender paid exactly gasUsed * effectiveGasPrice
  const ethBefore = await provider.getBalance(alice.address, r.blockNumber - 1);
  const ethAfter = await provider.getBalance(alice.address, r.blockNumber);
  assert.equal(ethBefore - ethAfter, r.gasUsed * r.gasPrice);
  assert.equal(r.cumulativeGasUsed >= r.gasUsed, true);
});

test('an ETH transfer: sender loses value + gasUsed * effectiveGasPrice, recipient gains value', { timeout: TEST_MS }, async () => {
  const to = ethers.Wallet.createRandom().address;
  const value = 1_000_000_000_000_000_007n;
  const tx = await alice.sendTransaction({ to, value });
  const r = await withTimeout(tx.wait(), 'the ETH transfer');
  assert.equal(r.status, 1);
  assert.equal(r.gasUsed, 21_000n);
  const raw = await rpc('eth_getTransactionReceipt', [r.hash]);
  assert.equal(raw.type, '0x2');
  assert.equal(raw.status, '0x1');
  assert.equal(raw.gasUsed, '0x5208');
  assert.equal(raw.logs.length, 0);
  assert.equal(raw.transactionIndex, (await rpc('eth_getTransactionByHash', [r.hash])).transactionIndex);
  const before = await provider.getBalance(alice.address, r.blockNumber - 1);
  const afterB = await provider.getBalance(alice.address, r.blockNumber);
  assert.equal(before - afterB, value + r.gasUsed * BigInt(raw.effectiveGasPrice));
  assert.equal(await provider.getBalance(to), value);
  assert.equal(await provider.getBalance(to, r.blockNumber - 1), 0n);
  assert.equal(await provider.getTransactionCount(alice.address, r.blockNumber), tx.nonce + 1);
});

test('custom errors decode: CALL_EXCEPTION with the error name and arguments', { timeout: TEST_MS }, async () => {
  ({ contract: checks, address: checksAddr } = await deployEthers(alice, 'Checks'));
  // eth_call (staticCall) of a custom error
  await assert.rejects(checks.setSmall.staticCall(1000), (e) => {
    assert.equal(e.code, 'CALL_EXCEPTION');
    assert.equal(e.revert?.name, 'TooLarge');
    assert.deepEqual([...e.revert.args], [1000n, 100n]);
    assert.equal(e.data, checks.interface.encodeErrorResult('TooLarge', [1000, 100]));
    return true;
  });
  // sending: ethers estimates gas first, and the estimate's error carries the revert data,
  // which the contract's interface decodes
  await assert.rejects(checks.setSmall(101), (e) => {
    assert.equal(e.code, 'CALL_EXCEPTION');
    const decoded = checks.interface.parseError(e.data);
    assert.equal(decoded?.name, 'TooLarge');
    assert.deepEqual([...decoded.args], [101n, 100n]);
    return true;
  });
  // a view reverting for a different caller
  const asBob = checks.connect(bob);
  await assert.rejects(asBob.onlyOwner(), (e) => {
    assert.equal(e.code, 'CALL_EXCEPTION');
    assert.equal(e.revert?.name, 'Unauthorized');
    assert.deepEqual([...e.revert.args], [bob.address, ethers.id('OWNER')]);
    return true;
  });
  assert.equal(await checks.onlyOwner(), true);
  // a require message
  await assert.rejects(checks.setPositive(0), (e) => {
    assert.equal(e.code, 'CALL_EXCEPTION');
    assert.equal(e.reason, 'value must be positive');
    assert.equal(e.revert?.name, 'Error');
    return true;
  });
  // a panic
  await assert.rejects(checks.divide(1, 0), (e) => {
    assert.equal(e.code, 'CALL_EXCEPTION');
    assert.equal(e.revert?.name, 'Panic');
    assert.equal(BigInt(e.revert.args[0]), 0x12n);
    return true;
  });
});

test('reverts over raw JSON-RPC: code 3, "execution reverted: <reason>", 0x data', { timeout: TEST_MS }, async () => {
  const iface = checks.interface;
  const call = (data, from = alice.address) => [{ from, to: checksAddr, data }, 'latest'];

  const req = await rpcRaw('eth_call', call(iface.encodeFunctionData('setPositive', [0])));
  assert.equal(
    await assertRevert(req.error, 'execution reverted: value must be positive'),
    iface.encodeErrorResult('Error', ['value must be positive']),
  );
  // a custom error has no reason geth can print
  const custom = await rpcRaw('eth_call', call(iface.encodeFunctionData('setSmall', [500])));
  assert.equal(await assertRevert(custom.error, 'execution reverted'), iface.encodeErrorResult('TooLarge', [500, 100]));
  const panic = await rpcRaw('eth_call', call(iface.encodeFunctionData('divide', [1, 0])));
  assert.equal(
    await assertRevert(panic.error, 'execution reverted: division or modulo by zero'),
    iface.encodeErrorResult('Panic', [0x12]),
  );
  const who = await rpcRaw('eth_call', call(iface.encodeFunctionData('onlyOwner'), bob.address));
  assert.equal(
    await assertRevert(who.error, 'execution reverted'),
    iface.encodeErrorResult('Unauthorized', [bob.address, ethers.id('OWNER')]),
  );

  // eth_estimateGas of a reverting transaction reports the same revert
  const est = await rpcRaw('eth_estimateGas', [call(iface.encodeFunctionData('setPositive', [0]))[0]]);
  assert.equal(
    await assertRevert(est.error, 'execution reverted: value must be positive'),
    iface.encodeErrorResult('Error', ['value must be positive']),
  );
  const est2 = await rpcRaw('eth_estimateGas', [call(iface.encodeFunctionData('setSmall', [777]))[0]]);
  assert.equal(await assertRevert(est2.error, 'execution reverted'), iface.encodeErrorResult('TooLarge', [777, 100]));

  // a bare revert() has no data and no reason
  const bare = await rpcRaw('eth_call', call(iface.encodeFunctionData('bare')));
  assert.ok(bare.error, JSON.stringify(bare));
  assert.match(bare.error.message, await expected(/^execution reverted$/, /^Error: Transaction reverted without a reason string$/));
  assert.ok([undefined, '0x'].includes(typeof bare.error.data === 'string' ? bare.error.data : bare.error.data?.data));
});

test('a transaction mined as reverted: status 0, wait() rejects with CALL_EXCEPTION', { timeout: TEST_MS }, async () => {
  // an explicit gas limit skips estimation, so the failing transaction is mined
  const tx = await checks.setSmall(5000, { gasLimit: 100_000 });
  await assert.rejects(withTimeout(tx.wait(), 'the reverted receipt'), (e) => {
    assert.equal(e.code, 'CALL_EXCEPTION');
    assert.equal(e.receipt?.status, 0);
    return true;
  });
  const r = await provider.getTransactionReceipt(tx.hash);
  assert.equal(r.status, 0);
  assert.equal(r.logs.length, 0);
  assert.ok(r.gasUsed > 21_000n && r.gasUsed < 100_000n, `gasUsed ${r.gasUsed}`);
  // the state did not change
  assert.equal(await checks.stored(), 0n);
});

test('estimateGas: a plain transfer is exactly 21000; a contract call sent with exactly the estimate succeeds', { timeout: TEST_MS }, async () => {
  // (hardhat's search answers 21001)
  assert.equal(await provider.estimateGas({ from: alice.address, to: bob.address, value: 1n }), await expected(21_000n, 21_001n));
  ({ contract: recorder } = await deployEthers(alice, 'Recorder'));
  for (const n of [1, 20]) {
    const estimate = await recorder.fill.estimateGas(n);
    const tx = await recorder.fill(n, { gasLimit: estimate });
    const r = await withTimeout(tx.wait(), `fill(${n}) with the estimate`);
    assert.equal(r.status, 1);
    assert.ok(r.gasUsed <= estimate, `gasUsed ${r.gasUsed} > estimate ${estimate}`);
    // geth's binary search stops within 1.5% of the smallest limit that succeeds
    assert.ok(estimate * 1000n <= r.gasUsed * 1016n + 1000n, `estimate ${estimate} far above gasUsed ${r.gasUsed}`);
  }
  // an estimate capped below what the call needs is an error, not a number under the cap
  const data = recorder.interface.encodeFunctionData('fill', [20]);
  const capped = await rpcRaw('eth_estimateGas', [{ from: alice.address, to: await recorder.getAddress(), data, gas: '0x7530' }]);
  assert.ok(capped.error, `eth_estimateGas under a 30000 cap should fail: ${JSON.stringify(capped)}`);
  if (!(await target()).hardhat) {
    assert.equal(capped.error.code, -32000, JSON.stringify(capped));
    assert.equal(capped.error.message, 'gas required exceeds allowance (30000)');
  }
  // the same call with too little gas runs out of gas: status 0, the whole limit used
  const estimate = await recorder.fill.estimateGas(20);
  const tx = await recorder.fill(20, { gasLimit: estimate - 30_000n });
  await assert.rejects(withTimeout(tx.wait(), 'the out-of-gas receipt'), (e) => e.code === 'CALL_EXCEPTION');
  const r = await provider.getTransactionReceipt(tx.hash);
  assert.equal(r.status, 0);
  assert.equal(r.gasUsed, estimate - 30_000n);
});

test('getFeeData and a send with its fees', { timeout: TEST_MS }, async () => {
  const fees = await provider.getFeeData();
  const latest = await provider.getBlock('latest');
  assert.ok(fees.gasPrice >= latest.baseFeePerGas, `gasPrice ${fees.gasPrice} < baseFee ${latest.baseFeePerGas}`);
  assert.ok(fees.maxFeePerGas >= latest.baseFeePerGas);
  assert.ok(fees.maxPriorityFeePerGas >= 0n);
  const tx = await bob.sendTransaction({
    to: alice.address,
    value: 1n,
    maxFeePerGas: fees.maxFeePerGas,
    maxPriorityFeePerGas: fees.maxPriorityFeePerGas,
  });
  const r = await withTimeout(tx.wait(), 'a send with getFeeData fees');
  assert.equal(r.status, 1);
  const b = await provider.getBlock(r.blockNumber);
  const tip = fees.maxPriorityFeePerGas < fees.maxFeePerGas - b.baseFeePerGas ? fees.maxPriorityFeePerGas : fees.maxFeePerGas - b.baseFeePerGas;
  assert.equal(r.gasPrice, b.baseFeePerGas + tip);
});

async function transferBase() {
  const fees = await provider.getFeeData();
  return {
    to: alice.address,
    value: 1n,
    gasLimit: 21_000n,
    chainId: CHAIN_ID,
    maxFeePerGas: fees.maxFeePerGas,
    maxPriorityFeePerGas: fees.maxPriorityFeePerGas,
    type: 2,
  };
}

test('a rejected transaction: nonce too low (-32000, geth\'s wording)', { timeout: TEST_MS }, async () => {
  const nonce = await provider.getTransactionCount(bob.address, 'latest');
  const low = await bob.signTransaction({ ...(await transferBase()), nonce: nonce - 1 });
  const lowRes = await rpcRaw('eth_sendRawTransaction', [low]);
  assert.ok(lowRes.error, JSON.stringify(lowRes));
  assert.equal(lowRes.error.code, -32000);
  assert.match(
    lowRes.error.message,
    await expected(new RegExp(`^nonce too low: next nonce ${nonce}, tx nonce ${nonce - 1}$`), /^Nonce too low/),
  );
});

test('a rejected transaction: insufficient funds (-32000, geth\'s wording)', { timeout: TEST_MS }, async () => {
  const poor = ethers.Wallet.createRandom();
  const broke = await poor.signTransaction({ ...(await transferBase()), nonce: 0 });
  const brokeRes = await rpcRaw('eth_sendRawTransaction', [broke]);
  assert.equal(brokeRes.error?.code, -32000, JSON.stringify(brokeRes));
  assert.match(brokeRes.error.message, await expected(/^insufficient funds for gas \* price \+ value: balance 0, tx cost \d+, overshot \d+$/, /^Sender doesn't have enough funds to send tx/));
});

test('a rejected transaction: the same bytes twice are "already known" (-32000)', { timeout: TEST_MS }, async () => {
  const nonce = await provider.getTransactionCount(bob.address, 'latest');
  const ok = await bob.signTransaction({ ...(await transferBase()), nonce });
  const first = await rpc('eth_sendRawTransaction', [ok]);
  assert.equal(first, ethers.keccak256(ok));
  // (if the first was already mined, geth says the nonce is too low; hardhat mines at once)
  const again = await rpcRaw('eth_sendRawTransaction', [ok]);
  assert.equal(again.error?.code, -32000, JSON.stringify(again));
  assert.match(again.error.message, await expected(/^(already known|nonce too low: next nonce \d+, tx nonce \d+)$/, /./));
  await withTimeout(provider.waitForTransaction(first, 1, WAIT_MS), 'the accepted transfer');
});

// Across nodes: transactions sent to one node (PARALLAX_SEND_HTTP) are followed on another
// (PARALLAX_HTTP / PARALLAX_WS) — a deployment, every transaction type, a subscription and a
// past-state read. With one node (the default) both are the same. Accounts 16 to 18.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ethers } from 'ethers';
import { encodeFunctionData } from 'viem';
import {
  CHAIN_ID,
  HTTP,
  SEND_HTTP,
  TEST_MS,
  WS,
  contracts,
  devKey,
  ethersProvider,
  hex,
  receiptOf,
  rpc,
  viemWallet,
} from './lib/harness.mjs';
import { connectWs } from './lib/rawws.mjs';

let sendProvider, sender, tokenAddr, deployBlock, delegateAddr;
const iface = () => new ethers.Interface(contracts().Token.abi);

before(() => {
  sendProvider = ethersProvider(SEND_HTTP);
  sender = new ethers.Wallet(devKey(16), sendProvider);
});

after(() => sendProvider.destroy());

/// The receipt as the reading node reports it, and the sender's cost checked to the wei there.
async function followed(hash, from, value = 0n) {
  const r = await receiptOf(hash, HTTP);
  assert.equal(r.status, '0x1', JSON.stringify(r));
  const n = BigInt(r.blockNumber);
  const before = BigInt(await rpc('eth_getBalance', [from, hex(n - 1n)], HTTP));
  const after = BigInt(await rpc('eth_getBalance', [from, hex(n)], HTTP));
  assert.equal(before - after, value + BigInt(r.gasUsed) * BigInt(r.effectiveGasPrice), 'the cost, to the wei, on the reading node');
  return r;
}

test('a contract deployed through one node is served by the other', { timeout: TEST_MS }, async () => {
  const { abi, bytecode, deployed } = contracts().Token;
  const factory = new ethers.ContractFactory(abi, bytecode, sender);
  const tx = await factory.getDeployTransaction('Net', 'NET', 10n ** 24n);
  const sent = await sender.sendTransaction(tx);
  const r = await followed(sent.hash, sender.address);
  tokenAddr = ethers.getAddress(r.contractAddress);
  assert.equal(tokenAddr, ethers.getCreateAddress({ from: sender.address, nonce: sent.nonce }));
  deployBlock = BigInt(r.blockNumber);
  assert.equal(await rpc('eth_getCode', [tokenAddr, 'latest'], HTTP), deployed);
  assert.equal(
    BigInt(await rpc('eth_call', [{ to: tokenAddr, data: iface().encodeFunctionData('totalSupply') }, 'latest'], HTTP)),
    10n ** 24n,
  );
  const { address } = await (async () => {
    const f = new ethers.ContractFactory(contracts().Delegate.abi, contracts().Delegate.bytecode, sender);
    const s = await sender.sendTransaction(await f.getDeployTransaction());
    const rr = await followed(s.hash, sender.address);
    return { address: ethers.getAddress(rr.contractAddress) };
  })();
  delegateAddr = address;
});

test('every transaction type sent to one node lands on the other', { timeout: TEST_MS }, async () => {
  const fees = await sendProvider.getFeeData();
  const to = ethers.Wallet.createRandom().address;
  const kinds = [
    { type: 0, gasPrice: fees.gasPrice, chainId: CHAIN_ID },
    { type: 1, gasPrice: fees.gasPrice, chainId: CHAIN_ID, accessList: [{ address: to, storageKeys: [] }] },
    { type: 2, maxFeePerGas: fees.maxFeePerGas, maxPriorityFeePerGas: fees.maxPriorityFeePerGas },
  ];
  let total = 0n;
  for (const [i, k] of kinds.entries()) {
    const value = BigInt(1000 + i);
    const sent = await sender.sendTransaction({ ...k, to, value });
    const r = await followed(sent.hash, sender.address, value);
    assert.equal(r.type, hex(k.type));
    const tx = await rpc('eth_getTransactionByHash', [sent.hash], HTTP);
    assert.equal(tx.type, hex(k.type));
    assert.equal(tx.hash, sent.hash);
    total += value;
  }
  assert.equal(BigInt(await rpc('eth_getBalance', [to, 'latest'], HTTP)), total);

  // EIP-7702 through the sending node, self-executed by account 18
  const eoa = viemWallet(devKey(18), SEND_HTTP);
  const before = BigInt(await rpc('eth_getStorageAt', [eoa.account.address, '0x0', 'latest'], HTTP));
  const authorization = await eoa.signAuthorization({ address: delegateAddr, executor: 'self' });
  const hash = await eoa.sendTransaction({
    authorizationList: [authorization],
    to: eoa.account.address,
    data: encodeFunctionData({ abi: contracts().Delegate.abi, functionName: 'ping' }),
  });
  const r = await followed(hash, eoa.account.address);
  assert.equal(r.type, '0x4');
  assert.equal(await rpc('eth_getCode', [eoa.account.address, 'latest'], HTTP), '0xef0100' + delegateAddr.slice(2).toLowerCase());
  assert.equal(BigInt(await rpc('eth_getStorageAt', [eoa.account.address, '0x0', 'latest'], HTTP)), before + 1n);
  assert.equal(r.logs[0].address.toLowerCase(), eoa.account.address.toLowerCase());
});

test('a subscription on one node sees a transfer sent to the other', { timeout: TEST_MS }, async () => {
  const ws = await connectWs(WS);
  try {
    const to = ethers.Wallet.createRandom().address;
    const topic = ethers.id('Transfer(address,address,uint256)');
    const sub = (await ws.call('eth_subscribe', ['logs', { address: tokenAddr, topics: [topic, null, ethers.zeroPadValue(to, 32)] }])).result;
    assert.match(sub, /^0x[0-9a-f]+$/);
    const heads = (await ws.call('eth_subscribe', ['newHeads'])).result;
    const token = new ethers.Contract(tokenAddr, contracts().Token.abi, sender);
    const sent = await token.transfer(to, 4321n);
    const note = await ws.next((m) => m.params?.subscription === sub, 'the Transfer notification on the reading node');
    assert.equal(note.params.result.transactionHash, sent.hash);
    assert.equal(BigInt(note.params.result.data), 4321n);
    const head = await ws.next((m) => m.params?.subscription === heads, 'a newHeads notification');
    assert.match(head.params.result.hash, /^0x[0-9a-f]{64}$/);
    await followed(sent.hash, sender.address);
  } finally {
    ws.close();
  }
});

test('past state on the reading node: token balances and ETH balances at older blocks', { timeout: TEST_MS }, async () => {
  const holder = sender.address;
  const bal = async (block) =>
    BigInt(await rpc('eth_call', [{ to: tokenAddr, data: iface().encodeFunctionData('balanceOf', [holder]) }, block], HTTP));
  const b0 = await rpc('eth_getBlockByNumber', [hex(deployBlock), false], HTTP);
  assert.equal(await bal(hex(deployBlock)), 10n ** 24n);
  assert.equal(await bal({ blockHash: b0.hash }), 10n ** 24n);
  assert.equal(await bal('latest'), 10n ** 24n - 4321n);
  assert.equal(await rpc('eth_getCode', [tokenAddr, hex(deployBlock - 1n)], HTTP), '0x');
  // both nodes agree on the block and the state at it
  const there = await rpc('eth_getBlockByNumber', [hex(deployBlock), false], SEND_HTTP);
  assert.equal(there.hash, b0.hash);
  assert.equal(
    await rpc('eth_getBalance', [holder, hex(deployBlock)], SEND_HTTP),
    await rpc('eth_getBalance', [holder, hex(deployBlock)], HTTP),
  );
});

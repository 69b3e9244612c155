// Every transaction type, signed by ethers and by viem: legacy (type 0, EIP-155), EIP-2930
// (type 1, access list), EIP-1559 (type 2), EIP-7702 (type 4, an EOA delegating to a
// contract). Each is checked on the node's answers to the wei. Accounts 4 to 10.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ethers } from 'ethers';
import { encodeFunctionData, decodeEventLog } from 'viem';
import {
  CHAIN_ID,
  TEST_MS,
  contracts,
  deployEthers,
  devKey,
  ethersProvider,
  rpc,
  viemPublic,
  viemWallet,
  withTimeout,
} from './lib/harness.mjs';

let provider, signer, client, wallet, delegateAddr, recorderAddr;

before(async () => {
  provider = ethersProvider();
  signer = new ethers.Wallet(devKey(4), provider);
  client = viemPublic();
  wallet = viemWallet(devKey(5));
  ({ address: delegateAddr } = await deployEthers(signer, 'Delegate'));
  ({ address: recorderAddr } = await deployEthers(signer, 'Recorder'));
});

after(() => provider.destroy());

/// Checks what every mined transfer must satisfy and returns the raw transaction and receipt.
async function checkTransfer(hash, { from, to, value, type }) {
  const r = await withTimeout(
    client.waitForTransactionReceipt({ hash, pollingInterval: 250 }),
    `the receipt of a type ${type} transaction`,
  );
  const raw = await rpc('eth_getTransactionReceipt', [hash]);
  const tx = await rpc('eth_getTransactionByHash', [hash]);
  assert.equal(raw.status, '0x1');
  assert.equal(raw.type, '0x' + type.toString(16));
  assert.equal(tx.type, raw.type);
  assert.equal(tx.hash, hash);
  assert.equal(tx.from.toLowerCase(), from.toLowerCase());
  assert.equal(tx.to.toLowerCase(), to.toLowerCase());
  assert.equal(BigInt(tx.value), value);
  assert.equal(tx.blockHash, raw.blockHash);
  assert.equal(tx.blockNumber, raw.blockNumber);
  assert.equal(tx.transactionIndex, raw.transactionIndex);
  if (type !== 0) assert.equal(BigInt(tx.chainId), BigInt(CHAIN_ID));
  const block = await rpc('eth_getBlockByNumber', [raw.blockNumber, false]);
  assert.ok(block.transactions.includes(hash));
  // the price paid
  const base = BigInt(block.baseFeePerGas);
  const price =
    type === 0 || type === 1
      ? BigInt(tx.gasPrice)
      : BigInt(tx.maxFeePerGas) < base + BigInt(tx.maxPriorityFeePerGas)
        ? BigInt(tx.maxFeePerGas)
        : base + BigInt(tx.maxPriorityFeePerGas);
  assert.equal(BigInt(raw.effectiveGasPrice), price, 'effectiveGasPrice');
  if (type >= 2) assert.equal(BigInt(tx.gasPrice), price, 'a mined dynamic-fee transaction reports its effective price');
  // balances to the wei, from the state before and after its block
  const n = BigInt(raw.blockNumber);
  const [before, after, toBefore, toAfter] = await Promise.all([
    client.getBalance({ address: from, blockNumber: n - 1n }),
    client.getBalance({ address: from, blockNumber: n }),
    client.getBalance({ address: to, blockNumber: n - 1n }),
    client.getBalance({ address: to, blockNumber: n }),
  ]);
  assert.equal(before - after, value + BigInt(raw.gasUsed) * price, 'the sender pays value + gasUsed * effectiveGasPrice');
  assert.equal(toAfter - toBefore, value, 'the recipient gains value');
  return { tx, raw, block };
}

const fresh = () => ethers.Wallet.createRandom().address;

test('legacy (type 0) with EIP-155, from ethers and from viem', { timeout: TEST_MS }, async () => {
  const { gasPrice } = await provider.getFeeData();
  const to = fresh();
  const sent = await signer.sendTransaction({ type: 0, to, value: 1234n, gasPrice, chainId: CHAIN_ID });
  assert.equal(sent.type, 0);
  const { tx, raw } = await checkTransfer(sent.hash, { from: signer.address, to, value: 1234n, type: 0 });
  assert.equal(BigInt(tx.gasPrice), gasPrice);
  assert.equal(raw.gasUsed, '0x5208');
  // EIP-155: v = chainId * 2 + 35 + yParity
  const v = BigInt(tx.v);
  assert.ok(v === BigInt(CHAIN_ID) * 2n + 35n || v === BigInt(CHAIN_ID) * 2n + 36n, `v ${tx.v} is not EIP-155 for chain ${CHAIN_ID}`);
  // the node's transaction re-serialises to the same hash
  const again = ethers.Transaction.from({
    type: 0,
    to: tx.to,
    nonce: Number(tx.nonce),
    gasLimit: tx.gas,
    gasPrice: tx.gasPrice,
    data: tx.input,
    value: tx.value,
    chainId: CHAIN_ID,
    signature: { r: tx.r, s: tx.s, v: tx.v },
  });
  assert.equal(again.hash, sent.hash);

  const to2 = fresh();
  const hash = await wallet.sendTransaction({ type: 'legacy', to: to2, value: 99n, gasPrice: await client.getGasPrice() });
  const { tx: tx2 } = await checkTransfer(hash, { from: wallet.account.address, to: to2, value: 99n, type: 0 });
  const v2 = BigInt(tx2.v);
  assert.ok(v2 === BigInt(CHAIN_ID) * 2n + 35n || v2 === BigInt(CHAIN_ID) * 2n + 36n, `v ${tx2.v}`);
});

test('EIP-2930 (type 1): the access list is kept and charged', { timeout: TEST_MS }, async () => {
  const { gasPrice } = await provider.getFeeData();
  const to = fresh();
  const accessList = [{ address: recorderAddr, storageKeys: [ethers.zeroPadValue('0x00', 32), ethers.zeroPadValue('0x01', 32)] }];
  const sent = await signer.sendTransaction({ type: 1, to, value: 5n, gasPrice, accessList, chainId: CHAIN_ID });
  const { tx, raw } = await checkTransfer(sent.hash, { from: signer.address, to, value: 5n, type: 1 });
  assert.deepEqual(
    tx.accessList.map((e) => ({ address: e.address.toLowerCase(), storageKeys: e.storageKeys })),
    accessList.map((e) => ({ address: e.address.toLowerCase(), storageKeys: e.storageKeys })),
  );
  // 21000 + 2400 per address + 1900 per storage key
  assert.equal(BigInt(raw.gasUsed), 21_000n + 2_400n + 2n * 1_900n);
  assert.ok(['0x0', '0x1'].includes(tx.yParity ?? tx.v), `yParity ${tx.yParity}`);

  const to2 = fresh();
  const hash = await wallet.sendTransaction({
    type: 'eip2930',
    to: to2,
    value: 6n,
    gasPrice: await client.getGasPrice(),
    accessList: [{ address: recorderAddr, storageKeys: [] }],
  });
  const { tx: tx2, raw: raw2 } = await checkTransfer(hash, { from: wallet.account.address, to: to2, value: 6n, type: 1 });
  assert.equal(tx2.accessList.length, 1);
  assert.equal(tx2.accessList[0].address.toLowerCase(), recorderAddr.toLowerCase());
  assert.equal(BigInt(raw2.gasUsed), 21_000n + 2_400n);
});

test('EIP-1559 (type 2): base fee + tip, capped by maxFeePerGas', { timeout: TEST_MS }, async () => {
  const fees = await provider.getFeeData();
  const to = fresh();
  const sent = await signer.sendTransaction({
    type: 2,
    to,
    value: 7n,
    maxFeePerGas: fees.maxFeePerGas,
    maxPriorityFeePerGas: fees.maxPriorityFeePerGas,
  });
  const { tx } = await checkTransfer(sent.hash, { from: signer.address, to, value: 7n, type: 2 });
  assert.equal(BigInt(tx.maxFeePerGas), fees.maxFeePerGas);
  assert.equal(BigInt(tx.maxPriorityFeePerGas), fees.maxPriorityFeePerGas);

  // viem fills the fees itself (eth_maxPriorityFeePerGas / the latest base fee)
  const to2 = fresh();
  const hash = await wallet.sendTransaction({ to: to2, value: 8n });
  const { tx: tx2 } = await checkTransfer(hash, { from: wallet.account.address, to: to2, value: 8n, type: 2 });
  assert.ok(BigInt(tx2.maxFeePerGas) >= BigInt(tx2.maxPriorityFeePerGas));

  // a tip larger than the room under maxFeePerGas is capped: the price is exactly maxFeePerGas
  const block = await client.getBlock();
  const maxFeePerGas = block.baseFeePerGas * 2n + 1n;
  const to3 = fresh();
  const hash3 = await wallet.sendTransaction({ to: to3, value: 9n, maxFeePerGas, maxPriorityFeePerGas: maxFeePerGas });
  const { raw: raw3 } = await checkTransfer(hash3, { from: wallet.account.address, to: to3, value: 9n, type: 2 });
  assert.equal(BigInt(raw3.effectiveGasPrice), maxFeePerGas);
});

const delegateAbi = () => contracts().Delegate.abi;
const pingedTopic = ethers.id('Pinged(address,address,uint256)');

async function checkDelegated(eoa) {
  const code = await rpc('eth_getCode', [eoa, 'latest']);
  assert.equal(code, '0xef0100' + delegateAddr.slice(2).toLowerCase(), 'eth_getCode shows the delegation designator');
  // calling the EOA runs the delegate's code in the EOA's context
  const self = await rpc('eth_call', [{ to: eoa, data: encodeFunctionData({ abi: delegateAbi(), functionName: 'self' }) }, 'latest']);
  assert.equal(self, ethers.zeroPadValue(eoa, 32).toLowerCase());
}

test('EIP-7702 (type 4) with ethers: a sponsor sends the authorization of another EOA', { timeout: TEST_MS }, async () => {
  const eoa = new ethers.Wallet(devKey(8), provider);
  const sponsor = new ethers.Wallet(devKey(10), provider);
  const eoaNonce = await provider.getTransactionCount(eoa.address, 'latest');
  const countBefore = BigInt(await rpc('eth_getStorageAt', [eoa.address, '0x0', 'latest']));
  const auth = await eoa.authorize({ address: delegateAddr });
  assert.equal(auth.nonce, BigInt(eoaNonce));
  assert.equal(auth.chainId, BigInt(CHAIN_ID));
  const iface = new ethers.Interface(delegateAbi());
  const sent = await sponsor.sendTransaction({
    type: 4,
    to: eoa.address,
    data: iface.encodeFunctionData('ping'),
    authorizationList: [auth],
  });
  const r = await withTimeout(sent.wait(), 'the type 4 receipt');
  assert.equal(r.status, 1);
  assert.equal(r.type, 4);
  const tx = await rpc('eth_getTransactionByHash', [sent.hash]);
  assert.equal(tx.type, '0x4');
  assert.equal(tx.authorizationList.length, 1);
  const a = tx.authorizationList[0];
  assert.equal(a.address.toLowerCase(), delegateAddr.toLowerCase());
  assert.equal(BigInt(a.chainId), BigInt(CHAIN_ID));
  assert.equal(BigInt(a.nonce), BigInt(eoaNonce));
  assert.equal(BigInt(a.r), BigInt(auth.signature.r));
  assert.equal(BigInt(a.s), BigInt(auth.signature.s));
  assert.equal(Number(a.yParity), auth.signature.yParity);
  // the delegate's code ran on the EOA: its log comes from the EOA, its storage changed
  assert.equal(r.logs.length, 1);
  assert.equal(r.logs[0].address, eoa.address);
  assert.equal(r.logs[0].topics[0], pingedTopic);
  const ev = iface.parseLog(r.logs[0]);
  assert.equal(ev.args.self, eoa.address);
  assert.equal(ev.args.caller, sponsor.address);
  assert.equal(ev.args.count, countBefore + 1n);
  assert.equal(BigInt(await rpc('eth_getStorageAt', [eoa.address, '0x0', 'latest'])), countBefore + 1n);
  // the authorization used the EOA's nonce
  assert.equal(await provider.getTransactionCount(eoa.address, 'latest'), eoaNonce + 1);
  await checkDelegated(eoa.address);
});

test('EIP-7702 (type 4) with viem: an EOA delegates itself, then anyone calls it', { timeout: TEST_MS }, async () => {
  const eoaWallet = viemWallet(devKey(9));
  const eoa = eoaWallet.account.address;
  const nonce = await client.getTransactionCount({ address: eoa });
  const countBefore = BigInt(await rpc('eth_getStorageAt', [eoa, '0x0', 'latest']));
  const authorization = await eoaWallet.signAuthorization({ address: delegateAddr, executor: 'self' });
  assert.equal(authorization.nonce, nonce + 1, 'a self-executed authorization takes the nonce after the transaction');
  const hash = await eoaWallet.sendTransaction({
    authorizationList: [authorization],
    to: eoa,
    data: encodeFunctionData({ abi: delegateAbi(), functionName: 'ping' }),
  });
  const r = await withTimeout(client.waitForTransactionReceipt({ hash, pollingInterval: 250 }), 'the self-sponsored type 4 receipt');
  assert.equal(r.status, 'success');
  assert.equal(r.type, 'eip7702');
  assert.equal(r.logs.length, 1);
  const ev = decodeEventLog({ abi: delegateAbi(), ...r.logs[0] });
  assert.equal(ev.eventName, 'Pinged');
  assert.equal(ev.args.self, eoa);
  assert.equal(ev.args.caller, eoa);
  assert.equal(ev.args.count, countBefore + 1n);
  assert.equal(await client.getTransactionCount({ address: eoa }), nonce + 2);
  await checkDelegated(eoa);

  // a plain EIP-1559 call from another account runs the delegated code again
  const hash2 = await wallet.writeContract({ address: eoa, abi: delegateAbi(), functionName: 'ping' });
  const r2 = await withTimeout(client.waitForTransactionReceipt({ hash: hash2, pollingInterval: 250 }), 'the call to the delegated EOA');
  assert.equal(r2.status, 'success');
  assert.equal(r2.logs[0].address.toLowerCase(), eoa.toLowerCase());
  const ev2 = decodeEventLog({ abi: delegateAbi(), ...r2.logs[0] });
  assert.equal(ev2.args.caller, wallet.account.address);
  assert.equal(ev2.args.count, countBefore + 2n);
  assert.equal(
    await client.readContract({ address: eoa, abi: delegateAbi(), functionName: 'count' }),
    countBefore + 2n,
  );
  // the Delegate contract's own storage is untouched
  assert.equal(BigInt(await rpc('eth_getStorageAt', [delegateAddr, '0x0', 'latest'])), 0n);
});


// Shared by the wallet tests: the target node's URLs and chain id (from the environment), the
// funded development keys, ethers and viem clients, solc-js compilation of contracts/*.sol,
// raw JSON-RPC over fetch, and bounded waits.
//
//   PARALLAX_HTTP       the node's HTTP JSON-RPC URL     (default http://127.0.0.1:8545)
//   PARALLAX_WS         its WebSocket URL                (default: PARALLAX_HTTP with ws://)
//   PARALLAX_CHAIN_ID   the chain id the node must report (default 1337)
//   PARALLAX_SEND_HTTP  another node's HTTP URL to send transactions through (network.test.mjs;
//                       default PARALLAX_HTTP)
//   PARALLAX_MNEMONIC   the funded accounts' mnemonic   (default the public `test … junk` one)
import { createRequire } from 'node:module';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ethers } from 'ethers';
import { createPublicClient, createWalletClient, defineChain, http, webSocket } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';

export const HTTP = process.env.PARALLAX_HTTP ?? 'http://127.0.0.1:8545';
export const WS = process.env.PARALLAX_WS ?? HTTP.replace(/^http/, 'ws');
export const SEND_HTTP = process.env.PARALLAX_SEND_HTTP ?? HTTP;
export const CHAIN_ID = Number(process.env.PARALLAX_CHAIN_ID ?? 1337);
export const MNEMONIC =
  process.env.PARALLAX_MNEMONIC ?? 'test test test test test test test test test test test junk';

/// How long any single wait may take.
export const WAIT_MS = 30_000;
/// Per-test timeout for node:test.
export const TEST_MS = 120_000;

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');

// ---------------------------------------------------------------- keys

const hdRoot = ethers.HDNodeWallet.fromPhrase(MNEMONIC, '', "m/44'/60'/0'/0");

/// The i-th funded development key (hardhat's and anvil's account #i) as a 0x private key.
/// Each test file uses its own indices so files can run concurrently against one node.
export function devKey(i) {
  return hdRoot.deriveChild(i).privateKey;
}

// ---------------------------------------------------------------- raw JSON-RPC

let nextId = 1;

/// POSTs `body` (a string is sent as is) and returns { status, json, text }.
export async function post(body, url = HTTP, timeoutMs = WAIT_MS) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: text,
    signal: AbortSignal.timeout(timeoutMs),
  });
  const out = await res.text();
  let json;
  try {
    json = JSON.parse(out);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text: out };
}

/// One call; returns the whole response object ({ result } or { error }).
export async function rpcRaw(method, params = [], url = HTTP) {
  const id = nextId++;
  const { json, status, text } = await post({ jsonrpc: '2.0', id, method, params }, url);
  if (json === undefined) throw new Error(`${method}: HTTP ${status}, not JSON: ${text.slice(0, 200)}`);
  return json;
}

/// One call; returns its result or throws an Error carrying the JSON-RPC error's code and data.
export async function rpc(method, params = [], url = HTTP) {
  const res = await rpcRaw(method, params, url);
  if (res.error) {
    const e = new Error(`${method}(${JSON.stringify(params).slice(0, 200)}): ${res.error.code} ${res.error.message}`);
    e.rpc = res.error;
    throw e;
  }
  return res.result;
}

/// The JSON-RPC error of a call that must fail.
export async function rpcError(method, params = [], url = HTTP) {
  const res = await rpcRaw(method, params, url);
  if (!res.error) throw new Error(`${method} should fail, got result ${JSON.stringify(res.result).slice(0, 300)}`);
  return res.error;
}

export const hex = (n) => '0x' + BigInt(n).toString(16);

// ---------------------------------------------------------------- the target

let targetInfo;

/// What the node says it is: { clientVersion, parallax, hardhat }.
export async function target() {
  if (!targetInfo) {
    const clientVersion = await rpc('web3_clientVersion');
    targetInfo = {
      clientVersion,
      parallax: clientVersion.startsWith('parallax/'),
      hardhat: clientVersion.startsWith('HardhatNetwork/'),
    };
  }
  return targetInfo;
}

/// Geth's answer, or — only when the target is hardhat — hardhat's documented deviation.
export async function expected(geth, hardhat) {
  return (await target()).hardhat && hardhat !== undefined ? hardhat : geth;
}

/// Asserts a JSON-RPC error is a revert as geth reports it — code 3, `message`, the revert bytes
/// as a 0x string in `data` — or, on hardhat, its deviation (code -32603, "Error: VM Exception
/// while processing transaction: …" or "Error: Transaction reverted …", data nested one level).
/// Returns the revert data.
export async function assertRevert(error, message) {
  if (!error) throw new Error('expected a revert error, got a result');
  const { hardhat } = await target();
  if (hardhat) {
    if (error.code !== -32603 || !/^Error: (VM Exception|Transaction reverted)/.test(error.message)) {
      throw new Error(`not hardhat's revert: ${JSON.stringify(error)}`);
    }
    return error.data?.data;
  }
  if (error.code !== 3) throw new Error(`revert should have code 3: ${JSON.stringify(error)}`);
  if (error.message !== message) {
    throw new Error(`revert message ${JSON.stringify(error.message)}, expected ${JSON.stringify(message)}`);
  }
  if (typeof error.data !== 'string' || !/^0x([0-9a-f]{2})*$/.test(error.data)) {
    throw new Error(`revert data should be a 0x string: ${JSON.stringify(error)}`);
  }
  return error.data;
}

// ---------------------------------------------------------------- waits

/// Rejects after `ms` with a message naming what was awaited.
export function withTimeout(promise, what, ms = WAIT_MS) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/// Polls `f` until it returns a truthy value, and returns it.
export async function waitFor(what, f, ms = WAIT_MS, every = 200) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, every));
  }
}

/// The raw receipt of `hash`, once it exists.
export function receiptOf(hash, url = HTTP) {
  return waitFor(`the receipt of ${hash}`, () => rpc('eth_getTransactionReceipt', [hash], url));
}

/// Waits until the node's head is past `n` (so state at `n` is settled and a later tx lands
/// in a later block).
export function blockAfter(n, url = HTTP) {
  return waitFor(`a block after ${n}`, async () => {
    const head = BigInt(await rpc('eth_blockNumber', [], url));
    return head > BigInt(n) ? head : false;
  });
}

// ---------------------------------------------------------------- clients

/// An ethers provider that polls fast (the default is 4 s), is pinned to the chain id and does
/// not reuse answers for 250 ms (its default, which hands out stale nonces to quick senders).
export function ethersProvider(url = HTTP) {
  return new ethers.JsonRpcProvider(url, CHAIN_ID, { staticNetwork: true, pollingInterval: 250, cacheTimeout: -1 });
}

export const chain = defineChain({
  id: CHAIN_ID,
  name: 'target',
  nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
  rpcUrls: { default: { http: [HTTP], webSocket: [WS] } },
});

export function viemPublic(url = HTTP) {
  return createPublicClient({ chain, transport: http(url, { timeout: WAIT_MS }), pollingInterval: 250 });
}

export function viemWallet(key, url = HTTP) {
  return createWalletClient({
    account: privateKeyToAccount(key),
    chain,
    transport: http(url, { timeout: WAIT_MS }),
    pollingInterval: 250,
  });
}

export function viemWs(url = WS) {
  return createPublicClient({ chain, transport: webSocket(url, { timeout: WAIT_MS }), pollingInterval: 250 });
}

// ---------------------------------------------------------------- contracts

let compiled;

/// Every contracts/*.sol compiled with the pinned solc-js: { Name: { abi, bytecode, deployed } }.
export function contracts() {
  if (compiled) return compiled;
  let solc;
  try {
    solc = createRequire(join(root, '..', '..', '..', 'package.json'))('solc');
  } catch (e) {
    throw new Error(`cannot load solc-js (${e.code ?? e.message}): run \`npm ci\` at the repository root`);
  }
  const dir = join(root, 'contracts');
  const sources = {};
  for (const f of readdirSync(dir).filter((f) => f.endsWith('.sol')).sort()) {
    sources[f] = { content: readFileSync(join(dir, f), 'utf8') };
  }
  const input = {
    language: 'Solidity',
    sources,
    settings: {
      evmVersion: 'prague',
      optimizer: { enabled: true, runs: 200 },
      outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] } },
    },
  };
  const out = JSON.parse(solc.compile(JSON.stringify(input)));
  const errors = (out.errors ?? []).filter((e) => e.severity === 'error');
  if (errors.length) throw new Error(errors.map((e) => e.formattedMessage).join('\n'));
  compiled = {};
  for (const file of Object.values(out.contracts)) {
    for (const [name, c] of Object.entries(file)) {
      compiled[name] = {
        abi: c.abi,
        bytecode: '0x' + c.evm.bytecode.object,
        deployed: '0x' + c.evm.deployedBytecode.object,
      };
    }
  }
  return compiled;
}

/// Deploys `name` with ethers and returns the connected contract and its deployment receipt.
export async function deployEthers(wallet, name, args = []) {
  const { abi, bytecode } = contracts()[name];
  const factory = new ethers.ContractFactory(abi, bytecode, wallet);
  const contract = await factory.deploy(...args);
  const receipt = await withTimeout(contract.deploymentTransaction().wait(), `${name}'s deployment`);
  return { contract, receipt, address: await contract.getAddress() };
}

// ---------------------------------------------------------------- blocks

/// keccak(rlp(header)) from an eth_getBlockBy* result, for every field a Prague header has.
export function headerHash(b) {
  const q = (v) => (v === undefined || v === null ? undefined : BigInt(v) === 0n ? '0x' : ethers.toBeHex(BigInt(v)));
  const fields = [
    b.parentHash,
    b.sha3Uncles,
    b.miner,
    b.stateRoot,
    b.transactionsRoot,
    b.receiptsRoot,
    b.logsBloom,
    q(b.difficulty),
    q(b.number),
    q(b.gasLimit),
    q(b.gasUsed),
    q(b.timestamp),
    b.extraData,
    b.mixHash,
    b.nonce,
  ];
  const optional = [
    q(b.baseFeePerGas),
    b.withdrawalsRoot,
    q(b.blobGasUsed),
    q(b.excessBlobGas),
    b.parentBeaconBlockRoot,
    b.requestsHash,
  ];
  for (const f of optional) {
    if (f === undefined) break;
    fields.push(f);
  }
  return ethers.keccak256(ethers.encodeRlp(fields));
}

// ---------------------------------------------------------------- Merkle-Patricia proofs

function nibbles(bytes) {
  const out = [];
  for (const b of ethers.getBytes(bytes)) out.push(b >> 4, b & 15);
  return out;
}

/// Walks an eth_getProof proof from `root` along keccak(key); returns the leaf's value (0x-hex
/// RLP) or null when the proof shows the key is absent. Throws when a node does not hash to
/// its reference.
export function verifyProof(root, key, proof) {
  const path = nibbles(ethers.keccak256(key));
  let expect = root.toLowerCase();
  let at = 0;
  for (let i = 0; i < proof.length; i++) {
    const node = proof[i];
    const ref = ethers.getBytes(node).length < 32 ? node.toLowerCase() : ethers.keccak256(node);
    if (ref !== expect) throw new Error(`proof node ${i} hashes to ${ref}, expected ${expect}`);
    const decoded = ethers.decodeRlp(node);
    let next;
    if (decoded.length === 17) {
      if (at === path.length) return decoded[16] === '0x' ? null : decoded[16];
      next = decoded[path[at]];
      at += 1;
    } else if (decoded.length === 2) {
      const enc = nibbles(decoded[0]);
      const flag = enc[0];
      const part = flag & 1 ? enc.slice(1) : enc.slice(2);
      const leaf = flag >= 2;
      const matches = part.every((n, j) => path[at + j] === n);
      if (!matches) return null;
      at += part.length;
      if (leaf) return at === path.length ? decoded[1] : null;
      next = decoded[1];
    } else {
      throw new Error(`proof node ${i} has ${decoded.length} items`);
    }
    if (Array.isArray(next)) throw new Error(`proof node ${i} embeds its child (not supported here)`);
    if (next === '0x') return null;
    expect = next.toLowerCase();
  }
  throw new Error('proof ended before a leaf');
}

#!/usr/bin/env node
// Compiles the Solidity contracts of each contract directory (execution/contracts: benchmark
// and test contracts; bridge/contracts: the bridge) with the pinned solc-js (package.json)
// through the standard-JSON interface and writes DIR/artifacts/<ContractName>.json. Each
// directory is compiled on its own: its sources may import only each other.
//
//   node scripts/compile-contracts.mjs [DIR...]           write the artifacts (default: every DIR)
//   node scripts/compile-contracts.mjs --check [DIR...]   compile in memory; exit 1 naming every
//                                                         artifact that is missing, stale or
//                                                         extra; print "ok"
//
// Needs Node.js 20 and `npm ci` at the repository root. Compile errors are printed and exit 1;
// warnings (e.g. selfdestruct's deprecation) are not shown.
import { createRequire } from 'node:module';
import { existsSync, mkdirSync, readFileSync, readdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const CONTRACT_DIRS = ['execution/contracts', 'bridge/contracts'];

// Compiler settings. Changing any of them changes the artifacts (and --check reports it).
const EVM_VERSION = 'cancun';
const OPTIMIZER = { enabled: true, runs: 200 };

function fail(lines) {
  for (const line of [].concat(lines)) console.error(line);
  process.exit(1);
}

const args = process.argv.slice(2);
const check = args.includes('--check');
const dirs = args.filter((a) => a !== '--check').map((a) => a.replace(/\/+$/, ''));
const unknown = dirs.filter((d) => !CONTRACT_DIRS.includes(d));
if (unknown.length > 0) {
  fail(`usage: node scripts/compile-contracts.mjs [--check] [${CONTRACT_DIRS.join('|')}]... (unknown: ${unknown.join(' ')})`);
}

const pinned = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).devDependencies?.solc;
if (!/^\d+\.\d+\.\d+$/.test(pinned ?? '')) fail(`package.json must pin solc to an exact version, found ${pinned}`);

let solc;
try {
  solc = createRequire(join(root, 'package.json'))('solc');
} catch (e) {
  fail([`error: cannot load solc-js (${e.code ?? e.message}).`, 'Run `npm ci` at the repository root (needs Node.js 20 and npm).']);
}
const compiler = solc.version();
if (!compiler.startsWith(`${pinned}+`)) {
  fail([`error: node_modules has solc ${compiler} but package.json pins ${pinned}.`, 'Run `npm ci` at the repository root.']);
}

// Recursively sorts object keys so the artifacts are byte-for-byte deterministic.
function sortKeys(value) {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.keys(value).sort().map((k) => [k, sortKeys(value[k])]));
  }
  return value;
}

// Compiles one contract directory (relative to the repository root). Checking, returns what
// differs from the checked-in artifacts; writing, writes them and returns nothing.
function compileDir(rel) {
  const contractsDir = join(root, rel);
  const artifactsDir = join(contractsDir, 'artifacts');
  const sourceFiles = readdirSync(contractsDir).filter((f) => f.endsWith('.sol')).sort();
  if (sourceFiles.length === 0) fail(`error: no .sol files in ${contractsDir}`);
  const sources = {};
  for (const f of sourceFiles) sources[f] = { content: readFileSync(join(contractsDir, f), 'utf8') };

  const input = {
    language: 'Solidity',
    sources,
    settings: {
      evmVersion: EVM_VERSION,
      optimizer: OPTIMIZER,
      outputSelection: {
        '*': { '*': ['abi', 'evm.bytecode', 'evm.deployedBytecode', 'storageLayout'] },
      },
    },
  };

  // Every source is given up front; an import of anything else is an error.
  const findImports = (path) => ({ error: `import not found: ${path} (only ${rel}/*.sol are available)` });
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));

  const errors = (output.errors ?? []).filter((e) => e.severity === 'error');
  if (errors.length > 0) fail(errors.map((e) => e.formattedMessage ?? e.message));

  const artifacts = new Map(); // file name -> text
  const problems = [];
  for (const sourceFile of sourceFiles) {
    for (const [contractName, c] of Object.entries(output.contracts?.[sourceFile] ?? {})) {
      const file = `${contractName}.json`;
      if (artifacts.has(file)) {
        problems.push(`error: contract name ${contractName} is defined twice in ${rel}; artifacts are named by contract`);
        continue;
      }
      const { bytecode, deployedBytecode } = c.evm;
      if (bytecode.object === '') continue; // an interface: nothing to deploy
      // The runtime code must be installable as-is into a written pre-state (a genesis).
      if (Object.keys(deployedBytecode.immutableReferences ?? {}).length > 0) {
        problems.push(`error: ${contractName} uses immutables; keep state in storage so its runtime code is complete`);
      }
      if (Object.keys(bytecode.linkReferences ?? {}).length > 0 || Object.keys(deployedBytecode.linkReferences ?? {}).length > 0) {
        problems.push(`error: ${contractName} needs library linking, which the artifacts do not support`);
      }
      const artifact = sortKeys({
        contractName,
        sourceFile,
        compiler,
        abi: c.abi,
        bytecode: `0x${bytecode.object}`,
        deployedBytecode: `0x${deployedBytecode.object}`,
        storageLayout: c.storageLayout,
      });
      artifacts.set(file, `${JSON.stringify(artifact, null, 2)}\n`);
    }
  }
  if (problems.length > 0) fail(problems);

  const existing = existsSync(artifactsDir) ? readdirSync(artifactsDir).filter((f) => f.endsWith('.json')).sort() : [];
  if (check) {
    const differ = [];
    for (const [file, text] of [...artifacts].sort(([a], [b]) => a.localeCompare(b))) {
      const path = join(artifactsDir, file);
      if (!existsSync(path)) differ.push(`missing: ${rel}/artifacts/${file}`);
      else if (readFileSync(path, 'utf8') !== text) differ.push(`differs from the sources: ${rel}/artifacts/${file}`);
    }
    for (const file of existing) {
      if (!artifacts.has(file)) differ.push(`no such contract in the sources: ${rel}/artifacts/${file}`);
    }
    return differ;
  }
  mkdirSync(artifactsDir, { recursive: true });
  for (const [file, text] of artifacts) writeFileSync(join(artifactsDir, file), text);
  for (const file of existing) {
    if (!artifacts.has(file)) {
      unlinkSync(join(artifactsDir, file));
      console.log(`removed ${rel}/artifacts/${file} (no such contract in the sources)`);
    }
  }
  console.log(`wrote ${artifacts.size} artifacts to ${rel}/artifacts (solc ${compiler})`);
  return [];
}

const differ = (dirs.length > 0 ? dirs : CONTRACT_DIRS).flatMap(compileDir);
if (differ.length > 0) {
  fail([...differ, 'Regenerate with `node scripts/compile-contracts.mjs` and commit the artifacts directories.']);
}
if (check) console.log('ok');

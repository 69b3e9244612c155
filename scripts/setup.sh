#!/usr/bin/env bash
# Sourced by scripts/test.sh and .ci/run: makes sure the machine can build Parallax.
# - Rust (cargo) must be installed: https://rustup.rs
# - mdbx-sys generates its bindings with bindgen, which needs libclang.
set -euo pipefail

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/parallax/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

if ! command -v cargo >/dev/null 2>&1; then
  echo "error: cargo is not installed; install Rust with rustup (https://rustup.rs)" >&2
  exit 1
fi

# bindgen loads libclang.so or libclang-<version>.so*; libclang-cpp.so (often installed on
# its own) is a different library and does not count.
# (grep reads all its input, without -q: under pipefail, a grep that quits at the first match
# makes the writer die of SIGPIPE and the whole check fail.)
have_libclang() {
  local pattern='libclang(-[0-9.]+)?\.so'
  [ -n "${LIBCLANG_PATH:-}" ] && ls "$LIBCLANG_PATH" 2>/dev/null | grep -E "^${pattern}" >/dev/null && return 0
  ldconfig -p 2>/dev/null | awk '{print $1}' | grep -E "^${pattern}" >/dev/null && return 0
  ls /usr/lib/llvm-*/lib/ /usr/lib/*/ 2>/dev/null | grep -E "^${pattern}" >/dev/null
}

if ! have_libclang; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "==> installing libclang-dev (needed by mdbx-sys)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libclang-dev >/dev/null
  else
    echo "error: libclang is missing; MDBX's bindings need it." >&2
    echo "       Debian/Ubuntu: sudo apt-get install -y libclang-dev" >&2
    echo "       Fedora:        sudo dnf install -y clang-devel" >&2
    echo "       macOS:         brew install llvm (and set LIBCLANG_PATH)" >&2
    exit 1
  fi
fi

# iptables: the partition test (testnet/tests/it/partition.rs) cuts a node off with it. Without it
# (or without root) that test says so and does not run.
if [ "$(id -u)" = 0 ] && ! command -v iptables >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  echo "==> installing iptables (the partition test cuts a node off with it)"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iptables >/dev/null) ||
    echo "warning: installing iptables failed; the partition test will not run" >&2
fi

# npm packages pinned in package.json: solc-js compiles the Solidity contracts, ethers and viem
# drive the wallet end-to-end tests, hardhat is the Ethereum node benchmarks compare against.
# Without Node.js, or when npm ci fails, this only warns: the tests that need them then fail and
# say what to run.
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
missing_npm=""
for pkg in solc ethers viem hardhat @foundry-rs/anvil; do
  [ -d "$repo_root/node_modules/$pkg" ] || missing_npm="$missing_npm $pkg"
done
if [ -n "$missing_npm" ]; then
  if command -v npm >/dev/null 2>&1; then
    echo "==> npm ci (missing:$missing_npm)"
    (cd "$repo_root" && npm ci --no-audit --no-fund) ||
      echo "warning: npm ci failed; run \`npm ci\` at the repository root (Node.js 20)" >&2
  else
    echo "warning: Node.js is missing; install Node.js 20 and npm, then run \`npm ci\` at the" >&2
    echo "         repository root (the contracts and wallet tests need solc-js, ethers and viem)" >&2
  fi
fi

#!/usr/bin/env bash
# A local Parallax testnet on 127.0.0.1 (issue #7). Builds what is missing, then runs the
# parallax-testnet helper. Usage: testnet/run.sh --help. Details: testnet/README.md.
#
# Environment:
#   PARALLAX_BIN          the `parallax` binary the nodes run (skips building it)
#   PARALLAX_TESTNET_BIN  the `parallax-testnet` helper (skips building it)
#   CARGO_TARGET_DIR      where cargo builds (default: the repository's target/)
#   PARALLAX_PROFILE      cargo profile for building them (default: release)
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: testnet/run.sh COMMAND [--dir DIR] [options]

A local Parallax network on 127.0.0.1: N validators and one non-validator full node, each a
`parallax run` process. DIR (default ./.testnet) holds keys, genesis, data, logs and
testnet.json, which tools read.

Commands:
  up [--validators N] [--full-nodes M] [--chain-id ID] [--base-port P] [--no-l1]
                 start a new testnet (default 4 validators, 1 full node, and a local
                 Ethereum — anvil, its chain kept in DIR/l1/ — with the bridge deployed),
                 or resume the stopped one in DIR, Ethereum included; waits for blocks,
                 then prints RPC URLs, chain id, the funded development accounts, the
                 bridge's addresses and how to add the network to MetaMask
  status         a table per node: height, round, peers, last commit age, mempool size
  logs NODE [-n LINES] [-f]
                 print a node's log (node0…, full0); -f follows it
  stop NODE      stop one node (SIGTERM, SIGKILL after --grace seconds)
  start NODE     start a stopped node and wait until it has caught up
  down           stop every node this script started (by recorded pid) and the Ethereum

Options for every command:
  --dir DIR      the testnet's directory (default ./.testnet)
  --timeout S    seconds up/start wait for blocks (default 120)
  --grace S      seconds stop/down wait after SIGTERM (default 20)

Builds `parallax` and `parallax-testnet` with cargo (release) unless PARALLAX_BIN and
PARALLAX_TESTNET_BIN name binaries to use.
USAGE
}

# The command is the first known word (options may come before it: --dir DIR up).
command=""
for arg in "$@"; do
  case "$arg" in
    up | status | logs | stop | start | down)
      command="$arg"
      break
      ;;
  esac
done
if [ -z "$command" ]; then
  case "${1:-}" in
    "" | -h | --help | help)
      usage
      exit 0
      ;;
  esac
  echo "error: no command in: $*" >&2
  usage >&2
  exit 2
fi

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
profile="${PARALLAX_PROFILE:-release}"
target_dir="${CARGO_TARGET_DIR:-$repo/target}"
case "$profile" in
  dev | debug) out_dir="$target_dir/debug" ;;
  *) out_dir="$target_dir/$profile" ;;
esac

# Builds BIN of PACKAGE unless it exists; `up` and `start` always let cargo bring it up to
# date (quick when nothing changed), so a node never runs stale code.
build() {
  local package="$1" bin="$2"
  if [ -x "$out_dir/$bin" ] && [ "$command" != up ] && [ "$command" != start ]; then
    return 0
  fi
  if ! command -v cargo >/dev/null 2>&1; then
    echo "error: cargo is not installed (https://rustup.rs); or set PARALLAX_BIN and" >&2
    echo "       PARALLAX_TESTNET_BIN to prebuilt binaries" >&2
    exit 1
  fi
  if [ ! -x "$out_dir/$bin" ]; then
    echo "==> building $bin ($profile; the first build takes several minutes)" >&2
  fi
  (cd "$repo" && CARGO_TARGET_DIR="$target_dir" cargo build --quiet --locked \
    --profile "$profile" -p "$package" --bin "$bin") >&2
}

if [ -z "${PARALLAX_BIN:-}" ]; then
  build parallax-node parallax
  PARALLAX_BIN="$out_dir/parallax"
fi
if [ -z "${PARALLAX_TESTNET_BIN:-}" ]; then
  build parallax-testnet parallax-testnet
  PARALLAX_TESTNET_BIN="$out_dir/parallax-testnet"
fi
for bin in "$PARALLAX_BIN" "$PARALLAX_TESTNET_BIN"; do
  if [ ! -x "$bin" ]; then
    echo "error: $bin is not an executable" >&2
    exit 1
  fi
done

export PARALLAX_BIN
export PARALLAX_REPO="${PARALLAX_REPO:-$repo}"
export PARALLAX_TESTNET_CMD="${PARALLAX_TESTNET_CMD:-$0}"
exec "$PARALLAX_TESTNET_BIN" "$@"

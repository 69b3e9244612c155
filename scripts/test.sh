#!/usr/bin/env bash
# Runs every Parallax test. Installs what the build needs when it is missing and it can
# (libclang for MDBX's bindings, via apt-get when run as root); otherwise says exactly what
# to install.
#
# With no arguments it runs two stages and prints each one's time: every crate's tests, then
# the end-to-end suites (`parallax-testnet`: real multi-node testnets, an L1, faults), which
# take most of the time. Extra arguments go to one `cargo test` instead
# (e.g. `-p parallax-storage`).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

if [ "$#" -gt 0 ]; then
  echo "==> cargo test --workspace (target dir: $CARGO_TARGET_DIR) $*"
  cargo test --workspace --locked "$@"
  exit 0
fi

stage() {
  local name="$1"
  shift
  local t0
  t0=$(date +%s)
  echo "==> $name: cargo test $* (target dir: $CARGO_TARGET_DIR)"
  cargo test --locked "$@"
  echo "==> $name passed in $(($(date +%s) - t0))s"
}

# The end-to-end suites run the debug `parallax` binary; build it with the first stage.
stage "crates" --workspace --exclude parallax-testnet
stage "end-to-end" -p parallax-testnet

#!/usr/bin/env bash
# Runs every Parallax test. Installs what the build needs when it is missing and it can
# (libclang for MDBX's bindings, via apt-get when run as root); otherwise says exactly what
# to install. Extra arguments go to `cargo test` (e.g. `-p parallax-storage`).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
echo "==> cargo test --workspace (target dir: $CARGO_TARGET_DIR)"
cargo test --workspace --locked "$@"

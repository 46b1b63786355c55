#!/usr/bin/env bash
# The main job: one release build, then every section of every example crate.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/setup.sh
cargo build --release --workspace --locked

CRATES=(examples-threads)
for crate in "${CRATES[@]}"; do
    printf '\n######## %s\n' "$crate"
    "target/release/$crate" "$@"
done

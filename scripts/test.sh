#!/usr/bin/env bash
# The project's test command (README, .ci/run): system setup, formatting, lints, every test.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==> %s\n' "$*" >&2; }

step "setup (system packages)"
scripts/setup.sh

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test"
cargo test --workspace --locked

# The main job end to end, on the debug build cargo test just made (no second, release build):
# every section of every crate with --quick, through the report runner.
step "scripts/run_all.sh --quick (end to end, debug build)"
scripts/run_all.sh --quick --dev --results target/test-results

step "scripts/run_all.sh fails, naming the section, when a section fails"
if out=$(EXAMPLES_FAIL_SECTION=examples-threads/gil scripts/run_all.sh --quick --dev \
    --results target/test-results --only examples-threads/gil 2>&1); then
    printf '%s\n' "$out" >&2
    printf 'run_all.sh exited 0 although examples-threads/gil failed\n' >&2
    exit 1
fi
if ! grep -q 'section(s) failed: examples-threads/gil' <<<"$out"; then
    printf '%s\n' "$out" >&2
    printf 'run_all.sh failed without naming examples-threads/gil\n' >&2
    exit 1
fi

step "all tests passed"

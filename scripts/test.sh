#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what the tests need (Debian packages for the
# reference ZooKeeper and the stock clients), checks formatting and lints, then runs every
# test. The compat tests start JVM clients, so they run one at a time on a 2-core machine.
set -euo pipefail
cd "$(dirname "$0")/.."
bash compat-tests/scripts/install-deps.sh
cargo fmt --all -- --check
/usr/bin/python3 scripts/check-structure.py
cargo clippy --workspace --all-targets --locked -- -D warnings
# Every test binary runs even when an earlier one fails, so one run reports every failure;
# the script still exits non-zero if anything failed.
status=0
cargo test --workspace --locked --exclude compat-tests --no-fail-fast || status=1
cargo test -p compat-tests --locked --no-fail-fast -- --test-threads=1 || status=1
# bench/compare against both servers, every scenario once at tiny sizes (about 2 minutes).
/usr/bin/python3 bench/compare --smoke || status=1
exit "$status"

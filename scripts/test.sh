#!/usr/bin/env bash
# Every test of the workspace against a local Synapse and a local
# PostgreSQL (each installed and started if needed): formatting and lints,
# the deployment files (scripts/check-deploy.sh), unit and integration
# tests (the store's on sled, in memory and on PostgreSQL), the end-to-end
# tests against the real homeserver, the crash test, doc-tests.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/synapse.sh start
export SYNAPSE_URL="http://127.0.0.1:${SYNAPSE_PORT:-18008}"
scripts/postgres.sh start
GHOSTKIT_TEST_POSTGRES="$(scripts/postgres.sh url)"
export GHOSTKIT_TEST_POSTGRES GHOSTKIT_TEST_REQUIRE_POSTGRES=1

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --all-features -- -D warnings
scripts/check-deploy.sh
cargo test --workspace --all-targets
cargo test --workspace --doc

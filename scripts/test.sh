#!/usr/bin/env bash
# Run the whole test suite against a local Synapse (started if needed).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/synapse.sh start
export SYNAPSE_URL="http://127.0.0.1:${SYNAPSE_PORT:-18008}"

cargo test --workspace --all-targets
cargo test --workspace --doc

#!/usr/bin/env bash
# Sets up and runs every test: unit, mock, CLI and the integration tests against a local simulated cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
bin=$(toolchain/install.sh | tail -1)
export PATH="$bin:$PATH"
export MESHINSTALL_CRDS_DIR="${MESHINSTALL_CRDS_DIR:-$(cd .. && pwd)/shared/crds}"
exec python3 -m pytest "$@"

#!/usr/bin/env bash
# Sets up and runs every test: unit, mock, CLI and the integration tests against a local simulated cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=env.sh
. scripts/env.sh
exec python3 -m pytest "$@"

#!/usr/bin/env bash
# Sets up and runs every test (unit, mock and, once the toolchain is there, integration).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec python3 -m pytest "$@"

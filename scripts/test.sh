#!/usr/bin/env bash
# Sets up and runs every test: unit, mock, CLI and the integration tests against a local simulated cluster, with the
# checkout's own environment (.venv) and the toolchain on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=env.sh
. scripts/env.sh
# The toolchain is on PATH now: a test that needs one of its tools fails when the tool is missing, never skips
# (tests/conftest.py), so that CI cannot quietly lose the tests that render charts.
export MESHINSTALL_REQUIRE_TOOLCHAIN=1
exec .venv/bin/python -m pytest "$@"

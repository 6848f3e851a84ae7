#!/usr/bin/env bash
# Installs meshinstall and what its tests need into the current Python.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install --quiet --disable-pip-version-check -e '.[test,bench]'

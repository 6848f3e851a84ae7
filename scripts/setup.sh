#!/usr/bin/env bash
# Installs meshinstall and what its tests need into the current Python.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install --quiet --disable-pip-version-check -e '.[test,bench]'
# pip does not compile an editable install, and where PYTHONDONTWRITEBYTECODE is set (as on CI's machines) nothing
# would: every command would then compile meshinstall's 80 modules again, 0.23 s of each (bench/results.md, stop 21).
python3 -m compileall -q -j 0 -x '/(tests|bench|toolchain|docs|build|\.git)/' . > /dev/null

#!/usr/bin/env bash
# Installs meshinstall (editable) and what its tests need into the checkout's own environment, `.venv`, never into
# the machine's Python: with two checkouts on one machine, each runs its own code (issue 26).
set -euo pipefail
cd "$(dirname "$0")/.."
here=$(pwd -P)
# A .venv made for another folder (a checkout copied or moved with it) names that folder in its scripts and its
# `activate`, and would run that checkout's code: it is made again, here.
if [ -f .venv/.checkout ] && [ "$(cat .venv/.checkout)" != "$here" ]; then
  echo "setup.sh: .venv was made for $(cat .venv/.checkout); making it again for $here" >&2
  python3 -m venv --clear .venv
fi
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv || {
    rm -rf .venv
    echo "setup.sh: python3 -m venv failed (on Debian: apt-get install python3-venv)" >&2
    exit 2
  }
fi
echo "$here" > .venv/.checkout
# The dependencies follow pyproject.toml: pip runs when it changed since the last install (or the package is not
# installed); otherwise it is skipped (pip's "nothing to do" took 8 s each time scripts/env.sh was sourced).
stamp=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ "$(cat .venv/.installed 2>/dev/null)" != "$stamp" ] || ! .venv/bin/python -c 'import meshinstall' 2>/dev/null; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test,bench]'
  echo "$stamp" > .venv/.installed
fi
# pip does not compile an editable install, and where PYTHONDONTWRITEBYTECODE is set (as on CI's machines) nothing
# would: every command would then compile meshinstall's 80 modules again, 0.23 s of each (bench/results.md, stop 21).
.venv/bin/python -m compileall -q -j 0 -x '/(tests|bench|toolchain|docs|build|\.git|\.venv)/' . > /dev/null
# `meshinstall graph --format svg|png` draws with Graphviz's `dot`: Debian's graphviz, installed if missing (as root)
if ! command -v dot >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "setup.sh: installing Debian's graphviz" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz >/dev/null
fi

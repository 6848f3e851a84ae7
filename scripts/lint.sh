#!/usr/bin/env bash
# The formatter and the linter, as CI runs them (configured in pyproject.toml): fails on a file `ruff format` would
# change or a finding of `ruff check`. `scripts/lint.sh --fix` formats and fixes what ruff can.
set -euo pipefail
cd "$(dirname "$0")/.."
ruff=.venv/bin/ruff
[ -x "$ruff" ] || scripts/setup.sh
if [ "${1:-}" = "--fix" ]; then
  "$ruff" format .
  exec "$ruff" check --fix .
fi
"$ruff" format --check .
exec "$ruff" check .

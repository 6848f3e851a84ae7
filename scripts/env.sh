# Sourced by the scripts: installs meshinstall into the checkout's .venv, builds or finds the toolchain, and exports
# what the engine needs.
scripts/setup.sh
bin=$(toolchain/install.sh | tail -1)
# The checkout's environment first, as `. .venv/bin/activate` does: `meshinstall`, `python` and `python3` are this
# checkout's (the engine's Python plugins run `python3` from PATH), then the toolchain.
export VIRTUAL_ENV="$PWD/.venv"
unset PYTHONHOME
export PATH="$VIRTUAL_ENV/bin:$bin:$PATH"
# The official Helm charts, offline: overrides `charts.mirror` in every spec (no spec holds a path of this machine)
export MESHINSTALL_CHARTS_MIRROR="${MESHINSTALL_CHARTS_MIRROR:-$(cd .. && pwd)/shared/charts}"
# The shared data beside the checkout (the Score schema and sample the tests compare against; read, never copied).
export MESHINSTALL_SHARED="${MESHINSTALL_SHARED:-$(cd .. && pwd)/shared}"
[ -d "$MESHINSTALL_CHARTS_MIRROR" ] || { echo "set MESHINSTALL_CHARTS_MIRROR to the official chart mirror (shared/charts)" >&2; exit 2; }

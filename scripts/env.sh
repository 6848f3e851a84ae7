# Sourced by the scripts: installs meshinstall, builds or finds the toolchain, and exports what the engine needs.
scripts/setup.sh
bin=$(toolchain/install.sh | tail -1)
export PATH="$bin:$PATH"
export MESHINSTALL_CRDS_DIR="${MESHINSTALL_CRDS_DIR:-$(cd .. && pwd)/shared/crds}"
[ -d "$MESHINSTALL_CRDS_DIR" ] || { echo "set MESHINSTALL_CRDS_DIR to the upstream CRDs folder (shared/crds)" >&2; exit 2; }

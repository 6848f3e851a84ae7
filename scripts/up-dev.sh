#!/usr/bin/env bash
# The main job on a fresh machine: build or find the toolchain, install meshinstall, `meshinstall up dev` on a
# local simulated cluster, and show what was created.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=env.sh
. scripts/env.sh

# dev only: a passphrase and demo secrets generated once, kept outside Git with mode 600 (never printed)
secrets=environments/.meshinstall/dev-secrets.env
if [ ! -f "$secrets" ]; then
  mkdir -p "$(dirname "$secrets")"
  ( umask 077
    for name in MESHINSTALL_PASSPHRASE GRAFANA_ADMIN_PASSWORD CHECKOUT_DB_PASSWORD; do
      echo "export $name=${!name:-$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')}"
    done > "$secrets" )
fi
# shellcheck disable=SC1090
. "$secrets"

meshinstall up dev --yes
kubeconfig=$(meshinstall cluster kubeconfig dev)
echo
echo "The simulated dev platform is up (API server, controllers and scheduling are real; no container runs)."
echo "Inspect it with:  export KUBECONFIG=$kubeconfig PATH=$bin:\$PATH; kubectl get deploy,svc -A"
echo
KUBECONFIG=$kubeconfig kubectl get nodes
KUBECONFIG=$kubeconfig kubectl get deployments -A

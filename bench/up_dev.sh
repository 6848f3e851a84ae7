#!/usr/bin/env bash
# Times `meshinstall up dev` with the official charts on a fresh simulated cluster, in a temporary copy of
# environments/, and counts what it made: stack resources and objects in the cluster. Then a second `up`
# (0 changes expected) and `destroy`. Usage: bench/up_dev.sh   (after scripts/env.sh has set PATH and the mirror)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r environments "$work/" && rm -rf "$work/environments/.meshinstall"
cd "$work"
export MESHINSTALL_PASSPHRASE=bench GRAFANA_ADMIN_PASSWORD=bench-grafana CHECKOUT_DB_PASSWORD=bench-db
seconds() { local start=$SECONDS; "$@" >"$work/last.log" 2>&1 || { tail -20 "$work/last.log"; exit 1; }; echo $((SECONDS - start)); }
first=$(seconds meshinstall up dev --yes)
kubeconfig=$(meshinstall cluster kubeconfig dev)
resources=$(meshinstall status dev --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(sum(d["lastUpdate"]["changes"].values()))')
objects=$(kubectl --kubeconfig "$kubeconfig" api-resources --verbs=list -o name | grep -v '^events' |
  xargs -n1 kubectl --kubeconfig "$kubeconfig" get -A -o name --ignore-not-found 2>/dev/null | wc -l)
releases=$(helm --kubeconfig "$kubeconfig" list -A -q | wc -l)
second=$(seconds meshinstall up dev --yes)
grep -q "0 change" "$work/last.log" || { echo "second up changed something:"; cat "$work/last.log"; exit 1; }
gone=$(seconds meshinstall destroy dev --yes)
echo "| first \`up dev\` (official charts, $releases releases, $resources stack resources, $objects objects in the cluster) | $first |"
echo "| second \`up dev\` (0 changes; refresh, doctor and verify included) | $second |"
echo "| \`destroy dev\` | $gone |"

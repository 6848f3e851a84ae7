#!/usr/bin/env bash
# Regenerate the checked-in wrapper modules (toolchain/<group>/go.mod + go.sum) from the pins in
# versions.env and <group>/versions.env. Run this only when changing a pin; install.sh uses the
# checked-in files as they are.
#
#   toolchain/regen.sh [group...]     groups: pulumi kubernetes-provider kube kwok helm etcd (default: all)
#
# Go ignores the `replace` directives of dependencies, so each wrapper requires the upstream module
# at the pinned version and repeats its non-local replaces (read with `go mod edit -json`). Local
# replaces (`=> ../sdk`, `=> ./staging/...`) are turned into requires/replaces of the published
# modules at the matching version.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"
# pins of groups that have their own (helm, etcd)
for f in "$here"/*/versions.env; do [ ! -f "$f" ] || . "$f"; done
export CGO_ENABLED=0 GOFLAGS=-mod=mod GOTOOLCHAIN=local

die() { echo "regen: $*" >&2; exit 1; }
command -v go >/dev/null || die "go not found on PATH"
command -v python3 >/dev/null || die "python3 not found on PATH (used to read go mod edit -json)"

# upstream_gomod MODULE VERSION -> path of that version's go.mod in the module cache
upstream_gomod() {
  go mod download -json "$1@$2" | python3 -c 'import json,sys; d=json.load(sys.stdin); e=d.get("Error"); sys.exit(e) if e else print(d["GoMod"])'
}
upstream_dir() {
  go mod download -json "$1@$2" | python3 -c 'import json,sys; d=json.load(sys.stdin); e=d.get("Error"); sys.exit(e) if e else print(d["Dir"])'
}
# go_mod_json_filter GOMOD MODE: MODE=nonlocal -> "-replace=old[@v]=new@v" args for non-local replaces;
# MODE=local -> old paths of local (directory) replaces; MODE=go -> go directive; MODE=req:PATH -> required version
go_mod_query() {
  go mod edit -json "$1" | python3 -c '
import json, sys
d = json.load(sys.stdin); mode = sys.argv[1]
if mode == "go": print(d["Go"])
elif mode.startswith("req:"):
    want = mode[4:]
    for r in d.get("Require") or []:
        if r["Path"] == want: print(r["Version"])
else:
    for r in d.get("Replace") or []:
        old, new = r["Old"], r["New"]
        local = not new.get("Version")
        if mode == "local" and local: print(old["Path"])
        if mode == "nonlocal" and not local:
            o = old["Path"] + ("@" + old["Version"] if old.get("Version") else "")
            print("-replace=%s=%s@%s" % (o, new["Path"], new["Version"]))
' "$2"
}
# max of go versions given as args
max_go() { printf '%s\n' "$@" | sort -V | tail -1; }

new_wrapper() { # DIR NAME GOVERSION
  mkdir -p "$1"; rm -f "$1/go.mod" "$1/go.sum"
  printf 'module meshinstall.local/toolchain/%s\n\ngo %s\n' "$2" "$3" > "$1/go.mod"
}

regen_pulumi() {
  local d="$here/pulumi" pkgmod sdkmod
  pkgmod=$(upstream_gomod github.com/pulumi/pulumi/pkg/v3 "$PULUMI_VERSION")
  sdkmod=$(upstream_gomod github.com/pulumi/pulumi/sdk/v3 "$PULUMI_SDK_VERSION")
  new_wrapper "$d" pulumi "$(max_go "$(go_mod_query "$pkgmod" go)" "$(go_mod_query "$sdkmod" go)")"
  (cd "$d"
   go mod edit -require="github.com/pulumi/pulumi/pkg/v3@$PULUMI_VERSION" -require="github.com/pulumi/pulumi/sdk/v3@$PULUMI_SDK_VERSION"
   # shellcheck disable=SC2046
   go mod edit $( (go_mod_query "$pkgmod" nonlocal; go_mod_query "$sdkmod" nonlocal) | sort -u)
   go get -tool "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi@$PULUMI_VERSION"
   go mod tidy)
}

regen_kubernetes_provider() {
  local d="$here/kubernetes-provider" m=github.com/pulumi/pulumi-kubernetes/provider/v4 pmod pdir sdkv tmp
  pmod=$(upstream_gomod "$m" "$K8S_PROVIDER_MODULE_VERSION")
  pdir=$(upstream_dir "$m" "$K8S_PROVIDER_MODULE_VERSION")
  # upstream replaces sdk/v4 => ../sdk: require the published sdk/v4 at the version it names
  sdkv=$(go_mod_query "$pmod" req:github.com/pulumi/pulumi-kubernetes/sdk/v4)
  tmp=$(mktemp -d); trap 'rm -rf "$tmp"' RETURN
  new_wrapper "$tmp" kubernetes-provider "$(go_mod_query "$pmod" go)"
  # the main package embeds generated files, so it is built from a copy inside the wrapper
  mkdir -p "$tmp/cmd"; cp -r "$pdir/cmd/pulumi-resource-kubernetes" "$tmp/cmd/"; chmod -R u+w "$tmp/cmd"
  : > "$tmp/cmd/pulumi-resource-kubernetes/schema-embed.json"
  : > "$tmp/cmd/pulumi-resource-kubernetes/terraform-mapping-embed.json"
  (cd "$tmp"
   go mod edit -require="$m@$K8S_PROVIDER_MODULE_VERSION" -require="github.com/pulumi/pulumi-kubernetes/sdk/v4@$sdkv"
   local nl; nl=$(go_mod_query "$pmod" nonlocal)
   # shellcheck disable=SC2086
   [ -z "$nl" ] || go mod edit $nl
   go mod tidy)
  mkdir -p "$d"; cp "$tmp/go.mod" "$tmp/go.sum" "$d/"
}

regen_kube() {
  local d="$here/kube" kmod args=() p
  kmod=$(upstream_gomod k8s.io/kubernetes "$KUBERNETES_VERSION")
  new_wrapper "$d" kube "$(go_mod_query "$kmod" go)"
  for p in $(go_mod_query "$kmod" local); do args+=("-replace=$p=$p@$KUBERNETES_STAGING_VERSION"); done
  # shellcheck disable=SC2046
  (cd "$d"
   go mod edit -require="k8s.io/kubernetes@$KUBERNETES_VERSION" "${args[@]}" $(go_mod_query "$kmod" nonlocal)
   go get -tool "k8s.io/kubernetes/cmd/kube-apiserver@$KUBERNETES_VERSION" \
     "k8s.io/kubernetes/cmd/kube-controller-manager@$KUBERNETES_VERSION" \
     "k8s.io/kubernetes/cmd/kube-scheduler@$KUBERNETES_VERSION" \
     "k8s.io/kubernetes/cmd/kubectl@$KUBERNETES_VERSION"
   go mod tidy)
}

# regen_one_tool GROUP MODULE VERSION TOOL: a wrapper requiring MODULE@VERSION (with its upstream requirements)
# and building one tool package; a module with local replaces needs a recipe of its own (see regen_kube).
regen_one_tool() {
  local g=$1 module=$2 version=$3 tool=$4 d="$here/$1" umod
  umod=$(upstream_gomod "$module" "$version")
  [ -z "$(go_mod_query "$umod" local)" ] || die "$module $version has local replaces: give $g a recipe of its own"
  new_wrapper "$d" "$g" "$(go_mod_query "$umod" go)"
  # shellcheck disable=SC2046
  (cd "$d"
   go mod edit -require="$module@$version" $(go_mod_query "$umod" nonlocal)
   go get -tool "$tool@$version"
   go mod tidy)
}

regen_kwok() { regen_one_tool kwok sigs.k8s.io/kwok "$KWOK_VERSION" sigs.k8s.io/kwok/cmd/kwok; }
regen_helm() { regen_one_tool helm helm.sh/helm/v3 "$HELM_VERSION" helm.sh/helm/v3/cmd/helm; }

regen_etcd() {
  # The root package of go.etcd.io/etcd/server/v3 is etcd's main (main.go: etcdmain.Main(os.Args)),
  # exactly what upstream's ./build compiles; no source of our own is needed.
  local d="$here/etcd" emod p v args=()
  emod=$(upstream_gomod go.etcd.io/etcd/server/v3 "$ETCD_VERSION")
  new_wrapper "$d" etcd "$(go_mod_query "$emod" go)"
  # upstream replaces its sibling modules (api, client/pkg, client/v3, pkg => ../...): require the
  # published ones at the version it requires; the `=> ./FORBIDDEN_DEPENDENCY` replaces only guard
  # against modules it does not require, so they are dropped
  for p in $(go_mod_query "$emod" local); do
    v=$(go_mod_query "$emod" "req:$p")
    [ -z "$v" ] || args+=("-require=$p@$v")
  done
  # shellcheck disable=SC2046
  (cd "$d"
   go mod edit -require="go.etcd.io/etcd/server/v3@$ETCD_VERSION" "${args[@]}" $(go_mod_query "$emod" nonlocal)
   go get -tool "go.etcd.io/etcd/server/v3@$ETCD_VERSION"
   go mod tidy)
}

groups=("$@"); [ ${#groups[@]} -gt 0 ] || groups=(pulumi kubernetes-provider kube kwok helm etcd)
for g in "${groups[@]}"; do
  echo "regen: $g"
  case "$g" in
    pulumi) regen_pulumi ;;
    kubernetes-provider) regen_kubernetes_provider ;;
    kube) regen_kube ;;
    kwok) regen_kwok ;;
    helm) regen_helm ;;
    etcd) regen_etcd ;;
    *) die "unknown group $g" ;;
  esac
done

#!/usr/bin/env bash
# Build meshinstall's offline toolchain (Pulumi CLI, Pulumi Kubernetes provider, kube-apiserver,
# kube-controller-manager, kube-scheduler, kubectl, kwok, etcd, helm) from the Go module proxy, into
# a cache outside the repository. Idempotent: what is already built is skipped.
#
#   BIN=$(toolchain/install.sh | tail -1)     # progress goes to stderr, the bin dir is the last stdout line
#   toolchain/install.sh --print-bin          # print the bin dir without building (exit 1 if incomplete)
#
# Cache layout (MESHINSTALL_TOOLCHAIN_DIR, default ~/.cache/meshinstall/toolchain):
#   <root>/<key>/bin/                one bin dir per combination of pins (key = hash of all groups)
#   <root>/groups/<group>-<hash>/    each tool group built once per pin set: bin/, src/ (scratch), build.ok
#   <root>/logs/<group>-<hash>-<tool>.log   build logs
# Go's own module and build caches (go env GOMODCACHE / GOCACHE) are used as they are.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# Each group's hash covers its go.mod/go.sum/src, its pins (<group>/versions.env if it has one, else
# versions.env), the Go version and the text of its build_<group> function; bump RECIPE to force a
# rebuild of everything.
RECIPE=2

say() { echo "install.sh: $*" >&2; }
die() { echo "install.sh: ERROR: $*" >&2; exit 1; }

print_only=0
case "${1:-}" in
  --print-bin) print_only=1 ;;
  "") ;;
  -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
  *) die "unknown argument '$1' (usage: install.sh [--print-bin])" ;;
esac

# shellcheck source=versions.env
. "$here/versions.env"
# groups added later keep their pins in <group>/versions.env (etcd, helm), so that adding them did not
# change the hash of the groups above
for f in "$here"/*/versions.env; do [ ! -f "$f" ] || . "$f"; done

command -v go >/dev/null 2>&1 || die "go not found on PATH (need Go >= 1.26.6; the wrappers' go.mod files name the minimum)"
command -v sha256sum >/dev/null 2>&1 || die "sha256sum not found (coreutils)"
export CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS="-mod=readonly -buildvcs=false"
goversion=$(go env GOVERSION)
need_go=$(cat "$here"/*/go.mod | sed -n 's/^go \([0-9.]*\)$/\1/p' | sort -V | tail -1)
if [ "$(printf '%s\n%s\n' "$need_go" "${goversion#go}" | sort -V | head -1)" != "$need_go" ]; then
  die "$goversion is too old: the wrapper modules need go >= $need_go"
fi

root=${MESHINSTALL_TOOLCHAIN_DIR:-$HOME/.cache/meshinstall/toolchain}
groups=(pulumi kubernetes-provider kube kwok etcd helm)
gver() {
  case "$1" in
    pulumi) echo "$PULUMI_VERSION" ;;
    kubernetes-provider) echo "$K8S_PROVIDER_VERSION" ;;
    kube) echo "$KUBERNETES_VERSION" ;;
    kwok) echo "$KWOK_VERSION" ;;
    etcd) echo "$ETCD_VERSION" ;;
    helm) echo "$HELM_VERSION" ;;
  esac
}

# build_tool GROUP TOOL WORKDIR -- go build args...
build_tool() {
  local g=$1 t=$2 wd=$3; shift 3; [ "$1" = "--" ] && shift
  local gdir="$root/groups/$g-${ghash[$g]}" logf="$root/logs/$g-${ghash[$g]}-$t.log" start
  if [ -x "$gdir/bin/$t" ]; then say "$t $(gver "$g"): already built"; return 0; fi
  say "building $t $(gver "$g") ... (log: $logf)"
  start=$(date +%s)
  mkdir -p "$gdir/bin"
  if ! (cd "$wd" && go build -trimpath -o "$gdir/bin/.$t.tmp" "$@") >"$logf" 2>&1; then
    tail -n 20 "$logf" >&2 || true
    die "build of $t failed after $(( $(date +%s) - start ))s (full log: $logf)"
  fi
  mv -f "$gdir/bin/.$t.tmp" "$gdir/bin/$t"
  say "building $t $(gver "$g") ... done in $(( $(date +%s) - start ))s"
}

# run_step GROUP NAME WORKDIR -- command...: a non-build step, logged like a build
run_step() {
  local g=$1 n=$2 wd=$3; shift 3; [ "$1" = "--" ] && shift
  local logf="$root/logs/$g-${ghash[$g]}-$n.log" start
  start=$(date +%s)
  if ! (cd "$wd" && "$@") >"$logf" 2>&1; then
    tail -n 20 "$logf" >&2 || true
    die "$n for $g failed (full log: $logf)"
  fi
  say "$n ... done in $(( $(date +%s) - start ))s"
}

module_dir() { # MODULE VERSION (from the group's wrapper module, so go.sum verifies it)
  go mod download -json "$1@$2" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p'
}

build_pulumi() {
  local g=pulumi w="$here/pulumi" gdir="$root/groups/pulumi-${ghash[pulumi]}" sdkdir="" pkgdir patch
  # The engine is pkg/v3 with pulumi/patches/*.patch applied, in the group's scratch src/ (a go.mod copy there
  # replaces the module with the patched tree; the wrapper's go.sum still verifies everything else).
  if [ ! -x "$gdir/bin/pulumi" ]; then
    pkgdir=$(cd "$w" && module_dir github.com/pulumi/pulumi/pkg/v3 "$PULUMI_VERSION")
    rm -rf "$gdir/src" && mkdir -p "$gdir/src" && cp -r "$pkgdir" "$gdir/src/pkg" && chmod -R u+w "$gdir/src/pkg"
    for patch in "$w"/patches/*.patch; do
      patch -s -d "$gdir/src/pkg" -p1 <"$patch" || die "$(basename "$patch") does not apply to pkg/v3 $PULUMI_VERSION"
    done
    cp "$w/go.mod" "$w/go.sum" "$gdir/src/"
    (cd "$w" && go mod edit -modfile="$gdir/src/go.mod" -replace "github.com/pulumi/pulumi/pkg/v3=$gdir/src/pkg")
  fi
  build_tool $g pulumi "$w" -- -modfile="$gdir/src/go.mod" \
    -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION" \
    github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
  if [ -f "$w/src/pulumi-language-python/main.go" ]; then
    build_tool $g pulumi-language-python "$w" -- -tags grpcnotrace \
      -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_SDK_VERSION" \
      ./src/pulumi-language-python
  fi
  # Scripts shipped in sdk/v3 (module cache files are read-only: install them with mode 755):
  # the language host runs pulumi-language-python-exec, looked up next to its own executable;
  # pulumi-resource-pulumi-python is the plugin that serves Python dynamic providers.
  local script
  for script in python/cmd/pulumi-language-python-exec python/dist/pulumi-resource-pulumi-python; do
    [ ! -x "$gdir/bin/$(basename "$script")" ] || continue
    sdkdir=${sdkdir:-$(cd "$w" && module_dir github.com/pulumi/pulumi/sdk/v3 "$PULUMI_SDK_VERSION")}
    [ -f "$sdkdir/$script" ] || die "$script not found in sdk/v3 $PULUMI_SDK_VERSION ($sdkdir)"
    install -m 0755 "$sdkdir/$script" "$gdir/bin/$(basename "$script")"
  done
}

build_kubernetes_provider() {
  local g=kubernetes-provider gdir="$root/groups/kubernetes-provider-${ghash[kubernetes-provider]}" pdir src
  [ -x "$gdir/bin/pulumi-resource-kubernetes" ] && { say "pulumi-resource-kubernetes $K8S_PROVIDER_VERSION: already built"; return 0; }
  # main.go embeds schema-embed.json / terraform-mapping-embed.json, generated from the schema
  # (with the version stamped in) and absent from the module zip: build from a writable copy.
  src="$gdir/src"; rm -rf "$src"; mkdir -p "$src/cmd"
  cp "$here/$g/go.mod" "$here/$g/go.sum" "$src/"
  pdir=$(cd "$src" && module_dir github.com/pulumi/pulumi-kubernetes/provider/v4 "$K8S_PROVIDER_MODULE_VERSION")
  [ -d "$pdir/cmd/pulumi-resource-kubernetes" ] || die "provider module not downloaded ($pdir)"
  cp -r "$pdir/cmd/pulumi-resource-kubernetes" "$src/cmd/"; chmod -R u+w "$src"
  # The provider module itself is built with kubernetes-provider/patches/*.patch applied, from a copy in src/.
  cp -r "$pdir" "$src/provider"; chmod -R u+w "$src/provider"
  for patch in "$here/$g"/patches/*.patch; do
    patch -s -d "$src/provider" -p1 <"$patch" || die "$(basename "$patch") does not apply to the provider $K8S_PROVIDER_VERSION"
  done
  (cd "$src" && go mod edit -replace "github.com/pulumi/pulumi-kubernetes/provider/v4=./provider")
  say "generating schema-embed.json (VERSION=$K8S_PROVIDER_VERSION)"
  run_step $g generate "$src/cmd/pulumi-resource-kubernetes" -- env VERSION="$K8S_PROVIDER_VERSION" go run generate.go
  build_tool $g pulumi-resource-kubernetes "$src" -- \
    -ldflags "-s -w -X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$K8S_PROVIDER_VERSION" \
    ./cmd/pulumi-resource-kubernetes
}

build_kube() {
  local v=$KUBERNETES_VERSION minor ld="-s -w" p t
  minor=${v#v1.}; minor=${minor%%.*}
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X $p.gitVersion=$v -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitCommit= -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  for t in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
    build_tool kube $t "$here/kube" -- -ldflags "$ld" "k8s.io/kubernetes/cmd/$t"
  done
}

build_kwok() {
  build_tool kwok kwok "$here/kwok" -- -ldflags "-s -w" sigs.k8s.io/kwok/cmd/kwok
}

build_etcd() {
  # The root package of go.etcd.io/etcd/server/v3 is etcd's main (etcdmain.Main(os.Args)), what
  # upstream's ./build compiles. version.Version is already right in api/v3; GitSHA would otherwise
  # read "Not provided (use ./build instead of go build)": the proxy does not tell the commit.
  build_tool etcd etcd "$here/etcd" -- -ldflags "-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=" \
    go.etcd.io/etcd/server/v3
}

build_helm() {
  # ldflags as helm's Makefile sets them for a release tag: version, empty metadata, tree state, and
  # the Kubernetes version assumed without a cluster (client-go v0.X.Y -> 1.X; `helm template`).
  # gitCommit stays empty: the proxy does not tell which commit the tag is.
  local p=helm.sh/helm/v3 minor ld
  minor=$(sed -n 's/^[[:space:]]*k8s\.io\/client-go v0\.\([0-9]*\)\..*/\1/p' "$here/helm/go.mod")
  [ -n "$minor" ] || die "k8s.io/client-go v0.X.Y not found in toolchain/helm/go.mod"
  ld="-s -w -X $p/internal/version.version=$HELM_VERSION -X $p/internal/version.metadata="
  ld="$ld -X $p/internal/version.gitCommit= -X $p/internal/version.gitTreeState=clean"
  ld="$ld -X $p/pkg/lint/rules.k8sVersionMajor=1 -X $p/pkg/lint/rules.k8sVersionMinor=$minor"
  ld="$ld -X $p/pkg/chartutil.k8sVersionMajor=1 -X $p/pkg/chartutil.k8sVersionMinor=$minor"
  build_tool helm helm "$here/helm" -- -ldflags "$ld" helm.sh/helm/v3/cmd/helm
}

# group_hash GROUP: pins that decide the group's binaries
group_hash() {
  { echo "recipe=$RECIPE go=$goversion group=$1"
    declare -f "build_${1//-/_}"
    if [ -f "$here/$1/versions.env" ]; then cat "$here/$1/versions.env"; else cat "$here/versions.env"; fi
    cat "$here/$1/go.mod" "$here/$1/go.sum"
    [ ! -d "$here/$1/src" ] || find "$here/$1/src" -type f | sort | xargs cat
    [ ! -d "$here/$1/patches" ] || cat "$here/$1"/patches/*.patch
  } | sha256sum | cut -c1-12
}
declare -A ghash
for g in "${groups[@]}"; do ghash[$g]=$(group_hash "$g"); done
key=$(for g in "${groups[@]}"; do echo "$g-${ghash[$g]}"; done | sha256sum | cut -c1-12)
bin="$root/$key/bin"

tools_of() {
  case "$1" in
    pulumi) echo pulumi pulumi-language-python pulumi-language-python-exec pulumi-resource-pulumi-python ;;
    kubernetes-provider) echo pulumi-resource-kubernetes ;;
    kube) echo kube-apiserver kube-controller-manager kube-scheduler kubectl ;;
    kwok) echo kwok ;;
    etcd) echo etcd ;;
    helm) echo helm ;;
  esac
}

if [ "$print_only" = 1 ]; then
  for g in "${groups[@]}"; do for t in $(tools_of "$g"); do [ -x "$bin/$t" ] || { echo "missing: $t" >&2; exit 1; }; done; done
  echo "$bin"; exit 0
fi

mkdir -p "$root/groups" "$root/logs" "$bin"
# one install at a time per cache
exec 9>"$root/.lock"
if command -v flock >/dev/null 2>&1; then flock 9; fi

say "toolchain key $key ($goversion) -> $bin"
for g in "${groups[@]}"; do
  "build_${g//-/_}"
  # publish the group's binaries into the key's bin dir (hard links, copies across filesystems)
  for f in "$root/groups/$g-${ghash[$g]}/bin/"*; do
    [ -e "$f" ] || continue
    case "$(basename "$f")" in .*) continue ;; esac
    [ "$bin/$(basename "$f")" -ef "$f" ] || ln -f "$f" "$bin/" 2>/dev/null || cp -f "$f" "$bin/"
  done
  touch "$root/groups/$g-${ghash[$g]}/build.ok"
done

missing=""
for g in "${groups[@]}"; do for t in $(tools_of "$g"); do [ -x "$bin/$t" ] || missing="$missing $t"; done; done
[ -z "$missing" ] || say "WARNING: not available in this toolchain:$missing (see toolchain/README.md)"
# `current` names the newest complete toolchain: meshinstall looks there first
ln -sfn "$key" "$root/current"
say "toolchain ready"
echo "$bin"

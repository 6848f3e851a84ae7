#!/usr/bin/env bash
# Smoke tests for the toolchain built by install.sh (everything local, nothing downloaded):
#   toolchain/smoke.sh pulumi         Python project + file backend: pulumi stack init && pulumi up
#   toolchain/smoke.sh automation     the same through the Python Automation API (inline program)
#   toolchain/smoke.sh controlplane   etcd + kube-apiserver + controller-manager + scheduler + kwok on 127.0.0.1
#   toolchain/smoke.sh k8s            controlplane + pulumi-kubernetes resources deployed into it
#   toolchain/smoke.sh helm           helm version, and create/lint/template of a chart (offline)
#   toolchain/smoke.sh                all
# Needs python3 with pulumi (pip install pulumi==3.272.0) for the pulumi test; openssl and curl
# for the control plane test. Prints PASS/FAIL lines; exits non-zero on the first failure.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BIN=${BIN:-$("$here/install.sh" --print-bin)} || { echo "toolchain not built: run toolchain/install.sh" >&2; exit 1; }
# ETCD_VERSION, HELM_VERSION
for f in "$here"/*/versions.env; do [ ! -f "$f" ] || . "$f"; done
export PATH="$BIN:$PATH"
work=$(mktemp -d "${TMPDIR:-/tmp}/meshinstall-smoke.XXXXXX")
pids=()
cleanup() {
  local i
  # stop in reverse start order (etcd last), each by its own pid
  for ((i=${#pids[@]}-1; i>=0; i--)); do kill "${pids[$i]}" 2>/dev/null || true; wait "${pids[$i]}" 2>/dev/null || true; done
  if [ "${KEEP:-0}" = 1 ]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

smoke_pulumi() {
  local d="$work/pulumi"
  mkdir -p "$d/proj" "$d/state"
  # Offline settings: own PULUMI_HOME, file backend, no update check, never download plugins.
  export PULUMI_HOME="$d/home" PULUMI_BACKEND_URL="file://$d/state" PULUMI_CONFIG_PASSPHRASE=x \
    PULUMI_SKIP_UPDATE_CHECK=true PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
  cat > "$d/proj/Pulumi.yaml" <<'EOF'
name: smoke
runtime:
  name: python
  options:
    toolchain: pip
description: toolchain smoke test
EOF
  cat > "$d/proj/__main__.py" <<'EOF'
import pulumi
pulumi.export("greeting", "hello from " + pulumi.get_stack())
EOF
  (cd "$d/proj" && pulumi version && pulumi stack init dev --non-interactive && pulumi up --yes --non-interactive --skip-preview) \
    > "$d/up.log" 2>&1 || { cat "$d/up.log" >&2; fail "pulumi up"; }
  local out; out=$(cd "$d/proj" && pulumi stack output greeting)
  [ "$out" = "hello from dev" ] || { cat "$d/up.log" >&2; fail "pulumi stack output greeting = '$out'"; }
  echo "PASS: pulumi $(pulumi version) up with a Python program and a file backend (output: $out)"
}

smoke_automation() {
  # Inline Automation API program: the Python process serves the language runtime itself
  # (the CLI gets --client=ADDR), so no pulumi-language-python is involved.
  local d="$work/automation"
  mkdir -p "$d/work" "$d/state"
  PULUMI_HOME="$d/home" PULUMI_BACKEND_URL="file://$d/state" PULUMI_CONFIG_PASSPHRASE=x \
  PULUMI_SKIP_UPDATE_CHECK=true PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true \
  python3 - "$d/work" > "$d/auto.log" 2>&1 <<'EOF' || { cat "$d/auto.log" >&2; fail "automation api inline up"; }
import sys
import pulumi
from pulumi import automation as auto

def program():
    pulumi.export("answer", 42)

stack = auto.create_or_select_stack(
    stack_name="dev", project_name="smoke-inline", program=program,
    opts=auto.LocalWorkspaceOptions(work_dir=sys.argv[1]))
res = stack.up(on_output=print)
assert res.outputs["answer"].value == 42, res.outputs
print("OUTPUT answer =", res.outputs["answer"].value)
EOF
  echo "PASS: automation API inline program up ($(grep -m1 '^OUTPUT' "$d/auto.log"))"
}

smoke_controlplane() {
  local d="$work/cp" token=smoke-token etcd_port peer_port port kcm_port sched_port i
  mkdir -p "$d"
  etcd_port=$(free_port); peer_port=$(free_port); port=$(free_port); kcm_port=$(free_port); sched_port=$(free_port)
  # serving cert for 127.0.0.1, service-account key pair, static token (system:masters)
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=kube-apiserver \
    -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
    -keyout "$d/apiserver.key" -out "$d/apiserver.crt" >/dev/null 2>&1
  openssl genrsa -out "$d/sa.key" 2048 >/dev/null 2>&1
  openssl rsa -in "$d/sa.key" -pubout -out "$d/sa.pub" >/dev/null 2>&1
  echo "$token,admin,admin,system:masters" > "$d/tokens.csv"
  cat > "$d/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster: {server: "https://127.0.0.1:$port", certificate-authority: "$d/apiserver.crt"}
users:
- name: admin
  user: {token: "$token"}
contexts:
- name: local
  context: {cluster: local, user: admin}
current-context: local
EOF
  # etcd from the toolchain, not an older one on PATH: the API server only uses watch-progress
  # requests with etcd >= 3.4.31 / 3.5.13 (see README.md)
  local ev; ev=$(etcd --version | sed -n 's/^etcd Version: //p')
  [ "v$ev" = "$ETCD_VERSION" ] || fail "etcd on PATH ($(command -v etcd)) is $ev, want ${ETCD_VERSION#v}"
  etcd --name default --data-dir "$d/etcd" \
    --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
    --initial-cluster "default=http://127.0.0.1:$peer_port" > "$d/etcd.log" 2>&1 &
  pids+=($!)
  kube-apiserver --etcd-servers "http://127.0.0.1:$etcd_port" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$port" \
    --tls-cert-file "$d/apiserver.crt" --tls-private-key-file "$d/apiserver.key" \
    --token-auth-file "$d/tokens.csv" --authorization-mode RBAC \
    --service-account-key-file "$d/sa.pub" --service-account-signing-key-file "$d/sa.key" \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-cluster-ip-range 10.96.0.0/16 --allow-privileged=true \
    --endpoint-reconciler-type none > "$d/apiserver.log" 2>&1 &
  pids+=($!)
  local curl=(curl -sk --max-time 5 -H "Authorization: Bearer $token")
  for i in $(seq 1 60); do
    [ "$("${curl[@]}" "https://127.0.0.1:$port/readyz" 2>/dev/null)" = ok ] && break
    sleep 1
  done
  [ "$("${curl[@]}" "https://127.0.0.1:$port/readyz")" = ok ] || { tail -30 "$d/apiserver.log" >&2; fail "kube-apiserver not ready"; }
  echo "PASS: kube-apiserver ready on https://127.0.0.1:$port (etcd $ev), /version: $("${curl[@]}" "https://127.0.0.1:$port/version" | tr -d ' \n')"
  kube-controller-manager --kubeconfig "$d/kubeconfig" --leader-elect=false \
    --bind-address 127.0.0.1 --secure-port "$kcm_port" \
    --service-account-private-key-file "$d/sa.key" --root-ca-file "$d/apiserver.crt" > "$d/kcm.log" 2>&1 &
  pids+=($!)
  kube-scheduler --kubeconfig "$d/kubeconfig" --leader-elect=false \
    --bind-address 127.0.0.1 --secure-port "$sched_port" > "$d/scheduler.log" 2>&1 &
  pids+=($!)
  kwok --kubeconfig "$d/kubeconfig" --manage-all-nodes=true > "$d/kwok.log" 2>&1 &
  pids+=($!)
  local api="https://127.0.0.1:$port"
  "${curl[@]}" -X POST -H 'Content-Type: application/json' "$api/api/v1/nodes" -d '{
    "apiVersion":"v1","kind":"Node","metadata":{"name":"kwok-node-0","labels":{"type":"kwok"},
    "annotations":{"kwok.x-k8s.io/node":"fake"}},
    "status":{"allocatable":{"cpu":"32","memory":"256Gi","pods":"110"},"capacity":{"cpu":"32","memory":"256Gi","pods":"110"}}}' >/dev/null
  # the default service account is created by the controller-manager; pods need it
  for i in $(seq 1 60); do
    "${curl[@]}" -o /dev/null -w '%{http_code}' "$api/api/v1/namespaces/default/serviceaccounts/default" | grep -q 200 && break
    sleep 1
  done
  "${curl[@]}" -X POST -H 'Content-Type: application/json' "$api/api/v1/namespaces/default/pods" -d '{
    "apiVersion":"v1","kind":"Pod","metadata":{"name":"smoke"},
    "spec":{"containers":[{"name":"c","image":"example.invalid/smoke:1"}]}}' >/dev/null
  local phase="" t0; t0=$(date +%s)
  for i in $(seq 1 60); do
    phase=$("${curl[@]}" "$api/api/v1/namespaces/default/pods/smoke" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("status",{}).get("phase",""))' 2>/dev/null || true)
    [ "$phase" = Running ] && break
    sleep 1
  done
  [ "$phase" = Running ] || { tail -20 "$d/kcm.log" "$d/scheduler.log" "$d/kwok.log" >&2; fail "pod phase '$phase' (want Running)"; }
  echo "PASS: controller-manager + scheduler + kwok: pod scheduled to a KWOK node and Running (after ~$(( $(date +%s) - t0 ))s)"
  # with etcd 3.6 the API server requests watch progress; with etcd 3.4.23 it logged this and pods
  # stayed Pending ~36 s (KWOK's watches ended every ~37 s)
  ! grep -q 'RequestWatchProgress feature is not supported' "$d/apiserver.log" ||
    fail "kube-apiserver: RequestWatchProgress feature is not supported by etcd $ev"
  KUBECONFIG_SMOKE="$d/kubeconfig"
}

smoke_k8s() {
  # pulumi-kubernetes (Python SDK from pip + the provider built here) against the local control plane
  smoke_controlplane
  local d="$work/k8s"
  mkdir -p "$d/proj" "$d/state"
  export PULUMI_HOME="$d/home" PULUMI_BACKEND_URL="file://$d/state" PULUMI_CONFIG_PASSPHRASE=x \
    PULUMI_SKIP_UPDATE_CHECK=true PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true KUBECONFIG="$KUBECONFIG_SMOKE"
  printf 'name: smoke-k8s\nruntime:\n  name: python\n  options:\n    toolchain: pip\n' > "$d/proj/Pulumi.yaml"
  cat > "$d/proj/__main__.py" <<'EOF'
import pulumi
import pulumi_kubernetes as k8s

ns = k8s.core.v1.Namespace("smoke", metadata={"name": "smoke"})
cm = k8s.core.v1.ConfigMap("cm", metadata={"namespace": ns.metadata.name}, data={"hello": "world"})
labels = {"app": "smoke"}
dep = k8s.apps.v1.Deployment("dep",
    metadata={"namespace": ns.metadata.name},
    spec={"replicas": 2, "selector": {"matchLabels": labels},
          "template": {"metadata": {"labels": labels},
                       "spec": {"containers": [{"name": "c", "image": "example.invalid/smoke:1"}]}}})
svc = k8s.core.v1.Service("svc", metadata={"namespace": ns.metadata.name},
    spec={"selector": labels, "ports": [{"port": 80}]})
pulumi.export("configmap", cm.metadata.name)
pulumi.export("ready", dep.status.ready_replicas)
EOF
  (cd "$d/proj" && pulumi stack init dev --non-interactive && pulumi up --yes --non-interactive --skip-preview \
    && pulumi destroy --yes --non-interactive --skip-preview) > "$d/up.log" 2>&1 || { cat "$d/up.log" >&2; fail "pulumi up with pulumi-kubernetes"; }
  grep -q 'ready *: *2' "$d/up.log" || { cat "$d/up.log" >&2; fail "deployment not ready"; }
  echo "PASS: pulumi-kubernetes up (Namespace, ConfigMap, Deployment 2/2 ready via KWOK, Service) and destroy"
}

smoke_helm() {
  # helm with its own home folders; create/lint/template need no network and no cluster
  local d="$work/helm" v
  mkdir -p "$d"
  export HELM_CACHE_HOME="$d/cache" HELM_CONFIG_HOME="$d/config" HELM_DATA_HOME="$d/data"
  v=$(helm version --template '{{.Version}}')
  [ "$v" = "$HELM_VERSION" ] || fail "helm version '$v' (want $HELM_VERSION)"
  (cd "$d" && helm create smoke && helm lint smoke && helm template demo smoke --set replicaCount=2) \
    > "$d/helm.log" 2>&1 || { cat "$d/helm.log" >&2; fail "helm create/lint/template"; }
  grep -q 'replicas: 2' "$d/helm.log" || { cat "$d/helm.log" >&2; fail "helm template did not render replicas: 2"; }
  echo "PASS: helm $v: create, lint and template of a chart"
}

case "${1:-all}" in
  pulumi) smoke_pulumi ;;
  automation) smoke_automation ;;
  controlplane) smoke_controlplane ;;
  k8s) smoke_k8s ;;
  helm) smoke_helm ;;
  all) smoke_pulumi; smoke_automation; smoke_helm; smoke_k8s ;;
  *) echo "usage: smoke.sh [pulumi|automation|controlplane|k8s|helm]" >&2; exit 2 ;;
esac

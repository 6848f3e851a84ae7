"""App teams own their workloads: a platform whose teams keep Score files in their own folders, on a simulated
cluster. The platform's `up` applies the platform, then each team's own stack; a team's identity holding exactly the
Role `meshinstall rbac ENV --team T` prints runs `up --team T`; two teams run theirs at once; neither the platform's
`up` nor a team's undoes the other's; and a team moved from inline apps to Score files keeps its running Deployment."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from kubernetes import client, config

from meshinstall.schemas.validate import load_spec
from meshinstall.simulator import LocalControlPlane
from meshinstall.stacks.cluster.target import ClusterTarget
from meshinstall.stacks.engine import toolchain

pytestmark = pytest.mark.integration

SPEC = """\
apiVersion: meshinstall/v1
kind: MeshSpec
metadata: {name: shop}
cluster: {provider: simulated, nodes: 2}
mesh:
  provider: istio
  version: 1.30.3
  ingressGateway: {replicas: 1}
  resources: {istiod: {cpu: 200m, memory: 512Mi}}
monitoring:
  prometheus: {enabled: false}
  grafana: {enabled: false}
  kiali: {enabled: false}
  tracing: {enabled: false}
  alerts: {enabled: false}
paas:
  gateway: {hosts: ["*.apps.example.com"]}
  teams:
    - name: payments
      workloads: ../teams/payments
    - name: storefront
      workloads: ../teams/storefront
    - name: legacy
      apps:
        - {name: old, image: registry.example.com/legacy/old:1.0, port: 8080, replicas: 2}
"""
FILES = {
    "payments/invoices.yaml": """\
apiVersion: score.dev/v1b1
metadata: {name: invoices, meshinstall: {replicas: 2}}
containers:
  main:
    image: registry.example.com/payments/invoices:1.0
    variables: {LEDGER_URL: "http://${resources.ledger.hostname}:${resources.ledger.port}"}
service:
  ports: {web: {port: 8080}}
resources:
  ledger: {type: service-port, params: {workload: ledger, port: api}}
  public: {type: route, params: {host: invoices.apps.example.com, path: /, port: 8080}}
""",
    "payments/ledger.yaml": """\
apiVersion: score.dev/v1b1
metadata: {name: ledger}
containers:
  main: {image: registry.example.com/payments/ledger:2.1}
service:
  ports: {api: {port: 9090}}
""",
    "payments/reconciler.yaml": """\
apiVersion: score.dev/v1b1
metadata: {name: reconciler}
containers:
  main: {image: registry.example.com/payments/reconciler:0.9, args: [--interval, 60s]}
""",
    "storefront/web.yaml": """\
apiVersion: score.dev/v1b1
metadata: {name: web}
containers:
  main:
    image: registry.example.com/storefront/web:3.0
    variables: {INVOICES: "${resources.invoices.hostname}"}
service:
  ports: {http: {port: 8080}}
resources:
  invoices: {type: service-port, params: {workload: payments/invoices, port: web}}
""",
}


class Shop:
    """The platform repository: environments/shop.yaml and the teams' folders, run by the `meshinstall` on PATH."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.spec = folder / "environments" / "shop.yaml"
        self.spec.parent.mkdir(parents=True)
        self.spec.write_text(SPEC)
        for name, text in FILES.items():
            (folder / "teams" / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / "teams" / name).write_text(text)
        self.env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"} | {"MESHINSTALL_PASSPHRASE": "teams"}

    def start(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen(
            ["meshinstall", *args],
            cwd=self.folder,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def must(self, *args: str) -> str:
        done = subprocess.run(
            ["meshinstall", *args], cwd=self.folder, env=self.env, capture_output=True, text=True, timeout=900
        )
        assert done.returncode == 0, (
            f"meshinstall {' '.join(args)}: {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )
        return done.stdout + done.stderr

    def edit(self, name: str, old: str, new: str) -> None:
        path = self.folder / "teams" / name
        path.write_text(path.read_text().replace(old, new))

    @property
    def kubeconfig(self) -> str:
        return ClusterTarget.of(load_spec(self.spec)).kubeconfig

    def image(self, namespace: str, name: str) -> str:
        return self.apps.read_namespaced_deployment(name, namespace).spec.template.spec.containers[0].image


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    assert not toolchain.missing(), "integration tests need the toolchain (toolchain/install.sh)"
    platform = Shop(tmp_path_factory.mktemp("teams"))
    try:
        platform.must("up", "environments/shop.yaml", "--yes")  # with doctor and verify
        api = config.new_client_from_config(platform.kubeconfig)
        platform.core, platform.apps = client.CoreV1Api(api), client.AppsV1Api(api)
        platform.rbac, platform.custom = client.RbacAuthorizationV1Api(api), client.CustomObjectsApi(api)
        yield platform
    finally:
        try:
            subprocess.run(
                ["meshinstall", "destroy", "environments/shop.yaml", "--yes"],
                cwd=platform.folder,
                env=platform.env,
                capture_output=True,
                timeout=900,
            )
        finally:
            target = ClusterTarget.of(load_spec(platform.spec))
            LocalControlPlane(target.simulator).remove()


def changes(output: str) -> list[str]:
    """Every `up: N change(s)` of an output (without what follows it on its line: the counts by kind, the time)."""
    return re.findall(r"^up: \d+ change\(s\)", output, re.MULTILINE)


def team_identity(shop: Shop, team: str) -> str:
    """A ServiceAccount of the team bound to exactly the Role `rbac --team` prints: a kubeconfig of its token."""
    docs = list(yaml.safe_load_all(shop.must("rbac", "environments/shop.yaml", "--team", team)))  # stderr: empty
    role, binding = docs
    assert role["kind"] == "Role" and all(d["kind"] in ("Role", "RoleBinding") for d in docs)
    shop.core.create_namespaced_service_account(team, {"metadata": {"name": f"{team}-deployer"}})
    shop.rbac.create_namespaced_role(team, role)
    shop.rbac.create_namespaced_role_binding(team, binding)
    token = shop.core.create_namespaced_service_account_token(
        f"{team}-deployer", team, {"spec": {"expirationSeconds": 7200}}
    ).status.token
    admin = yaml.safe_load(Path(shop.kubeconfig).read_text())
    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "shop", "cluster": admin["clusters"][0]["cluster"]}],
        "users": [{"name": team, "user": {"token": token}}],
        "contexts": [{"name": team, "context": {"cluster": "shop", "user": team}}],
        "current-context": team,
    }
    path = shop.folder / f"{team}.kubeconfig"
    path.write_text(yaml.safe_dump(kubeconfig))
    return str(path)


def test_the_platforms_up_applies_each_teams_workloads_and_their_callers_are_admitted(shop):
    checks = shop.must("verify", "environments/shop.yaml")  # `up` ran them too: it exits 4 when one fails
    assert "√ MI403" in checks and "√ MI402" in checks, checks
    assert shop.apps.read_namespaced_deployment("reconciler", "payments").status.available_replicas == 1
    assert "reconciler" not in {s.metadata.name for s in shop.core.list_namespaced_service("payments").items}
    assert shop.image("payments", "invoices") == "registry.example.com/payments/invoices:1.0"
    assert shop.image("storefront", "web") == "registry.example.com/storefront/web:3.0"
    env = {
        e.name: e.value
        for e in shop.apps.read_namespaced_deployment("invoices", "payments").spec.template.spec.containers[0].env
    }
    assert env["LEDGER_URL"] == "http://ledger.payments.svc.cluster.local:9090"
    policy = shop.custom.get_namespaced_custom_object(
        "security.istio.io", "v1", "payments", "authorizationpolicies", "allow-invoices"
    )
    callers = policy["spec"]["rules"][0]["from"][0]["source"]["principals"]
    assert "cluster.local/ns/storefront/sa/web" in callers, "a service-port dependency admits the caller"
    ledger = shop.custom.get_namespaced_custom_object(
        "security.istio.io", "v1", "payments", "authorizationpolicies", "allow-ledger"
    )
    assert ledger["spec"]["rules"][0]["from"][0]["source"]["principals"] == ["cluster.local/ns/payments/sa/invoices"]


def test_a_team_identity_holding_only_its_role_runs_its_up_and_the_platform_then_has_nothing_to_do(shop):
    identity = team_identity(shop, "payments")
    shop.edit("payments/invoices.yaml", "invoices:1.0", "invoices:1.1")
    planned = shop.must("preview", "environments/shop.yaml", "--team", "payments", "--kubeconfig", identity)
    assert "preview: 1 change(s)" in planned and re.search(r"will update +Deployment payments/invoices\n", planned), (
        planned
    )
    assert "spec.template.spec.containers[0].image: registry.example.com/payments/invoices:1.0 → " in planned, planned
    shop.must("up", "environments/shop.yaml", "--team", "payments", "--kubeconfig", identity, "--yes")
    assert shop.image("payments", "invoices") == "registry.example.com/payments/invoices:1.1"
    again = shop.must("up", "environments/shop.yaml", "--yes", "--no-verify")
    assert changes(again) == ["up: 0 change(s)"] * 3, again  # the platform's stack, payments' and storefront's
    back = shop.must("up", "environments/shop.yaml", "--team", "payments", "--kubeconfig", identity, "--yes")
    assert changes(back) == ["up: 0 change(s)"], back


def test_two_teams_run_their_up_at_the_same_time_and_both_land(shop):
    shop.edit("payments/ledger.yaml", "ledger:2.1", "ledger:2.2")
    shop.edit("storefront/web.yaml", "web:3.0", "web:3.1")
    runs = [shop.start("up", "environments/shop.yaml", "--team", team, "--yes") for team in ("payments", "storefront")]
    for run in runs:
        out, err = run.communicate(timeout=900)
        assert run.returncode == 0, f"{out[-2000:]}\n{err[-2000:]}"
    assert shop.image("payments", "ledger") == "registry.example.com/payments/ledger:2.2"
    assert shop.image("storefront", "web") == "registry.example.com/storefront/web:3.1"


def test_moving_a_teams_inline_apps_to_score_files_replaces_no_running_deployment(shop):
    before = shop.apps.read_namespaced_deployment("old", "legacy")
    shop.must("teams", "export", "environments/shop.yaml")
    spec = yaml.safe_load(shop.spec.read_text())
    legacy = next(t for t in spec["paas"]["teams"] if t["name"] == "legacy")
    del legacy["apps"]
    legacy["workloads"] = "teams/legacy"
    shop.spec.write_text(yaml.safe_dump(spec, sort_keys=False))
    moved = shop.must("up", "environments/shop.yaml", "--yes", "--no-verify")
    assert "handed 6 resource(s) of team(s) legacy to their own stacks: kept in the cluster" in moved
    after = shop.apps.read_namespaced_deployment("old", "legacy")
    assert (after.metadata.uid, after.metadata.generation) == (before.metadata.uid, before.metadata.generation)
    assert after.spec.replicas == 2
    again = shop.must("up", "environments/shop.yaml", "--team", "legacy", "--yes")
    assert changes(again) == ["up: 0 change(s)"], again


def test_destroy_takes_each_teams_stack_first_then_the_platform(shop):
    gone = shop.must("destroy", "environments/shop.yaml", "--yes")
    steps = [line for line in gone.splitlines() if line.startswith("the workloads of team")]
    assert steps == [
        "the workloads of team payments (its own stack, shop.payments)",
        "the workloads of team storefront (its own stack, shop.storefront)",
        "the workloads of team legacy (its own stack, shop.legacy)",
    ], gone
    assert changes(gone) == [], "destroy reports what it removed, not `up:` lines"

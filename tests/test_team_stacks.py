"""A team's own stack (operations/team.py): what it declares, the rights it needs, how the platform hands a team's
apps over to it, and the errors a user meets."""

from __future__ import annotations

from pathlib import Path

import yaml
from test_cli import run

from meshinstall.components.manifests.app import service_ports, virtual_service_spec
from meshinstall.schemas.validate import load_spec
from meshinstall.stacks.program import args, rbac
from meshinstall.stacks.state import handover
from meshinstall.stacks.state.places import places, stack_name

SPEC = """\
apiVersion: meshinstall/v1
kind: MeshSpec
metadata: {name: shop}
cluster: {provider: simulated, nodes: 2}
mesh: {provider: istio, version: 1.30.3}
paas:
  gateway: {hosts: ["*.apps.example.com"]}
  teams:
    - name: payments
      workloads: ../teams/payments
    - name: legacy
      apps:
        - {name: old, image: registry.example.com/legacy/old:1.0, port: 8080}
"""
INVOICES = """\
apiVersion: score.dev/v1b1
metadata: {name: invoices}
containers:
  main: {image: registry.example.com/payments/invoices:1.0}
service:
  ports:
    web: {port: 8080}
    admin: {port: 9901}
resources:
  public: {type: route, params: {host: invoices.apps.example.com, path: /, port: 9901}}
"""
WORKER = """\
apiVersion: score.dev/v1b1
metadata: {name: worker}
containers:
  main: {image: registry.example.com/payments/worker:1.0}
"""


def shop(tmp_path: Path) -> Path:
    (tmp_path / "environments").mkdir()
    (tmp_path / "teams" / "payments").mkdir(parents=True)
    (tmp_path / "teams" / "payments" / "invoices.yaml").write_text(INVOICES)
    (tmp_path / "teams" / "payments" / "worker.yaml").write_text(WORKER)
    spec = tmp_path / "environments" / "shop.yaml"
    spec.write_text(SPEC)
    return spec


def test_the_platform_declares_the_team_space_and_the_team_stack_its_workloads(tmp_path):
    spec = load_spec(shop(tmp_path))
    payments, legacy = spec.paas.teams
    platform = args.paas_args(spec, _layout(spec), {}, ())
    assert [a.name for a in platform.apps] == ["old"], "the platform's stack holds no workload of a team that owns them"
    assert [t.name for t in platform.teams] == ["payments", "legacy"], "but it keeps every team's space"
    own = args.team_workloads_args(spec, payments, {})
    assert (own.team, own.namespace, [a.name for a in own.apps]) == ("payments", "payments", ["invoices", "worker"])
    assert own.alerts is not None and own.dashboard, "a team's stack carries its apps' alerts and its dashboard"
    watched = args.monitoring_args(spec, _releases(spec), None, (), {})
    assert [t.name for t in watched.apps] == ["old"], "the platform's alerts and dashboard leave the team's apps out"


def test_a_workload_with_several_ports_routes_each_request_to_its_port_and_the_gateway_to_the_routes(tmp_path):
    spec = load_spec(shop(tmp_path))
    payments = spec.paas.teams[0]
    invoices, worker = args.team_workloads_args(spec, payments, {}).apps
    assert [(p["name"], p["port"]) for p in service_ports(invoices)] == [("web", 8080), ("admin", 9901)]
    routes = {r["name"]: r for r in virtual_service_spec(invoices)["http"]}
    assert "port" not in routes["mesh"]["route"][0]["destination"], "in the mesh, a request keeps the port it came to"
    assert routes["ingress"]["route"][0]["destination"]["port"] == {"number": 9901}, "the route resource's port"
    assert service_ports(worker) == [], "a workload without ports has no Service"


def test_a_teams_role_is_namespaced_and_names_nothing_cluster_wide(tmp_path):
    spec = load_spec(shop(tmp_path))
    role, binding = yaml.safe_load_all(rbac.team_role(spec, "payments", "payments"))
    assert (role["kind"], role["metadata"]["namespace"]) == ("Role", "payments")
    assert (binding["kind"], binding["roleRef"]["name"]) == ("RoleBinding", role["metadata"]["name"])
    resources = {r for rule in role["rules"] for r in rule["resources"]}
    cluster_scoped = {"namespaces", "nodes", "customresourcedefinitions", "clusterroles", "clusterrolebindings"}
    assert not resources & cluster_scoped
    assert {"deployments", "services", "virtualservices", "authorizationpolicies", "prometheusrules"} <= resources
    assert not any("escalate" in rule["verbs"] or "bind" in rule["verbs"] for rule in role["rules"])


def test_each_team_stack_has_its_own_name_and_engine_home(tmp_path):
    spec = load_spec(shop(tmp_path))
    assert (stack_name(spec), stack_name(spec, "payments")) == ("shop", "shop.payments")
    homes = {places(spec, team).pulumi_home for team in (None, "payments", "legacy")}
    assert len(homes) == 3, "a team's run never takes another stack's engine processes for a dead run's"


def _deployment() -> dict:
    def r(urn: str, kind: str, ident: str = "", parent: str = "", deps: tuple[str, ...] = ()) -> dict:
        return {"urn": urn, "type": kind, "id": ident, "parent": parent, "dependencies": list(deps)}

    app = "urn:pulumi:shop::meshinstall::meshinstall:components:Paas$meshinstall:components:App::payments-invoices"
    other = "urn:pulumi:shop::meshinstall::meshinstall:components:Paas$meshinstall:components:App::legacy-old"
    return {
        "resources": [
            r("urn:stack", "pulumi:pulumi:Stack"),
            r(app, "meshinstall:components:App", parent="urn:paas"),
            r(f"{app}-deploy", "kubernetes:apps/v1:Deployment", "payments/invoices", app),
            r(f"{app}-svc", "kubernetes:core/v1:Service", "payments/invoices", app),
            r(other, "meshinstall:components:App", parent="urn:paas"),
            r(f"{other}-deploy", "kubernetes:apps/v1:Deployment", "legacy/old", other),
            r("urn:alerts-p", "kubernetes:monitoring.coreos.com/v1:PrometheusRule", "payments/invoices-alerts"),
            r("urn:alerts-l", "kubernetes:monitoring.coreos.com/v1:PrometheusRule", "legacy/old-alerts"),
            r("urn:dash", "kubernetes:core/v1:ConfigMap", "monitoring/dash", deps=("urn:alerts-p", "urn:alerts-l")),
        ]
    }


def test_the_platform_forgets_exactly_the_apps_of_a_team_that_took_them_over():
    deployment = _deployment()
    taken = handover.handed_over(deployment, ["payments"])
    assert sorted(u.rsplit("::", 1)[-1] for u in taken) == [
        "payments-invoices",
        "payments-invoices-deploy",
        "payments-invoices-svc",
        "urn:alerts-p",
    ]
    kept = handover.without(deployment, taken)
    assert [r["id"] for r in kept["resources"] if r["id"]] == [
        "legacy/old",
        "legacy/old-alerts",
        "monitoring/dash",
    ]
    assert kept["resources"][-1]["dependencies"] == ["urn:alerts-l"], "no reference is left to what was forgotten"
    assert handover.namespaces_of(taken, deployment) == {"payments"}


def test_a_team_command_for_a_team_without_workloads_or_an_unknown_team_says_so(tmp_path, monkeypatch):
    spec = shop(tmp_path)
    monkeypatch.chdir(tmp_path)
    code, _, err = run("rbac", str(spec), "--team", "nope")
    assert code == 2
    assert "shop has no team 'nope' (teams with their own workloads: payments)" in err
    code, _, err = run("up", str(spec), "--team", "legacy", "--yes")
    assert code == 2
    assert "team legacy of shop has no `workloads` folder: its apps are the platform's" in err


def _layout(spec):
    from meshinstall.stacks.program.upgrade import steady

    return steady(spec, None)


def _releases(spec):
    from meshinstall.stacks.program.releases import releases

    return releases(spec)

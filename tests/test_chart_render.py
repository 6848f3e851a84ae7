"""Values are a contract with each official chart: every release renders with Helm, every value is a key the chart knows,
and what users rely on is in the rendered output."""

from __future__ import annotations

import dataclasses
import json

import pytest
from chart_values import RenderError, chart_defaults, objects, render, unknown_keys
from conftest import ROOT
from program_runs import of_type

from meshinstall.schemas.validate import load_spec
from meshinstall.stacks.program.releases import releases

ENVIRONMENTS = ("dev", "staging", "prod")  # Istio's
LINKERD = "linkerd"  # environments/linkerd.yaml: Linkerd's charts and Envoy Gateway


def env_releases(env: str):
    return releases(load_spec(ROOT / "environments" / f"{env}.yaml"))


def release(env: str, name: str):
    found = [r for r in env_releases(env).all() if r.name == name]
    assert found, f"{env} installs no release {name}"
    return found[0]


CASES = [(env, r.name) for env in (*ENVIRONMENTS, LINKERD) for r in env_releases(env).all()]


@pytest.mark.parametrize(("env", "name"), CASES, ids=[f"{e}-{n}" for e, n in CASES])
@pytest.mark.needs_helm
def test_every_release_renders_and_sets_only_keys_the_chart_knows(env, name):
    chosen = release(env, name)
    assert render(chosen), f"{name} rendered nothing"
    defaults = chart_defaults(chosen.chart.local_path())
    assert unknown_keys(chosen.chart.name, chosen.values, defaults) == [], (
        f"{env}/{name}: values the chart does not know"
    )


@pytest.mark.needs_helm
def test_a_misspelled_value_is_caught():
    istiod = release("dev", "istiod")
    typo = {**istiod.values, "replicaCont": 2, "global": {**istiod.values["global"], "istioNamspace": "x"}}
    assert unknown_keys("istiod", typo, chart_defaults(istiod.chart.local_path())) == [
        "global.istioNamspace",
        "replicaCont",
    ]
    gateway = release("dev", "istio-ingressgateway")
    with pytest.raises(RenderError, match="replicaCont"):  # the gateway chart's values.schema.json refuses it too
        render(dataclasses.replace(gateway, values={**gateway.values, "replicaCont": 2}))


def test_old_value_layout_would_be_caught():
    """istiod's values were once nested under `pilot`; the chart now reads them at the top and ignores `pilot`."""
    istiod = release("prod", "istiod")
    assert unknown_keys("istiod", {"pilot": {"replicaCount": 1}}, chart_defaults(istiod.chart.local_path())) == [
        "pilot"
    ]


def _matches(selector: dict, labels: dict[str, str]) -> bool:
    for expression in selector.get("matchExpressions", []):
        key, operator, values = expression["key"], expression["operator"], expression.get("values", [])
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and labels.get(key) in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


@pytest.mark.parametrize("env", ["dev", "prod"])
@pytest.mark.needs_helm
def test_the_rendered_injector_selects_every_team_namespace(env):
    webhooks = objects(render(release(env, "istiod")), "MutatingWebhookConfiguration")
    selectors = [hook["namespaceSelector"] for config in webhooks for hook in config["webhooks"]]
    team_namespaces = [
        r for r in of_type(env, "core/v1:Namespace") if "meshinstall.dev/team" in r.inputs["metadata"]["labels"]
    ]
    assert team_namespaces
    for namespace in team_namespaces:
        labels = namespace.inputs["metadata"]["labels"]
        assert any(_matches(s, labels) for s in selectors), (
            f"{namespace.urn}: no injection webhook selects labels {labels}"
        )


@pytest.mark.needs_helm
def test_istiod_renders_the_spec_requests_revision_and_mesh_config():
    rendered = render(release("prod", "istiod"))
    deployment = next(d for d in objects(rendered, "Deployment") if d["metadata"]["name"].startswith("istiod"))
    assert deployment["metadata"]["name"] == "istiod-1-30-3"
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert {k: str(v) for k, v in container["resources"]["requests"].items()} == {"cpu": "1", "memory": "4Gi"}
    mesh = next(c for c in objects(rendered, "ConfigMap") if c["metadata"]["name"] == "istio-1-30-3")["data"]["mesh"]
    assert "REGISTRY_ONLY" in mesh


@pytest.mark.needs_helm
def test_grafana_takes_its_password_from_the_secret():
    rendered = render(release("prod", "kube-prometheus-stack"))
    grafana = next(d for d in objects(rendered, "Deployment") if d["metadata"]["name"].endswith("grafana"))
    env = {e["name"]: e for c in grafana["spec"]["template"]["spec"]["containers"] for e in c.get("env", [])}
    password = env["GF_SECURITY_ADMIN_PASSWORD"]
    assert "value" not in password
    assert password["valueFrom"]["secretKeyRef"] == {"name": "grafana-admin", "key": "admin-password"}
    assert "grafana-pw-123" not in json.dumps(rendered)


@pytest.mark.parametrize("env", ENVIRONMENTS)
@pytest.mark.needs_helm
def test_pod_security_brings_the_cni_agent_and_istiod_uses_it(env):
    spec = load_spec(ROOT / "environments" / f"{env}.yaml")
    assert spec.paas.pod_security in ("baseline", "restricted")
    daemonsets = objects(render(release(env, "istio-cni")), "DaemonSet")
    assert [d["metadata"]["name"] for d in daemonsets] == ["istio-cni-node"]
    injector = next(
        c
        for c in objects(render(release(env, "istiod")), "ConfigMap")
        if c["metadata"]["name"].startswith("istio-sidecar-injector")
    )
    assert json.loads(injector["data"]["values"])["pilot"]["cni"]["enabled"] is True


@pytest.mark.needs_helm
def test_without_pod_security_there_is_no_cni_agent_and_injection_adds_istio_init(tmp_path):
    spec_file = tmp_path / "privileged.yaml"
    spec_file.write_text((ROOT / "tests" / "fixtures" / "valid" / "cni-off-privileged.yaml").read_text())
    chosen = releases(load_spec(spec_file))
    assert chosen.cni is None
    injector = next(
        c
        for c in objects(render(chosen.istiod), "ConfigMap")
        if c["metadata"]["name"].startswith("istio-sidecar-injector")
    )
    assert json.loads(injector["data"]["values"])["pilot"]["cni"]["enabled"] is False
    assert "NET_ADMIN" in injector["data"]["config"]


@pytest.mark.parametrize("env", ENVIRONMENTS)
@pytest.mark.needs_helm
def test_the_gateway_service_has_the_spec_type(env):
    spec = load_spec(ROOT / "environments" / f"{env}.yaml")
    services = objects(render(release(env, "istio-ingressgateway")), "Service")
    assert [s["spec"]["type"] for s in services] == [spec.mesh.ingress_gateway.service_type]


def _rendered_footprint(env: str, nodes: int):
    """Requests and pods of every workload the charts render, plus the Prometheus and Alertmanager pods the operator makes."""
    from meshinstall.schemas.footprint import Footprint
    from meshinstall.schemas.quantity import bytes_of, millicores

    spec = load_spec(ROOT / "environments" / f"{env}.yaml")
    total = Footprint()
    for chosen in env_releases(env).all():
        for doc in render(chosen):
            if doc["kind"] not in ("Deployment", "DaemonSet", "StatefulSet"):
                continue
            count = nodes if doc["kind"] == "DaemonSet" else doc["spec"].get("replicas", 1)
            requests = [
                (c.get("resources") or {}).get("requests") or {} for c in doc["spec"]["template"]["spec"]["containers"]
            ]
            cpu = sum(millicores(str(r.get("cpu", "0"))) for r in requests)
            memory = sum(bytes_of(str(r.get("memory", "0"))) for r in requests)
            total += Footprint(count * cpu, count * memory, count)
        # the operator makes them from the Prometheus and Alertmanager resources
        if chosen.name == "kube-prometheus-stack":
            total += Footprint(0, 0, 1 + int(spec.monitoring.alerts.enabled))
        # Envoy Gateway makes the shared Gateway's proxies (100m and 512Mi each, its default EnvoyProxy resources)
        if chosen.name == "envoy-gateway":
            replicas = spec.mesh.ingress_gateway.replicas
            total += Footprint(replicas * 100, replicas * bytes_of("512Mi"), replicas)
    return total


@pytest.mark.parametrize("env", (*ENVIRONMENTS, LINKERD))
@pytest.mark.needs_helm
def test_the_capacity_rules_count_what_the_charts_request(env):
    from meshinstall.schemas.footprint import platform_footprint

    spec = load_spec(ROOT / "environments" / f"{env}.yaml")
    nodes = spec.cluster.nodes
    assert platform_footprint(spec, nodes) == _rendered_footprint(env, nodes)


@pytest.mark.needs_helm
def test_linkerd_installs_its_four_charts_at_the_edge_release_and_envoy_gateway():
    chosen = {r.name: (r.chart.name, r.chart.version, r.namespace) for r in env_releases(LINKERD).all()}
    assert chosen == {
        "linkerd-crds": ("linkerd-crds", "2026.8.3", "linkerd"),
        "linkerd2-cni": ("linkerd2-cni", "2026.8.3", "linkerd-cni"),
        "linkerd-control-plane": ("linkerd-control-plane", "2026.8.3", "linkerd"),
        "linkerd-viz": ("linkerd-viz", "2026.8.3", "linkerd-viz"),
        "envoy-gateway": ("gateway-helm", "v1.9.0", "envoy-gateway-system"),
        "kube-prometheus-stack": ("kube-prometheus-stack", "88.5.3", "monitoring"),
    }


@pytest.mark.needs_helm
def test_linkerd_control_plane_reads_meshinstalls_identity_and_holds_no_key():
    """External-CA mode: the chart writes neither the issuer's Secret nor the trust roots; no value holds a key."""
    control_plane = release(LINKERD, "linkerd-control-plane")
    rendered = render(control_plane)
    names = {(o["kind"], o["metadata"]["name"]) for o in rendered}
    assert ("Secret", "linkerd-identity-issuer") not in names
    assert ("ConfigMap", "linkerd-identity-trust-roots") not in names
    identity = next(d for d in objects(rendered, "Deployment") if d["metadata"]["name"] == "linkerd-identity")
    args = identity["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "-identity-scheme=kubernetes.io/tls" in args
    assert "PRIVATE KEY" not in json.dumps(control_plane.values)


@pytest.mark.needs_helm
def test_restricted_pod_security_brings_linkerd_cni_and_no_proxy_init():
    assert load_spec(ROOT / "environments" / f"{LINKERD}.yaml").paas.pod_security == "restricted"
    daemonsets = objects(render(release(LINKERD, "linkerd2-cni")), "DaemonSet")
    assert [d["metadata"]["name"] for d in daemonsets] == ["linkerd-cni"]
    rendered = render(release(LINKERD, "linkerd-control-plane"))
    init = [
        c["name"]
        for d in objects(rendered, "Deployment")
        for c in d["spec"]["template"]["spec"].get("initContainers", [])
    ]
    assert "linkerd-init" not in init  # the NET_ADMIN container Pod Security `restricted` refuses


@pytest.mark.needs_helm
def test_linkerd_viz_reads_the_platforms_prometheus():
    rendered = render(release(LINKERD, "linkerd-viz"))
    assert not [d for d in objects(rendered, "Deployment") if d["metadata"]["name"] == "prometheus"]
    metrics = next(d for d in objects(rendered, "Deployment") if d["metadata"]["name"] == "metrics-api")
    args = metrics["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "-prometheus-url=http://kube-prometheus-stack-prometheus.monitoring.svc.cluster.local:9090" in args

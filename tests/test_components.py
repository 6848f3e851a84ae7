"""The program's resources for the example environments, under Pulumi mocks: what a platform engineer would inspect."""

from __future__ import annotations

import json

import pytest
from program_runs import named, of_type, resources, urn_of

ISTIO_REPO = "https://istio-release.storage.googleapis.com/charts"


def release(env: str, name: str):
    return named(env, "helm.sh/v3:Release", name)


# --- control plane -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_without_a_mirror_charts_come_from_the_official_repositories_at_the_pins(env, monkeypatch):
    from program_runs import spec_of

    from meshinstall.stacks.program.releases import releases

    monkeypatch.delenv("MESHINSTALL_CHARTS_MIRROR")
    chosen = {r.name: r.chart for r in releases(spec_of(env)).all()}
    for name in ("istio-base", "istio-cni", "istiod", "istio-ingressgateway"):
        assert (chosen[name].repository, chosen[name].version) == (ISTIO_REPO, "1.30.3"), name
    assert {chosen[n].version for n in ("kube-prometheus-stack", "kiali", "jaeger")} == {"88.5.3", "2.29.0", "4.11.1"}
    assert chosen["kiali"].release_args()["repository_opts"].repo == "https://kiali.org/helm-charts"


def test_the_mirror_variable_overrides_the_spec_and_every_chart_comes_from_it():
    from conftest import CHARTS

    for r in of_type("dev", "helm.sh/v3:Release"):
        assert r.inputs["chart"].startswith(str(CHARTS)), r.urn
        assert "repositoryOpts" not in r.inputs, r.urn


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_base_then_cni_then_istiod_then_gateway(env):
    base, cni, istiod, gateway = (
        release(env, n) for n in ("istio-base", "istio-cni", "istiod", "istio-ingressgateway")
    )
    assert base.urn in cni.dependencies, cni.urn
    assert {base.urn, cni.urn} <= set(istiod.dependencies), istiod.urn
    assert istiod.urn in gateway.dependencies, gateway.urn
    assert urn_of(env, "core/v1:Namespace", "istio-system") in base.dependencies


def test_istiod_values_follow_the_prod_spec():
    values = release("prod", "istiod").inputs["values"]
    assert values["revision"] == "1-30-3"
    assert values["resources"]["requests"] == {"cpu": "1", "memory": "4Gi"}
    assert values["cni"] == {"enabled": True}
    assert values["meshConfig"]["outboundTrafficPolicy"] == {"mode": "REGISTRY_ONLY"}
    assert values["global"]["proxy"]["resources"] == {
        "requests": {"cpu": "200m", "memory": "256Mi"},
        "limits": {"cpu": "2", "memory": "1Gi"},
    }
    assert values["meshConfig"]["defaultConfig"]["holdApplicationUntilProxyStarts"] is True
    assert values["traceSampling"] == 1.0
    assert "profile" not in values  # `default` is the chart's built-in defaults


def test_the_gateway_service_type_is_the_spec_s_on_every_cluster():
    assert release("dev", "istio-ingressgateway").inputs["values"]["service"]["type"] == "LoadBalancer"
    assert release("prod", "istio-ingressgateway").inputs["values"]["service"]["type"] == "LoadBalancer"
    assert release("prod", "istio-ingressgateway").inputs["values"]["replicaCount"] == 3


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_every_kubernetes_object_uses_the_cluster_provider(env):
    provider = named(env, "providers:kubernetes", "cluster-k8s").urn
    for r in resources(env):
        if r.type.startswith("kubernetes:"):
            assert r.provider.startswith(provider), r.urn


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_every_object_is_labelled_and_owned_so_drift_is_taken_back(env):
    for r in resources(env):
        if r.type.startswith("kubernetes:") and "metadata" in r.inputs:
            meta = r.inputs["metadata"]
            assert meta["labels"]["app.kubernetes.io/managed-by"] == "meshinstall", r.urn
            assert meta["annotations"]["pulumi.com/patchForce"] == "true", r.urn


# --- sidecars and mesh policy ----------------------------------------------------------------------------------


def team_namespaces(env: str):
    return [r for r in of_type(env, "core/v1:Namespace") if "meshinstall.dev/team" in r.inputs["metadata"]["labels"]]


def test_revisioned_mesh_labels_namespaces_with_the_revision():
    for ns in team_namespaces("prod"):
        labels = ns.inputs["metadata"]["labels"]
        assert labels["istio.io/rev"] == "1-30-3", ns.urn
        assert "istio-injection" not in labels, ns.urn


def test_default_mesh_labels_namespaces_for_injection():
    assert sorted(ns.inputs["metadata"]["name"] for ns in team_namespaces("staging")) == ["payments", "storefront"]
    for ns in team_namespaces("staging"):
        assert ns.inputs["metadata"]["labels"]["istio-injection"] == "enabled", ns.urn


def test_mesh_wide_strict_mtls_and_default_sidecar():
    peer = named("prod", "PeerAuthentication", "mesh-peer-authentication")
    assert peer.inputs["metadata"]["name"] == "default" and peer.inputs["metadata"]["namespace"] == "istio-system"
    assert peer.inputs["spec"] == {"mtls": {"mode": "STRICT"}}
    sidecar = named("prod", "networking.istio.io/v1:Sidecar", "mesh-default-sidecar")
    hosts = sidecar.inputs["spec"]["egress"][0]["hosts"]
    assert {"./*", "istio-system/*", "payments/*", "storefront/*"} <= set(hosts)
    assert sidecar.inputs["spec"]["outboundTrafficPolicy"] == {"mode": "REGISTRY_ONLY"}
    assert urn_of("prod", "helm.sh/v3:Release", "istiod") in peer.dependencies


# --- PaaS: teams -----------------------------------------------------------------------------------------------


def test_team_namespaces_enforce_the_pod_security_level():
    for ns in team_namespaces("prod"):
        assert ns.inputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted", ns.urn
    for ns in team_namespaces("dev"):
        assert ns.inputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "baseline", ns.urn


def test_quota_and_limit_range_per_team_namespace():
    quota = named("prod", "ResourceQuota", "payments-quota")
    assert quota.inputs["metadata"]["namespace"] == "payments"
    assert quota.inputs["spec"]["hard"] == {"requests.cpu": "8", "requests.memory": "16Gi", "pods": "40"}
    limits = named("prod", "LimitRange", "payments-limits")
    assert limits.inputs["spec"]["limits"][0]["defaultRequest"] == {"cpu": "200m", "memory": "256Mi"}


def test_rbac_is_namespaced_and_has_no_wildcards():
    assert not of_type("prod", "ClusterRole") and not of_type("prod", "ClusterRoleBinding")
    role = named("prod", "rbac.authorization.k8s.io/v1:Role", "payments-role")
    for rule in role.inputs["rules"]:
        for field in ("apiGroups", "resources", "verbs"):
            assert "*" not in rule[field], rule
    binding = named("prod", "RoleBinding", "payments-rolebinding")
    assert binding.inputs["subjects"] == [
        {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "payments-devs"}
    ]
    assert binding.inputs["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": "team-developer",
    }


def test_every_team_namespace_denies_by_default():
    for team in ("payments", "storefront"):
        deny = named("dev", "AuthorizationPolicy", f"{team}-deny-all")
        assert deny.inputs["metadata"]["namespace"] == team
        assert deny.inputs.get("spec") in (None, {}), deny.urn
        netpol = named("dev", "NetworkPolicy", f"{team}-default-deny")
        assert netpol.inputs["spec"] == {"podSelector": {}, "policyTypes": ["Ingress"]}
        mesh = named("dev", "NetworkPolicy", f"{team}-allow-mesh")
        assert mesh.inputs["spec"]["ingress"] == [
            {"from": [{"namespaceSelector": {"matchLabels": {"meshinstall.dev/mesh": "true"}}}]}
        ]


def test_allow_policy_admits_exactly_the_callers_and_the_gateway():
    allow = named("dev", "AuthorizationPolicy", "payments-checkout-authorizationpolicy")
    assert allow.inputs["spec"]["selector"] == {"matchLabels": {"app": "checkout"}}
    assert allow.inputs["spec"]["rules"][0]["from"][0]["source"]["principals"] == [
        "cluster.local/ns/istio-ingress/sa/istio-ingressgateway",
        "cluster.local/ns/payments/sa/orders",
        "cluster.local/ns/storefront/sa/web",
    ]
    assert not [r for r in of_type("dev", "AuthorizationPolicy") if r.name == "payments-orders-authorizationpolicy"]


# --- PaaS: apps ------------------------------------------------------------------------------------------------


def test_stable_and_canary_deployments():
    stable = named("dev", "apps/v1:Deployment", "payments-checkout-stable")
    canary = named("dev", "apps/v1:Deployment", "payments-checkout-canary")
    assert stable.inputs["spec"]["replicas"] == 2
    assert canary.inputs["spec"]["replicas"] == 1
    pod = stable.inputs["spec"]["template"]["spec"]
    assert pod["containers"][0]["image"] == "registry.example.com/payments/checkout:1.4.2"
    assert (
        canary.inputs["spec"]["template"]["spec"]["containers"][0]["image"]
        == "registry.example.com/payments/checkout:1.5.0"
    )
    assert pod["serviceAccountName"] == "checkout" and pod["automountServiceAccountToken"] is False
    env = {e["name"]: e for e in pod["containers"][0]["env"]}
    assert env["LOG_LEVEL"]["value"] == "info"
    assert env["DB_PASSWORD"]["valueFrom"] == {"secretKeyRef": {"name": "checkout-env", "key": "DB_PASSWORD"}}
    assert stable.inputs["spec"]["template"]["metadata"]["labels"]["version"] == "stable"


def test_up_awaits_the_deployments_of_apps_but_not_their_services():
    """A Service's await holds an engine slot for 10 s after each change of its endpoints; the Deployment behind it
    is what `up` waits for."""
    services = [s for s in of_type("dev", "core/v1:Service") if s.inputs["metadata"]["labels"].get("app")]
    assert services
    for service in services:
        assert service.inputs["metadata"]["annotations"]["pulumi.com/skipAwait"] == "true", service.urn
    for deployment in of_type("dev", "apps/v1:Deployment"):
        assert "pulumi.com/skipAwait" not in deployment.inputs["metadata"]["annotations"], deployment.urn


def test_workloads_wait_for_istiod_so_pods_get_sidecars():
    istiod = urn_of("dev", "helm.sh/v3:Release", "istiod")
    for deployment in of_type("dev", "apps/v1:Deployment"):
        assert istiod in deployment.dependencies, deployment.urn


def test_service_accounts_do_not_automount_tokens():
    for sa in of_type("dev", "ServiceAccount"):
        assert sa.inputs["automountServiceAccountToken"] is False, sa.urn


def test_destination_rule_subsets_and_outlier_detection():
    rule = named("dev", "DestinationRule", "payments-checkout-destinationrule").inputs
    assert rule["spec"]["host"] == "checkout.payments.svc.cluster.local"
    assert [s["name"] for s in rule["spec"]["subsets"]] == ["stable", "canary"]
    assert rule["spec"]["trafficPolicy"]["outlierDetection"]["consecutive5xxErrors"] == 5
    assert rule["spec"]["trafficPolicy"]["outlierDetection"]["baseEjectionTime"] == "30s"


def test_virtual_service_weights_timeouts_retries_and_gateway():
    vs = named("dev", "VirtualService", "payments-checkout-virtualservice").inputs["spec"]
    assert vs["gateways"] == ["mesh", "istio-ingress/paas-gateway"]
    assert "checkout.apps.example.com" in vs["hosts"]
    ingress, mesh = vs["http"]
    assert ingress["match"] == [{"gateways": ["istio-ingress/paas-gateway"], "uri": {"prefix": "/"}}]
    assert [d["weight"] for d in mesh["route"]] == [90, 10]
    assert mesh["timeout"] == "5s"
    assert mesh["retries"]["attempts"] == 3 and mesh["retries"]["perTryTimeout"] == "2s"
    internal = named("dev", "VirtualService", "storefront-catalog-virtualservice").inputs["spec"]
    assert internal["gateways"] == ["mesh"] and len(internal["http"]) == 1


def test_shared_gateway_serves_the_hosts_with_tls_in_prod():
    gateway = named("prod", "networking.istio.io/v1:Gateway", "shared-gateway").inputs
    assert gateway["metadata"]["namespace"] == "istio-ingress"
    https = gateway["spec"]["servers"][1]
    assert https["tls"] == {"mode": "SIMPLE", "credentialName": "apps-tls"}
    assert https["hosts"] == ["*.apps.example.com"]
    assert gateway["spec"]["servers"][0]["tls"] == {"httpsRedirect": True}


# --- monitoring ------------------------------------------------------------------------------------------------


def test_alerts_per_app_at_the_spec_thresholds():
    rules = of_type("prod", "PrometheusRule")
    assert sorted(r.inputs["metadata"]["name"] for r in rules) == [
        "catalog-alerts",
        "checkout-alerts",
        "orders-alerts",
        "web-alerts",
    ]
    checkout = named("prod", "PrometheusRule", "payments-checkout-alerts").inputs
    assert checkout["metadata"]["namespace"] == "payments"
    error, latency = checkout["spec"]["groups"][0]["rules"]
    assert error["expr"].endswith("* 100 > 2") and 'destination_app="checkout"' in error["expr"]
    assert latency["expr"].endswith("> 500")
    stack = urn_of("prod", "helm.sh/v3:Release", "kube-prometheus-stack")
    rule = named("prod", "PrometheusRule", "payments-checkout-alerts")
    assert stack in rule.dependencies
    namespaces = {urn for urn in rule.dependencies if "core/v1:Namespace" in urn}
    assert namespaces == {urn_of("prod", "core/v1:Namespace", "payments-ns")}, (
        "an app's rule waits for its own namespace, not every team's"
    )


def test_control_plane_and_sidecars_are_scraped():
    monitor = named("dev", "ServiceMonitor", "istiod-monitor").inputs["spec"]
    assert monitor["selector"] == {"matchLabels": {"app": "istiod"}}
    pods = named("dev", "PodMonitor", "sidecar-monitor").inputs["spec"]
    assert pods["podMetricsEndpoints"][0]["path"] == "/stats/prometheus"


def test_dashboard_has_a_panel_per_app():
    dashboard = named("dev", "core/v1:ConfigMap", "mesh-dashboard").inputs
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    panels = json.loads(dashboard["data"]["meshinstall-apps.json"])["panels"]
    assert [p["title"] for p in panels] == [
        "payments/checkout",
        "payments/orders",
        "storefront/web",
        "storefront/catalog",
    ]


def test_prometheus_retention_and_grafana_password_by_secret_reference():
    values = release("prod", "kube-prometheus-stack").inputs["values"]
    assert values["prometheus"]["prometheusSpec"]["retention"] == "30d"
    assert values["grafana"]["admin"]["existingSecret"] == "grafana-admin"
    assert "grafana-pw-123" not in json.dumps(values)


def test_kiali_and_jaeger_are_installed_when_enabled():
    assert (
        release("dev", "kiali")
        .inputs["values"]["external_services"]["prometheus"]["url"]
        .startswith("http://kube-prometheus-stack-prometheus.monitoring")
    )
    assert release("dev", "jaeger").inputs["namespace"] == "monitoring"


# --- cluster ---------------------------------------------------------------------------------------------------


def test_simulated_cluster_is_part_of_the_graph_and_feeds_the_provider(environments):
    local = named("dev", "pulumi-python:dynamic:Resource", "cluster-local")
    assert local.inputs["nodes"] == 3
    assert (local.inputs["cpu"], local.inputs["memory"], local.inputs["pods"]) == ("16", "64Gi", 110)
    assert local.inputs["state_dir"] == str(environments / ".meshinstall" / "clusters" / "dev")
    provider = named("dev", "providers:kubernetes", "cluster-k8s")
    assert local.urn in provider.dependencies


def test_existing_cluster_uses_the_kubeconfig_context():
    provider = named("staging", "providers:kubernetes", "cluster-k8s")
    assert provider.inputs["context"] == "staging-admin"
    assert provider.inputs["kubeconfig"].endswith("/.kube/config")
    assert not of_type("staging", "dynamic:Resource")


def test_disabled_parts_need_no_chart():
    from dataclasses import replace

    from program_runs import spec_of

    from meshinstall.schemas.model import Toggle, Tracing
    from meshinstall.stacks.program.releases import releases

    spec = spec_of("dev")
    lean = replace(spec, monitoring=replace(spec.monitoring, kiali=Toggle(False), tracing=Tracing(enabled=False)))
    assert [r.chart.name for r in releases(lean).all()] == ["base", "cni", "istiod", "gateway", "kube-prometheus-stack"]
    assert [r.chart.name for r in releases(spec).all()] == [
        "base",
        "cni",
        "istiod",
        "gateway",
        "kube-prometheus-stack",
        "jaeger",
        "kiali-server",
    ]


def test_gateway_api_crds_are_installed_from_the_mirror_and_kept_on_destroy():
    crds = of_type("dev", "apiextensions.k8s.io/v1:CustomResourceDefinition")
    assert {c.name for c in crds} >= {"gateways.gateway.networking.k8s.io", "httproutes.gateway.networking.k8s.io"}
    for crd in crds:
        assert crd.inputs["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "meshinstall", crd.urn
        assert crd.inputs["metadata"]["annotations"]["gateway.networking.k8s.io/bundle-version"] == "v1.6.1", crd.urn
    istiod = release("dev", "istiod")
    assert all(c.urn in istiod.dependencies for c in crds)

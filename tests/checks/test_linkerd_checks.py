"""Linkerd's checks (MI014, MI111, MI411), offline: recorded answers of a Linkerd platform for MI111 and MI411, and
certificates made for each case for MI014 (no key is ever recorded). Istio's checks are skipped by name there."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from fake_api import Answers, always
from recorded import NOT_FOUND, REAL_NODES, cluster, recorded, run_check

from meshinstall.stacks.program import identity

CONTROL_PLANE = (
    "deployment/linkerd/linkerd-destination, deployment/linkerd/linkerd-identity, "
    "deployment/linkerd/linkerd-proxy-injector"
)
WEBHOOK = "mutatingwebhookconfiguration/linkerd-proxy-injector-webhook-config"
IDENTITY = "configmap/linkerd/linkerd-identity-trust-roots, secret/linkerd/linkerd-identity-issuer"
POLICY = "servers, meshtlsauthentications, authorizationpolicies, httproutes, gateways"


@pytest.fixture
def linkerd_spec(isolated: Path) -> Path:
    """environments/linkerd.yaml on an existing cluster (the recorded one has real nodes)."""
    spec = isolated / "environments" / "linkerd.yaml"
    spec.write_text(spec.read_text().replace("provider: simulated", "provider: existing"))
    return spec


def test_mi111_passes_when_the_control_plane_is_available_and_injects_the_team_namespaces(linkerd_spec):
    ctx = cluster(recorded(REAL_NODES, "MI111/passed"), linkerd_spec)
    assert run_check("MI111", ctx) == ("passed", f"{CONTROL_PLANE}, {WEBHOOK}", "")


def test_mi111_fails_when_a_team_namespace_is_no_longer_injected(linkerd_spec):
    ctx = cluster(recorded(REAL_NODES, "MI111/failed"), linkerd_spec)
    assert run_check("MI111", ctx) == ("failed", WEBHOOK, "does not inject storefront (no linkerd.io/inject: enabled)")


def test_mi411_passes_when_policy_and_routes_are_the_specs(linkerd_spec):
    ctx = cluster(recorded(REAL_NODES, "MI411/passed"), linkerd_spec)
    assert run_check("MI411", ctx) == ("passed", POLICY, "")


def test_mi411_fails_when_someone_changed_the_canary_weights(linkerd_spec):
    ctx = cluster(recorded(REAL_NODES, "MI411/failed"), linkerd_spec)
    assert run_check("MI411", ctx) == (
        "failed",
        POLICY,
        "payments/checkout: httproute's backends (canary weights) differ from the spec",
    )


def identity_answers(roots: str, issuer: str) -> Answers:
    """The trust roots and the issuer's certificate as the cluster holds them (the Secret without its key)."""
    secret = {
        "kind": "Secret",
        "type": "kubernetes.io/tls",
        "data": {"tls.crt": base64.b64encode(issuer.encode()).decode()},
    }
    return Answers(
        {
            "/api/v1/namespaces/linkerd/configmaps/linkerd-identity-trust-roots": always(
                200, {"data": {"ca-bundle.crt": roots}}
            ),
            "/api/v1/namespaces/linkerd/secrets/linkerd-identity-issuer": always(200, secret),
        },
        default=NOT_FOUND,
    )


def test_mi014_passes_and_counts_the_days_of_a_chained_identity(linkerd_spec):
    made = identity.made(3650, 365)
    ctx = cluster(identity_answers(made.bundle, made.issuer_certificate), linkerd_spec, "doctor")
    assert run_check("MI014", ctx) == (
        "passed",
        IDENTITY,
        "trust anchor expires in 3649 days; issuer expires in 364 days",
    )


def test_mi014_warns_ahead_of_the_issuers_expiry_and_names_the_rotation(linkerd_spec):
    from meshinstall.checks import load_all

    made = identity.made(3650, 10)
    ctx = cluster(identity_answers(made.bundle, made.issuer_certificate), linkerd_spec, "doctor")
    result = load_all()["MI014"]().run(ctx)
    assert (result.status.value, result.message) == (
        "warning",
        "trust anchor expires in 3649 days; issuer expires in 9 days: within 30 days",
    )
    assert result.hint == "run `meshinstall certs rotate linkerd`"


def test_mi014_fails_when_the_issuer_is_not_signed_by_a_trusted_anchor(linkerd_spec):
    made, other = identity.made(3650, 365), identity.made(3650, 365)
    ctx = cluster(identity_answers(other.bundle, made.issuer_certificate), linkerd_spec, "doctor")
    assert run_check("MI014", ctx) == (
        "failed",
        IDENTITY,
        "the issuer is not signed by a trust anchor the control plane trusts, or one has expired",
    )


def test_mi014_is_skipped_before_linkerd_is_installed(linkerd_spec):
    ctx = cluster(Answers({}, default=NOT_FOUND), linkerd_spec, "doctor")
    assert run_check("MI014", ctx) == ("skipped", IDENTITY, "Linkerd is not installed yet; `up` installs its identity")


@pytest.mark.parametrize("check_id", ["MI101", "MI102", "MI201", "MI202", "MI403", "MI405"])
def test_istios_checks_are_skipped_by_name_on_linkerd(linkerd_spec, check_id):
    ctx = cluster(Answers({}, default=NOT_FOUND), linkerd_spec)
    status, _, reason = run_check(check_id, ctx)
    assert (status, reason) == ("skipped", "Istio's objects: this environment runs linkerd")


def test_linkerds_checks_are_skipped_by_name_on_istio(isolated):
    ctx = cluster(Answers({}, default=NOT_FOUND), isolated / "environments" / "staging.yaml")
    for check_id in ("MI014", "MI111", "MI411"):
        status, _, reason = run_check(check_id, ctx)
        assert (status, reason) == ("skipped", "Linkerd's objects: this environment runs istio"), check_id


def pods(namespace: str, app: str, proxy: bool, ready: bool) -> dict:
    containers = [{"name": app}, *([{"name": "linkerd-proxy"}] if proxy else [])]
    return {
        "kind": "PodList",
        "items": [
            {
                "metadata": {"name": f"{app}-5f7d9-abcde", "namespace": namespace},
                "spec": {"containers": containers},
                "status": {"containerStatuses": [{"name": c["name"], "ready": ready} for c in containers]},
            }
        ],
    }


def data_plane(proxy: bool = True, ready: bool = True) -> Answers:
    apps = {"payments": ("checkout", "orders"), "storefront": ("web",)}
    answers = {
        f"/api/v1/namespaces/{ns}/pods?labelSelector=app={app}": always(
            200, pods(ns, app, proxy or app != "web", ready or app != "orders")
        )
        for ns, names in apps.items()
        for app in names
    }
    return Answers({**recorded(REAL_NODES).answers, **answers}, default=NOT_FOUND)


def test_mi211_passes_when_every_app_pod_runs_a_ready_proxy(linkerd_spec):
    ctx = cluster(data_plane(), linkerd_spec)
    assert run_check("MI211", ctx) == ("passed", "pods of every app: container linkerd-proxy, ready", "")


def test_mi211_fails_naming_pods_without_a_proxy_and_with_one_not_ready(linkerd_spec):
    ctx = cluster(data_plane(proxy=False, ready=False), linkerd_spec)
    assert run_check("MI211", ctx) == (
        "failed",
        "pods of every app: container linkerd-proxy, ready",
        "no proxy in storefront/web-5f7d9-abcde; proxy not ready in payments/orders-5f7d9-abcde",
    )


def test_mi211_is_skipped_where_no_container_runs(isolated):
    ctx = cluster(Answers({}, default=NOT_FOUND), isolated / "environments" / "linkerd.yaml")
    assert run_check("MI211", ctx)[0::2] == (
        "skipped",
        "simulated cluster has no containers: no proxy is injected there",
    )


def platform_pods(image: str) -> Answers:
    pod = {"metadata": {"name": "istiod-5c8f7-x2x9q"}, "spec": {"containers": [{"name": "discovery", "image": image}]}}
    answers = {"/api/v1/namespaces/istio-system/pods": always(200, {"kind": "PodList", "items": [pod]})}
    empty = {"kind": "PodList", "items": []}
    answers |= {f"/api/v1/namespaces/{ns}/pods": always(200, empty) for ns in ("istio-ingress", "monitoring")}
    return Answers(answers, default=NOT_FOUND)


@pytest.mark.parametrize(
    ("image", "outcome"),
    [
        ("registry.corp.example/mirror/istio/pilot:1.30.3", ("passed", "")),
        (
            "docker.io/istio/pilot:1.30.3",
            (
                "failed",
                "1 container(s) run an image from outside registry.corp.example/mirror: "
                "istio-system/istiod-5c8f7-x2x9q (discovery: docker.io/istio/pilot:1.30.3)",
            ),
        ),
    ],
)
def test_mi103_finds_a_platform_pod_pulling_from_outside_the_registry(isolated, image, outcome):
    spec = isolated / "environments" / "staging.yaml"
    spec.write_text(spec.read_text() + '\nimages: {registry: "registry.corp.example/mirror"}\n')
    status, target, message = run_check("MI103", cluster(platform_pods(image), spec))
    assert (status, message) == outcome and target == "pods in istio-system, istio-ingress, monitoring"

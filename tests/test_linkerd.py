"""Issue 30: Linkerd as the second mesh. Its identity certificates, and the objects the program declares for
environments/linkerd.yaml under Pulumi mocks: what a platform engineer would inspect."""

from __future__ import annotations

import json

import pytest
from program_runs import named, of_type, resources, spec_of

from meshinstall.components.manifests.monitoring import AlertThresholds, AppTarget, alert_rules_spec
from meshinstall.errors import UsageError
from meshinstall.schemas.model import Identity, Issuer, SecretRef, TrustAnchor
from meshinstall.stacks.program import identity
from meshinstall.stacks.state.state_file import SECRET_SIGNATURE

ENV = "linkerd"


def custom(kind: str, namespace: str, name: str) -> dict:
    found = [
        r.inputs
        for r in of_type(ENV, kind)
        if r.inputs["metadata"]["name"] == name and r.inputs["metadata"].get("namespace") == namespace
    ]
    assert len(found) == 1, f"{kind} {namespace}/{name}: {len(found)} declared"
    return found[0]


# --- identity ----------------------------------------------------------------------------------------------------


def test_the_issuer_is_signed_by_the_anchor_that_the_control_plane_trusts():
    roots = custom("core/v1:ConfigMap", "linkerd", "linkerd-identity-trust-roots")["data"]["ca-bundle.crt"]
    issuer = custom("core/v1:Secret", "linkerd", "linkerd-identity-issuer")
    assert issuer["type"] == "kubernetes.io/tls"
    sealed = issuer["stringData"]
    assert SECRET_SIGNATURE in sealed, "the issuer's data reaches the engine as a secret (encrypted in the state)"
    data = sealed["value"]
    assert identity.signed_by(data["tls.crt"], roots)
    assert data["tls.key"].startswith("-----BEGIN EC PRIVATE KEY-----")
    [anchor] = identity.certificates(roots)
    assert anchor.subject.rfc4514_string() == "CN=root.linkerd.cluster.local"
    assert anchor.extensions.get_extension_for_class(identity.x509.BasicConstraints).value.ca


def test_no_helm_release_of_a_linkerd_environment_carries_a_private_key():
    releases = of_type(ENV, "helm.sh/v3:Release")
    assert {r.inputs["name"] for r in releases} >= {"linkerd-crds", "linkerd-control-plane", "linkerd-viz"}
    assert all("PRIVATE KEY" not in json.dumps(r.inputs) for r in releases)
    control_plane = next(r for r in releases if r.inputs["name"] == "linkerd-control-plane")
    assert control_plane.inputs["values"]["identity"] == {"externalCA": True, "issuer": {"scheme": "kubernetes.io/tls"}}


def test_an_anchor_rotation_keeps_the_issuer_trusted_at_every_phase():
    made = identity.made(3650, 365)
    bundled = identity.anchor_rotation_step(made, 3650, 365)
    assert len(bundled.anchors) == 2 and bundled.anchors[1] == made.anchors[0]
    assert bundled.issuer_certificate == made.issuer_certificate  # the old issuer, still trusted
    assert identity.signed_by(bundled.issuer_certificate, bundled.bundle)
    reissued = identity.anchor_rotation_step(bundled, 3650, 365)
    assert reissued.issuer_certificate != made.issuer_certificate
    assert identity.signed_by(reissued.issuer_certificate, reissued.anchors[0])
    assert not identity.signed_by(reissued.issuer_certificate, made.anchors[0])
    assert identity.signed_by(reissued.issuer_certificate, reissued.bundle)  # both anchors still trusted
    done = identity.anchor_rotation_step(reissued, 3650, 365)
    assert done.anchors == (reissued.anchors[0],) and done.rotation == ""
    assert identity.signed_by(done.issuer_certificate, done.bundle)


def test_what_meshinstall_made_is_kept_and_what_the_spec_gives_is_used():
    made = identity.made(3650, 365)
    again = identity.LinkerdIdentity.from_record(made.record())
    assert identity.current(Identity(), {}, again) == made
    assert identity.current(Identity(), {}, None) != made  # nothing kept: new certificates
    anchor, anchor_key = identity.make_anchor(30)
    given = Identity(TrustAnchor(certificate=object(), key=object()))  # references, read into `given` by secrets.py
    issued = identity.current(given, {"anchor": anchor, "anchorKey": anchor_key}, None)
    assert issued.anchors == (anchor,) and identity.signed_by(issued.issuer_certificate, anchor)
    assert identity.current(given, {"anchor": anchor, "anchorKey": anchor_key}, issued) == issued
    cert_manager = identity.current(
        Identity(TrustAnchor(certificate=object()), Issuer(cert_manager=True)), {"anchor": anchor}, None
    )
    assert cert_manager.anchors == (anchor,) and cert_manager.issuer_key is None and not cert_manager.made


# --- policy ------------------------------------------------------------------------------------------------------


def test_no_istio_object_is_declared_for_a_linkerd_environment():
    kinds = {r.type for r in resources(ENV)}
    assert not [k for k in kinds if "istio.io" in k]
    assert not [r for r in of_type(ENV, "helm.sh/v3:Release") if r.inputs["name"] in ("istiod", "kiali", "jaeger")]


def test_team_namespaces_are_meshed_and_deny_what_no_policy_allows():
    for team in ("payments", "storefront"):
        namespace = named(ENV, "core/v1:Namespace", f"{team}-ns").inputs["metadata"]
        assert namespace["annotations"]["linkerd.io/inject"] == "enabled"
        assert namespace["annotations"]["config.linkerd.io/default-inbound-policy"] == "deny"
        assert namespace["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_allow_from_and_the_route_become_a_server_its_callers_and_their_authorization():
    server = custom("policy.linkerd.io/v1beta3:Server", "payments", "checkout")["spec"]
    assert server == {"podSelector": {"matchLabels": {"app": "checkout"}}, "port": 8080, "proxyProtocol": "HTTP/1"}
    callers = custom("policy.linkerd.io/v1alpha1:MeshTLSAuthentication", "payments", "checkout-callers")["spec"]
    assert callers["identities"] == [
        "*.envoy-gateway-system.serviceaccount.identity.linkerd.cluster.local",  # the ingress, as the route needs
        "orders.payments.serviceaccount.identity.linkerd.cluster.local",
        "web.storefront.serviceaccount.identity.linkerd.cluster.local",
    ]
    policy = custom("policy.linkerd.io/v1alpha1:AuthorizationPolicy", "payments", "allow-checkout")["spec"]
    assert policy["targetRef"] == {"group": "policy.linkerd.io", "kind": "Server", "name": "checkout"}
    assert policy["requiredAuthenticationRefs"][0]["name"] == "checkout-callers"
    # orders has neither callers nor a route: its Server alone, and the namespace's deny refuses every request
    custom("policy.linkerd.io/v1beta3:Server", "payments", "orders")
    assert not [r for r in of_type(ENV, "MeshTLSAuthentication") if r.inputs["metadata"]["name"] == "orders-callers"]


def test_canary_timeout_retries_and_circuit_breaker_in_linkerds_terms():
    route = custom("gateway.networking.k8s.io/v1:HTTPRoute", "payments", "checkout")
    rule = route["spec"]["rules"][0]
    assert route["spec"]["parentRefs"] == [{"group": "", "kind": "Service", "name": "checkout", "port": 8080}]
    assert rule["backendRefs"] == [
        {"name": "checkout-stable", "port": 8080, "weight": 90},
        {"name": "checkout-canary", "port": 8080, "weight": 10},
    ]
    assert rule["timeouts"] == {"request": "5s"}
    annotations = route["metadata"]["annotations"]
    assert (annotations["retry.linkerd.io/limit"], annotations["retry.linkerd.io/timeout"]) == ("3", "2s")
    service = custom("core/v1:Service", "payments", "checkout")["metadata"]["annotations"]
    assert service["balancer.linkerd.io/failure-accrual"] == "consecutive"
    assert service["balancer.linkerd.io/failure-accrual-consecutive-max-failures"] == "5"
    canary = custom("core/v1:Service", "payments", "checkout-canary")["spec"]
    assert canary["selector"] == {"app": "checkout", "version": "canary"}


def test_routes_attach_to_the_shared_envoy_gateway_whose_proxies_are_meshed():
    gateway = custom("gateway.networking.k8s.io/v1:Gateway", "envoy-gateway-system", "paas-gateway")["spec"]
    assert gateway["gatewayClassName"] == "meshinstall"
    assert [(x["hostname"], x["port"]) for x in gateway["listeners"]] == [("*.apps.example.com", 80)]
    ingress = custom("gateway.networking.k8s.io/v1:HTTPRoute", "storefront", "web-ingress")["spec"]
    assert ingress["parentRefs"] == [{"name": "paas-gateway", "namespace": "envoy-gateway-system"}]
    assert ingress["hostnames"] == ["shop.apps.example.com"]
    proxy = custom("gateway.envoyproxy.io/v1alpha1:EnvoyProxy", "envoy-gateway-system", "meshinstall")["spec"]
    assert proxy["provider"]["kubernetes"]["envoyDeployment"]["pod"]["annotations"] == {"linkerd.io/inject": "enabled"}


@pytest.mark.parametrize(("mesh", "metric"), [("istio", "istio_requests_total"), ("linkerd", "response_total")])
def test_alerts_read_the_proxies_metrics_of_their_mesh(mesh, metric):
    rules = alert_rules_spec(AppTarget("payments", "payments", "checkout", mesh), AlertThresholds(5, 1000))
    expressions = " ".join(r["expr"] for r in rules["groups"][0]["rules"])
    assert metric in expressions
    if mesh == "linkerd":
        assert 'deployment=~"checkout|checkout-canary",direction="inbound"' in expressions
        assert 'classification="failure"' in expressions and "response_latency_ms_bucket" in expressions


def test_the_spec_of_the_example_is_restricted_and_brings_the_cni_plugin():
    spec = spec_of(ENV)
    assert spec.cni_enabled and spec.paas.pod_security == "restricted"
    assert not spec.monitoring.kiali.enabled and not spec.monitoring.tracing.enabled


def test_with_tls_the_routes_are_https_and_http_redirects(tmp_path):
    from conftest import ROOT
    from program_runs import registered

    spec = tmp_path / "environments" / "linkerd.yaml"
    spec.parent.mkdir()
    text = (ROOT / "environments" / "linkerd.yaml").read_text()
    spec.write_text(
        text.replace(
            'gateway: {hosts: ["*.apps.example.com"]}',
            'gateway: {hosts: ["*.apps.example.com"], tls: {secretName: apps-tls}}',
        )
    )
    found = registered(spec, "linkerd-tls")
    routes = {r.inputs["metadata"]["name"]: r.inputs["spec"] for r in found if r.type.endswith(":HTTPRoute")}
    assert routes["paas-gateway-https-redirect"] == {
        "parentRefs": [{"name": "paas-gateway", "port": 80}],
        "rules": [
            {"filters": [{"type": "RequestRedirect", "requestRedirect": {"scheme": "https", "statusCode": 301}}]}
        ],
    }
    assert routes["web-ingress"]["parentRefs"] == [
        {"name": "paas-gateway", "namespace": "envoy-gateway-system", "port": 443}
    ]
    gateway = next(r.inputs["spec"] for r in found if r.type.endswith(":Gateway"))
    https = [x for x in gateway["listeners"] if x["protocol"] == "HTTPS"]
    assert [x["tls"]["certificateRefs"] for x in https] == [[{"kind": "Secret", "name": "apps-tls"}]]


def test_an_anchor_given_by_reference_signs_the_issuer_meshinstall_makes(tmp_path):
    from conftest import ROOT

    from meshinstall.schemas.validate import load_spec
    from meshinstall.stacks.state import secrets

    anchor, key = identity.make_anchor(365)
    (tmp_path / "anchor.crt").write_text(anchor)
    (tmp_path / "anchor.key").write_text(key)
    text = (ROOT / "environments" / "linkerd.yaml").read_text()
    text = text.replace(
        "    trustAnchor: {validityDays: 3650}",
        "    trustAnchor: {certificate: {fromFile: anchor.crt}, key: {fromEnv: ANCHOR_KEY}}",
    ).replace("    issuer: {validityDays: 365}", "    issuer: {validityDays: 30}")
    (tmp_path / "linkerd.yaml").write_text(text)
    spec = load_spec(tmp_path / "linkerd.yaml")
    resolved = secrets.resolve(spec, {"GRAFANA_ADMIN_PASSWORD": "pw", "CHECKOUT_DB_PASSWORD": "pw", "ANCHOR_KEY": key})
    assert resolved.identity_given == {"anchor": anchor.strip(), "anchorKey": key}
    made = identity.current(spec.mesh.identity, resolved.identity_given, None)
    assert made.anchors == (anchor.strip(),) and identity.signed_by(made.issuer_certificate, made.bundle)
    assert 28 <= identity.days_left(made.issuer_certificate) <= 30
    with pytest.raises(
        UsageError, match=r"\$.mesh.identity.trustAnchor.key: environment variable ANCHOR_KEY is not set"
    ):
        secrets.resolve(spec, {"GRAFANA_ADMIN_PASSWORD": "pw", "CHECKOUT_DB_PASSWORD": "pw"})


def test_a_reference_that_holds_no_pem_is_a_clear_error_naming_its_path():
    given = Identity(TrustAnchor(certificate=SecretRef(from_file="bad.crt"), key=SecretRef(from_file="anchor.key")))
    _, key = identity.make_anchor(30)
    with pytest.raises(UsageError) as refused:
        identity.current(given, {"anchor": "not a certificate", "anchorKey": key}, None)
    assert str(refused.value).startswith(
        "$.mesh.identity.trustAnchor.certificate (file:bad.crt) is not a PEM certificate"
    )
    rsa = "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----"
    anchor, _ = identity.make_anchor(30)
    with pytest.raises(
        UsageError, match=r"\$.mesh.identity.trustAnchor.key \(file:anchor.key\) is not a PEM private key"
    ):
        identity.current(given, {"anchor": anchor, "anchorKey": rsa}, None)

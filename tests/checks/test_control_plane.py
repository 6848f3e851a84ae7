"""The control-plane checks (MI101, MI102), each run offline on recorded answers of a cluster with real nodes."""

from __future__ import annotations

from recorded import REAL_NODES, cluster, recorded, run_check, spec_path

DEPLOYMENTS = "deployment/istio-system/istiod, deployment/istio-ingress/istio-ingressgateway"
WEBHOOK = "mutatingwebhookconfiguration/istio-sidecar-injector"


def test_mi101_passes_when_istiod_and_the_gateway_are_available(isolated):
    ctx = cluster(recorded(REAL_NODES, "MI101/passed"), spec_path(isolated, "staging"))
    assert run_check("MI101", ctx) == ("passed", DEPLOYMENTS, "")


def test_mi101_fails_when_istiod_is_scaled_to_zero(isolated):
    ctx = cluster(recorded(REAL_NODES, "MI101/failed"), spec_path(isolated, "staging"))
    assert run_check("MI101", ctx) == ("failed", DEPLOYMENTS, "istio-system/istiod: 0/1 available")


def test_mi102_passes_when_the_webhook_is_served_and_selects_the_team_namespaces(isolated):
    ctx = cluster(recorded(REAL_NODES, "MI102/passed"), spec_path(isolated, "staging"))
    assert run_check("MI102", ctx) == ("passed", f"{WEBHOOK} -> service/istio-system/istiod", "")


def test_mi102_fails_when_a_team_namespace_lost_its_injection_label(isolated):
    ctx = cluster(recorded(REAL_NODES, "MI102/failed"), spec_path(isolated, "staging"))
    assert run_check("MI102", ctx) == ("failed", WEBHOOK, "does not select namespaces storefront")

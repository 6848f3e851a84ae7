"""The sidecar and policy checks (MI201-MI204), each run offline on recorded answers: a passing and a failing case on
a cluster with real nodes, and, for those that need running containers, the skip on a cluster where none run."""

from __future__ import annotations

from pathlib import Path

import pytest
import testinfra
from recorded import KWOK_NODES, REAL_NODES, Host, Ran, cluster, recorded, refused, run_check, spec_path

LABELS = "namespace labels istio-injection=enabled"
SIDECARS = "pods of every app: container istio-proxy"
PROXIES = "istio-proxy /healthz/ready of one pod per app"


def staging(isolated: Path, *fixtures: str):
    return cluster(recorded(REAL_NODES, *fixtures), spec_path(isolated, "staging"))


def test_mi201_passes_when_every_team_namespace_is_labelled(isolated):
    assert run_check("MI201", staging(isolated, "MI201/passed")) == ("passed", LABELS, "2 namespace(s)")


def test_mi201_fails_on_a_namespace_without_the_label(isolated):
    assert run_check("MI201", staging(isolated, "MI201/failed")) == ("failed", LABELS, "not on: storefront")


PEER_AUTHENTICATION = "peerauthentication/istio-system/default .spec.mtls.mode"


def test_mi202_passes_on_the_spec_s_mtls_mode(isolated):
    assert run_check("MI202", staging(isolated, "MI202/passed")) == ("passed", PEER_AUTHENTICATION, "STRICT")


def test_mi202_fails_on_permissive_mtls(isolated):
    assert run_check("MI202", staging(isolated, "MI202/failed")) == (
        "failed",
        PEER_AUTHENTICATION,
        "is PERMISSIVE, the spec says STRICT",
    )


def test_mi203_passes_when_every_app_pod_runs_the_sidecar(isolated):
    assert run_check("MI203", staging(isolated, "MI203/passed")) == ("passed", SIDECARS, "")


def test_mi203_fails_on_a_pod_without_the_sidecar(isolated):
    assert run_check("MI203", staging(isolated, "MI203/failed")) == (
        "failed",
        SIDECARS,
        "no sidecar in payments/orders-5b8c7f9d6b-t9v3n",
    )


@pytest.mark.parametrize(
    "check_id, target, why",
    [
        ("MI203", SIDECARS, "no sidecar is injected there"),
        ("MI204", PROXIES, "no proxy runs to ask"),
    ],
)
def test_sidecar_checks_are_skipped_where_no_container_runs(isolated, check_id, target, why):
    skipped = ("skipped", target, f"simulated cluster has no containers: {why}")
    assert run_check(check_id, cluster(refused(), spec_path(isolated, "dev"))) == skipped
    # an existing cluster whose nodes are all KWOK's (a simulated cluster someone else started)
    assert run_check(check_id, cluster(recorded(KWOK_NODES, "MI203/passed"), spec_path(isolated, "staging"))) == skipped


def proxies(monkeypatch, not_ready: set[str]) -> list[str]:
    """Each pod's proxy answers its readiness probe unless the pod is in `not_ready`; the pods asked are returned."""
    asked: list[str] = []

    def pod_host(spec: str) -> Host:
        pod = spec.removeprefix("kubectl://").split("?", 1)[0]
        asked.append(pod)
        return Host(
            lambda command: Ran(pod not in not_ready and command == "curl -sf http://127.0.0.1:15021/healthz/ready")
        )

    monkeypatch.setattr(testinfra, "get_host", pod_host)
    return asked


def test_mi204_passes_when_one_proxy_per_app_is_ready(isolated, monkeypatch):
    asked = proxies(monkeypatch, not_ready=set())
    assert run_check("MI204", staging(isolated, "MI204/passed")) == ("passed", PROXIES, "")
    assert asked == [
        "checkout-7d9f8b6c4d-x2x9q",
        "orders-5b8c7f9d6b-4kq7m",
        "web-84c9d7f6b5-h2k8s",
        "catalog-6f7b8c9d5-w3z6d",
    ]


def test_mi204_fails_on_a_proxy_that_is_not_ready(isolated, monkeypatch):
    proxies(monkeypatch, not_ready={"web-84c9d7f6b5-h2k8s"})
    assert run_check("MI204", staging(isolated, "MI204/passed")) == ("failed", PROXIES, "not ready: storefront/web")

"""The CRDs meshinstall installs (Gateway API), what `destroy` says it leaves, and what `--delete-crds` may remove."""

from __future__ import annotations

import urllib.request

import pytest
from conftest import ROOT

from meshinstall.errors import UsageError
from meshinstall.schemas.validate import load_spec
from meshinstall.stacks.cluster import crds
from meshinstall.stacks.cluster.target import ClusterTarget
from meshinstall.stacks.program import gateway_api


def crd(name: str, labels: dict | None = None, annotations: dict | None = None) -> dict:
    return {"metadata": {"name": name, "labels": labels, "annotations": annotations}}


class FakeApi:
    """The API server's CRDs, as the one Kubernetes client (stacks/cluster/kube.py) lists and deletes them."""

    def __init__(self, items):
        self.items, self.deleted = list(items), []

    def list_metadata(self, api, api_version, plural):
        assert (api, api_version, plural) == (self, "apiextensions.k8s.io/v1", "customresourcedefinitions")
        return list(self.items)

    def delete(self, api, api_version, plural, name):
        self.deleted.append(name)
        self.items = [i for i in self.items if i["metadata"]["name"] != name]


def served(monkeypatch, api: FakeApi) -> FakeApi:
    monkeypatch.setattr(crds, "_api", lambda target: api)
    monkeypatch.setattr(crds.kube, "list_metadata", api.list_metadata)
    monkeypatch.setattr(crds.kube, "delete", api.delete)
    return api


CLUSTER = [
    crd("gateways.gateway.networking.k8s.io", {"app.kubernetes.io/managed-by": "meshinstall"}),
    crd("virtualservices.networking.istio.io", {}, {"meta.helm.sh/release-name": "istio-base"}),
    crd("sidecars.networking.istio.io", {}, {"meta.helm.sh/release-name": "someone-elses-istio"}),
    crd("prometheusrules.monitoring.coreos.com", {}, {"operator.prometheus.io/version": "0.93.1"}),
    crd("certificates.cert-manager.io", {"app.kubernetes.io/managed-by": "Helm"}),
]


def test_destroy_reports_ours_and_unowned_platform_crds_and_ignores_other_groups(monkeypatch):
    served(monkeypatch, FakeApi(CLUSTER))
    left = crds.left_behind(ClusterTarget("prod", "kubeconfig"))
    assert left.ours == ("gateways.gateway.networking.k8s.io", "virtualservices.networking.istio.io")
    assert left.unknown == ("prometheusrules.monitoring.coreos.com", "sidecars.networking.istio.io")


def test_delete_crds_removes_only_what_meshinstall_installed(monkeypatch):
    api = served(monkeypatch, FakeApi(CLUSTER))
    assert crds.delete_ours(ClusterTarget("prod", "kubeconfig")) == (
        "gateways.gateway.networking.k8s.io",
        "virtualservices.networking.istio.io",
    )
    assert sorted(api.deleted) == ["gateways.gateway.networking.k8s.io", "virtualservices.networking.istio.io"]
    assert {i["metadata"]["name"] for i in api.items} == {
        "sidecars.networking.istio.io",
        "prometheusrules.monitoring.coreos.com",
        "certificates.cert-manager.io",
    }


def test_unreadable_gateway_api_crds_are_a_usage_error_naming_the_way_out(monkeypatch):
    def refused(*args, **kwargs):
        raise OSError("connection refused")

    monkeypatch.delenv("MESHINSTALL_CHARTS_MIRROR")
    monkeypatch.setattr(urllib.request, "urlopen", refused)
    spec = load_spec(ROOT / "environments" / "staging.yaml")
    with pytest.raises(UsageError, match="mesh.gatewayApi.install: false"):
        gateway_api.plan(spec, ClusterTarget.of(spec))


def test_a_cluster_that_cannot_be_asked_is_a_named_error_not_a_traceback(tmp_path):
    from meshinstall.errors import ClusterUnreachable

    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n")
    with pytest.raises(ClusterUnreachable, match="cannot list the CRDs of .*kubeconfig \\(context prod-admin\\)"):
        crds.after_destroy(ClusterTarget("prod", str(kubeconfig), "prod-admin"), delete=False)

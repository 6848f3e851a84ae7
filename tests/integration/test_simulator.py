"""The simulated cluster on its own (no engine, no spec): what a user of it would notice.

One simulator is started for the module in a temporary folder and removed in `finally`: no CRDs are preloaded,
LoadBalancer Services get a loopback address, a failing webhook does not block pods (its configuration is still
stored), Deployments become available and Jobs complete.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config, watch

from meshinstall.simulator import LocalClusterConfig, LocalControlPlane
from meshinstall.stacks.engine import toolchain

pytestmark = pytest.mark.integration

NAMESPACE = "sim-test"


class Cluster:
    """A running simulator and typed API clients for it."""

    def __init__(self, plane: LocalControlPlane) -> None:
        self.plane = plane
        api = config.new_client_from_config(config_file=str(plane.kubeconfig_path))
        self.core = client.CoreV1Api(api)
        self.apps = client.AppsV1Api(api)
        self.batch = client.BatchV1Api(api)
        self.admission = client.AdmissionregistrationV1Api(api)
        self.extensions = client.ApiextensionsV1Api(api)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    for binary in ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"):
        assert toolchain.find(binary), f"the simulator needs {binary} (toolchain/install.sh)"
    folder: Path = tmp_path_factory.mktemp("simulator")
    config = LocalClusterConfig(state_dir=str(folder / "cluster"), nodes=2, search_path=toolchain.search_path())
    plane = LocalControlPlane(config)
    try:
        plane.start()
        sim = Cluster(plane)
        sim.core.create_namespace({"metadata": {"name": NAMESPACE}})
        yield sim
    finally:
        plane.remove()


def wait_for(what: str, value: Callable[[], Any], seconds: int = 60) -> Any:
    """`value()` once it is truthy; fails naming `what` after `seconds`."""
    deadline = time.time() + seconds
    while True:
        found = value()
        if found:
            return found
        assert time.time() < deadline, f"timed out after {seconds}s waiting for {what}"
        time.sleep(0.5)


def service(name: str, service_type: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {
            "type": service_type,
            "selector": {"app": name},
            "ports": [{"name": "http", "port": 80, "targetPort": 8080}],
        },
    }


def pod_spec(app: str, restart: str = "Always") -> dict[str, Any]:
    return {
        "metadata": {"labels": {"app": app}},
        "spec": {"restartPolicy": restart, "containers": [{"name": app, "image": "registry.invalid/app:1"}]},
    }


def lb_ip(cluster: Cluster, name: str) -> str | None:
    ingress = cluster.core.read_namespaced_service_status(name, NAMESPACE).status.load_balancer.ingress
    return ingress[0].ip if ingress else None


def test_no_istio_or_prometheus_crds_are_preloaded(cluster):
    names = [crd.metadata.name for crd in cluster.extensions.list_custom_resource_definition().items]
    preloaded = [n for n in names if n.endswith(("istio.io", "monitoring.coreos.com", "gateway.networking.k8s.io"))]
    assert not preloaded, f"the charts install these, and Helm would refuse to adopt them: {preloaded}"


def test_load_balancer_services_get_distinct_loopback_addresses(cluster):
    for name in ("lb-one", "lb-two"):
        cluster.core.create_namespaced_service(NAMESPACE, service(name, "LoadBalancer"))
    first = wait_for("an address for lb-one", lambda: lb_ip(cluster, "lb-one"))
    second = wait_for("an address for lb-two", lambda: lb_ip(cluster, "lb-two"))
    assert first.startswith("127.") and second.startswith("127.") and first != second
    cluster_ip = cluster.core.read_namespaced_service("lb-one", NAMESPACE).spec.cluster_ip
    assert first.split(".")[2:] == cluster_ip.split(".")[2:], "the address follows the cluster IP, so it stays stable"


def test_a_service_that_stops_being_a_load_balancer_gives_its_address_back(cluster):
    cluster.core.create_namespaced_service(NAMESPACE, service("lb-then-cluster-ip", "LoadBalancer"))
    wait_for("an address", lambda: lb_ip(cluster, "lb-then-cluster-ip"))
    cluster.core.patch_namespaced_service("lb-then-cluster-ip", NAMESPACE, {"spec": {"type": "ClusterIP"}})
    wait_for("the address to be released", lambda: lb_ip(cluster, "lb-then-cluster-ip") is None)


def test_cluster_ip_services_get_no_address(cluster):
    cluster.core.create_namespaced_service(NAMESPACE, service("plain", "ClusterIP"))
    cluster.core.create_namespaced_service(NAMESPACE, service("lb-after-plain", "LoadBalancer"))
    wait_for("the LoadBalancer's address", lambda: lb_ip(cluster, "lb-after-plain"))  # kwok has seen both by now
    assert lb_ip(cluster, "plain") is None


def test_a_failing_webhook_without_a_server_does_not_block_pods(cluster):
    cluster.core.create_namespaced_service(NAMESPACE, service("injector", "ClusterIP"))  # selects no pod: no endpoints
    webhook = {
        "metadata": {"name": "sim-test-injector"},
        "webhooks": [
            {
                "name": "inject.sim-test.example.com",
                "clientConfig": {
                    "service": {"name": "injector", "namespace": NAMESPACE, "path": "/inject", "port": 80}
                },
                "rules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["pods"]}],
                "failurePolicy": "Fail",
                "sideEffects": "None",
                "admissionReviewVersions": ["v1"],
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": NAMESPACE}},
            }
        ],
    }
    cluster.admission.create_mutating_webhook_configuration(webhook)
    stored = cluster.admission.read_mutating_webhook_configuration("sim-test-injector")
    assert stored.webhooks[0].failure_policy == "Fail"
    pod = pod_spec("behind-webhook")
    cluster.core.create_namespaced_pod(NAMESPACE, {**pod, "metadata": {**pod["metadata"], "name": "behind-webhook"}})
    assert cluster.core.read_namespaced_pod("behind-webhook", NAMESPACE).metadata.name == "behind-webhook"


def test_a_deployments_pods_become_ready(cluster):
    deployment = {
        "metadata": {"name": "web"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}, "template": pod_spec("web")},
    }
    cluster.apps.create_namespaced_deployment(NAMESPACE, deployment)

    def available() -> bool:
        return cluster.apps.read_namespaced_deployment_status("web", NAMESPACE).status.available_replicas == 2

    wait_for("2 available replicas", available)
    pods = cluster.core.list_namespaced_pod(NAMESPACE, label_selector="app=web").items
    assert len(pods) == 2
    assert all(p.status.phase == "Running" and p.spec.node_name.startswith("kwok-node-") for p in pods)
    assert all(next(c.status for c in p.status.conditions if c.type == "Ready") == "True" for p in pods)


def test_the_api_server_runs_on_etcd_3_6(cluster):
    """With etcd 3.4 the API server turns RequestWatchProgress off, KWOK's watches end every ~37 s and it only
    sees new pods when it lists again: a scheduled pod stayed Pending for ~36 s (issue 8)."""
    etcd = json.loads((cluster.plane.root / "ports.json").read_text())["etcd_client"]
    with urllib.request.urlopen(f"http://127.0.0.1:{etcd}/version", timeout=5) as answer:
        version = json.load(answer)["etcdserver"]
    assert tuple(map(int, version.split(".")[:2])) >= (3, 6), f"the simulator's etcd is {version}"


def test_pods_run_as_soon_as_they_are_scheduled_and_go_as_soon_as_they_are_deleted(cluster):
    """Times as the cluster records them: the pod's Ready condition in the same or the next second as its
    PodScheduled condition; and KWOK's log shows no watch ended for want of RequestWatchProgress."""
    deployment = {
        "metadata": {"name": "quick"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "quick"}}, "template": pod_spec("quick")},
    }
    cluster.apps.create_namespaced_deployment(NAMESPACE, deployment)
    wait_for(
        "3 available replicas",
        lambda: cluster.apps.read_namespaced_deployment_status("quick", NAMESPACE).status.available_replicas == 3,
    )
    pods = cluster.core.list_namespaced_pod(NAMESPACE, label_selector="app=quick").items
    for pod in pods:
        when = {c.type: c.last_transition_time for c in pod.status.conditions}
        assert (when["Ready"] - when["PodScheduled"]).total_seconds() <= 1, (
            f"{pod.metadata.name}: scheduled {when['PodScheduled']}, ready {when['Ready']}"
        )
    # watch from before the delete: a pod gone before a watch started would show no DELETED event at all
    since = cluster.core.list_namespaced_pod(
        NAMESPACE, field_selector=f"metadata.name={pods[0].metadata.name}"
    ).metadata.resource_version
    cluster.core.delete_namespaced_pod(pods[0].metadata.name, NAMESPACE)
    stream = watch.Watch().stream(
        cluster.core.list_namespaced_pod,
        NAMESPACE,
        field_selector=f"metadata.name={pods[0].metadata.name}",
        resource_version=since,
        timeout_seconds=30,
    )
    assert any(event["type"] == "DELETED" for event in stream), "the deleted pod is gone"
    log = (cluster.plane.logs / "kwok.log").read_text()
    assert "RequestWatchProgress is disabled" not in log


def test_a_jobs_pod_completes(cluster):
    job = {"metadata": {"name": "once"}, "spec": {"backoffLimit": 0, "template": pod_spec("once", restart="Never")}}
    cluster.batch.create_namespaced_job(NAMESPACE, job)

    def succeeded() -> bool:
        return cluster.batch.read_namespaced_job_status("once", NAMESPACE).status.succeeded == 1

    wait_for("the Job to succeed", succeeded)
    pods = cluster.core.list_namespaced_pod(NAMESPACE, label_selector="app=once").items
    assert [p.status.phase for p in pods] == ["Succeeded"]


def test_a_stopped_simulator_restarts_on_its_data(cluster):
    """What the next `up` does after a reboot or a crash: the same processes come back, and so does what was stored."""
    cluster.core.create_namespaced_config_map(NAMESPACE, {"metadata": {"name": "kept"}, "data": {"a": "1"}})
    cluster.core.create_namespaced_service(NAMESPACE, service("lb-kept", "LoadBalancer"))
    address = wait_for("an address", lambda: lb_ip(cluster, "lb-kept"))
    cluster.plane.stop()
    assert not cluster.plane.running()
    assert cluster.plane.ensure(), "a stopped simulator restarts"
    assert cluster.plane.running() and cluster.plane.current()
    assert cluster.core.read_namespaced_config_map("kept", NAMESPACE).data == {"a": "1"}
    assert lb_ip(cluster, "lb-kept") == address
    assert not cluster.plane.ensure(), "a running one is left alone"

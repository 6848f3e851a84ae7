"""`cluster.provider: existing`, the path real users take: two clusters that meshinstall did not start, one kubeconfig
with a context for each, and `cluster.context` choosing one. `up`, `verify`, drift repair and `destroy` work there;
the other cluster, and whatever meshinstall did not create, are never touched. Then the same environment is run by a
ServiceAccount holding exactly the rules `meshinstall rbac` prints, and by one missing a rule."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, SECRETS
from kubernetes import client, config

from meshinstall.schemas.validate import load_spec
from meshinstall.simulator import LocalClusterConfig, LocalControlPlane
from meshinstall.stacks.engine import toolchain
from meshinstall.stacks.program import gateway_api
from meshinstall.stacks.program.releases import gateway_api_source

pytestmark = pytest.mark.integration


class Cluster:
    """A cluster someone else runs: its admin kubeconfig and API clients."""

    def __init__(self, folder: Path, name: str) -> None:
        self.name = name
        self.plane = LocalControlPlane(
            LocalClusterConfig(state_dir=str(folder / name), nodes=3, search_path=toolchain.search_path())
        )
        self.plane.start()
        self.admin = yaml.safe_load(self.plane.config.kubeconfig_path.read_text())
        api = config.new_client_from_config(str(self.plane.config.kubeconfig_path))
        self.core, self.apps, self.rbac = (
            client.CoreV1Api(api),
            client.AppsV1Api(api),
            client.RbacAuthorizationV1Api(api),
        )
        self.extensions, self.storage = client.ApiextensionsV1Api(api), client.StorageV1Api(api)

    def inventory(self) -> dict[str, list[str]]:
        """What a careful operator would compare before and after: namespaces, CRDs, cluster roles, and every
        ConfigMap and Deployment."""
        return {
            "namespaces": sorted(n.metadata.name for n in self.core.list_namespace().items),
            "crds": sorted(c.metadata.name for c in self.extensions.list_custom_resource_definition().items),
            "clusterroles": sorted(r.metadata.name for r in self.rbac.list_cluster_role().items),
            "configmaps": sorted(
                f"{c.metadata.namespace}/{c.metadata.name}"
                for c in self.core.list_config_map_for_all_namespaces().items
            ),
            "deployments": sorted(
                f"{d.metadata.namespace}/{d.metadata.name}"
                for d in self.apps.list_deployment_for_all_namespaces().items
            ),
        }


@pytest.fixture(scope="module")
def clusters(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cluster, Cluster]]:
    folder = tmp_path_factory.mktemp("their-clusters")
    started: list[Cluster] = []
    try:
        for name in ("alpha", "beta"):
            started.append(Cluster(folder, name))
        yield started[0], started[1]
    finally:
        for cluster in started:
            cluster.plane.remove()


def kubeconfig(entries: dict[str, tuple[dict, dict]], current: str) -> dict:
    """A kubeconfig with one context per entry: name -> (cluster, user) as in an admin kubeconfig."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": current,
        "clusters": [{"name": name, "cluster": cluster} for name, (cluster, _) in entries.items()],
        "users": [{"name": name, "user": user} for name, (_, user) in entries.items()],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}} for name in entries],
    }


def admin_of(cluster: Cluster) -> tuple[dict, dict]:
    return cluster.admin["clusters"][0]["cluster"], cluster.admin["users"][0]["user"]


class Checkout:
    """The platform repository, with dev.yaml on the `beta` context of a kubeconfig kept beside it (a relative path)."""

    def __init__(self, folder: Path, kube: dict, context: str = "beta") -> None:
        self.folder = folder
        shutil.copytree(ROOT / "environments", folder / "environments", ignore=shutil.ignore_patterns(".meshinstall"))
        (folder / "kube").mkdir()
        (folder / "kube" / "config").write_text(yaml.safe_dump(kube))
        self.spec = folder / "environments" / "dev.yaml"
        data = yaml.safe_load(self.spec.read_text())
        data["cluster"] = {"provider": "existing", "kubeconfig": "../kube/config", "context": context}
        self.spec.write_text(yaml.safe_dump(data, sort_keys=False))
        self.env = (
            {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
            | SECRETS
            | {"MESHINSTALL_PASSPHRASE": "existing-test"}
        )

    def run(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["meshinstall", *args], cwd=self.folder, env=self.env, capture_output=True, text=True, timeout=900
        )

    def must(self, *args: str) -> subprocess.CompletedProcess:
        done = self.run(*args)
        assert done.returncode == 0, (
            f"meshinstall {' '.join(args)}: {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )
        return done


def test_up_verify_drift_and_destroy_on_the_chosen_context_leave_the_other_cluster_and_foreign_objects_alone(
    clusters, tmp_path
):
    alpha, beta = clusters
    beta.core.create_namespace({"metadata": {"name": "their-stuff"}})
    beta.core.create_namespaced_config_map("their-stuff", {"metadata": {"name": "keep-me"}, "data": {"a": "b"}})
    alpha_before, beta_before = alpha.inventory(), beta.inventory()
    checkout = Checkout(tmp_path, kubeconfig({"alpha": admin_of(alpha), "beta": admin_of(beta)}, current="alpha"))

    checkout.must("up", "dev", "--yes")
    assert beta.apps.read_namespaced_deployment("istiod", "istio-system").status.available_replicas == 1
    assert alpha.inventory() == alpha_before, "the other context's cluster is never touched"
    checkout.must("verify", "dev")
    # drift: someone scales an app by hand; `up` puts the spec's value back
    beta.apps.patch_namespaced_deployment_scale("orders", "payments", {"spec": {"replicas": 5}})
    repaired = checkout.must("up", "dev", "--yes")
    assert "touched in the cluster since the last update, first Deployment payments/orders" in repaired.stdout, (
        repaired.stdout
    )
    assert beta.apps.read_namespaced_deployment("orders", "payments").spec.replicas == 2, "the engine put it back"

    checkout.must("destroy", "dev", "--yes")
    after = beta.inventory()
    assert beta.core.read_namespaced_config_map("keep-me", "their-stuff").data == {"a": "b"}
    for kind in ("namespaces", "configmaps", "deployments", "clusterroles"):
        assert set(beta_before[kind]) <= set(after[kind]), (
            f"destroy removed {kind} it did not create: {set(beta_before[kind]) - set(after[kind])}"
        )
    assert not [n for n in after["namespaces"] if n not in beta_before["namespaces"]], (
        "every namespace meshinstall created is gone"
    )
    assert beta.core.list_namespace().items and beta.plane.running(), "the cluster itself stays"
    assert alpha.inventory() == alpha_before


def installer(cluster: Cluster, rules: list[dict], name: str) -> tuple[dict, dict]:
    """A ServiceAccount bound to a ClusterRole of exactly `rules`: its cluster entry and token user."""
    namespace = "platform-ops"
    if namespace not in {n.metadata.name for n in cluster.core.list_namespace().items}:
        cluster.core.create_namespace({"metadata": {"name": namespace}})
    cluster.core.create_namespaced_service_account(namespace, {"metadata": {"name": name}})
    cluster.rbac.create_cluster_role({"metadata": {"name": name}, "rules": rules})
    cluster.rbac.create_cluster_role_binding(
        {
            "metadata": {"name": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}],
        }
    )
    token = cluster.core.create_namespaced_service_account_token(
        name, namespace, {"spec": {"expirationSeconds": 7200}}
    ).status.token
    return admin_of(cluster)[0], {"token": token}


def printed_rules(checkout: Checkout, change: Callable[[list[dict]], None] = lambda rules: None) -> list[dict]:
    role = yaml.safe_load(checkout.must("rbac", "dev").stdout)
    change(role["rules"])
    return role["rules"]


def test_a_service_account_with_exactly_the_printed_rules_runs_up_verify_and_destroy(clusters, tmp_path):
    _, beta = clusters
    admin = Checkout(tmp_path / "admin", kubeconfig({"beta": admin_of(beta)}, current="beta"))
    checkout = Checkout(
        tmp_path / "ops",
        kubeconfig({"beta": installer(beta, printed_rules(admin), "meshinstall-installer")}, current="beta"),
    )
    doctor = checkout.must("doctor", "dev")
    assert "√ MI006" in doctor.stdout
    checkout.must("up", "dev", "--yes")
    checkout.must("verify", "dev")
    checkout.must("preview", "dev")
    checkout.must("destroy", "dev", "--yes")
    assert "istio-system" not in {n.metadata.name for n in beta.core.list_namespace().items}
    token = yaml.safe_load((checkout.folder / "kube" / "config").read_text())["users"][0]["user"]["token"]
    home = Path.home()
    caches = (
        home / "go",
        home / ".cache" / "meshinstall" / "toolchain",
        home / ".cache" / "pip",
        home / ".cache" / "go-build",
    )
    assert not holding(token, Path(tempfile.gettempdir()), (tmp_path,)), "issue 28: no kubeconfig copy left in /tmp"
    assert not holding(token, home, (tmp_path, *caches)), "nor in the home folder"


def holding(text: str, folder: Path, skip: tuple[Path, ...]) -> list[Path]:
    """The files under `folder` that hold `text`, but under `skip` (the checkouts' own folders, build caches)."""
    found, needle = [], text.encode()
    for top, folders, files in os.walk(folder):
        folders[:] = [f for f in folders if Path(top, f) not in skip]
        for name in files:
            path = Path(top, name)
            try:
                info = path.lstat()
                # regular files only: opening a FIFO would wait for a writer
                if stat.S_ISREG(info.st_mode) and info.st_size <= 10 << 20 and needle in path.read_bytes():
                    found.append(path)
            except OSError:
                continue
    return found


def test_a_missing_rule_is_named_by_doctor_and_up_applies_nothing(clusters, tmp_path):
    _, beta = clusters

    def without_crd_delete(rules: list[dict]) -> None:
        crds = next(r for r in rules if r["resources"] == ["customresourcedefinitions"])
        crds["verbs"].remove("delete")

    admin = Checkout(tmp_path / "admin", kubeconfig({"beta": admin_of(beta)}, current="beta"))
    checkout = Checkout(
        tmp_path / "ops",
        kubeconfig({"beta": installer(beta, printed_rules(admin, without_crd_delete), "short-of-one")}, current="beta"),
    )
    before = beta.inventory()
    doctor = checkout.run("doctor", "dev")
    assert doctor.returncode == 4, doctor.stdout
    assert (
        "× MI006" in doctor.stdout
        and "not allowed (1 of " in doctor.stdout
        and "delete customresourcedefinitions.apiextensions.k8s.io" in doctor.stdout
    ), doctor.stdout
    up = checkout.run("up", "dev", "--yes")
    assert up.returncode == 4 and "MI006" in up.stdout + up.stderr, up.stdout + up.stderr
    assert beta.inventory() == before, "nothing applied"


def test_someone_elses_gateway_api_crds_and_namespace_are_left_theirs_and_a_missing_default_storage_class_is_named(
    clusters, tmp_path
):
    alpha, _ = clusters
    spec = load_spec(ROOT / "environments" / "dev.yaml")
    for crd in gateway_api.GatewayApiPlan(gateway_api.release_text(gateway_api_source(spec))).crds:
        crd["metadata"].setdefault("labels", {})["app.kubernetes.io/managed-by"] = "platform-kustomize"
        alpha.extensions.create_custom_resource_definition(crd)
    theirs = gateway_crds(alpha)
    alpha.core.create_namespace({"metadata": {"name": "payments", "labels": {"cost-center": "billing"}}})
    alpha.core.create_namespaced_config_map("payments", {"metadata": {"name": "legacy-settings"}, "data": {"k": "v"}})
    checkout = Checkout(tmp_path, kubeconfig({"alpha": admin_of(alpha)}, current="alpha"), context="alpha")

    doctor = checkout.run("doctor", "dev")
    assert doctor.returncode == 0, doctor.stdout
    assert (
        "‼ MI013" in doctor.stdout
        and "no default StorageClass (classes: none): Prometheus's 5Gi claim would stay Pending" in doctor.stdout
    ), doctor.stdout
    checkout.must("up", "dev", "--yes")
    assert gateway_crds(alpha) == theirs, "someone else's Gateway API CRDs are left as they were"
    payments = alpha.core.read_namespace("payments").metadata
    assert (
        payments.labels["cost-center"] == "billing" and payments.labels["app.kubernetes.io/managed-by"] == "meshinstall"
    ), payments.labels
    assert payments.annotations["meshinstall.io/adopted"] == "true"

    checkout.must("destroy", "dev", "--yes")
    assert alpha.core.read_namespaced_config_map("legacy-settings", "payments").data == {"k": "v"}, (
        "destroy leaves a namespace it did not create"
    )
    assert "storefront" not in {n.metadata.name for n in alpha.core.list_namespace().items}, (
        "and removes the ones it did"
    )
    assert gateway_crds(alpha) == theirs
    alpha.storage.create_storage_class(
        {
            "metadata": {"name": "standard", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
            "provisioner": "example.com/none",
        }
    )
    assert "√ MI013" in checkout.run("doctor", "dev").stdout


def gateway_crds(cluster: Cluster) -> dict[str, tuple]:
    """Each Gateway API CRD's spec generation, labels and the managers that wrote it (not its status, which the API
    server writes itself)."""
    return {
        c.metadata.name: (
            c.metadata.generation,
            c.metadata.labels,
            sorted({m.manager for m in c.metadata.managed_fields if m.subresource != "status"}),
        )
        for c in cluster.extensions.list_custom_resource_definition().items
        if c.spec.group == "gateway.networking.k8s.io"
    }

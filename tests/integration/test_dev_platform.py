"""`meshinstall up dev` for real: the Pulumi engine against a local simulated cluster, read back from the API server.

One platform is brought up for the module (it takes minutes); the tests run in file order against it, and the
last one destroys it. A `finally` in the fixture destroys it too if a test fails first.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from integration_env import ISTIO, MONITORING, SECURITY, bring_up
from kubernetes import client
from kubernetes.client.rest import ApiException

from meshinstall.cli.main import main
from meshinstall.simulator import LocalClusterConfig, LocalControlPlane
from meshinstall.stacks.cluster import kube
from meshinstall.stacks.cluster.target import ClusterTarget
from meshinstall.stacks.engine import environment, runs, toolchain
from meshinstall.stacks.state import recorded

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory):
    yield from bring_up(tmp_path_factory)


def test_up_creates_the_declared_objects_with_their_labels(platform):
    for team in ("payments", "storefront"):
        labels = platform.core.read_namespace(team).metadata.labels
        assert labels["istio-injection"] == "enabled"
        assert labels["pod-security.kubernetes.io/enforce"] == "baseline"
        quota = platform.core.read_namespaced_resource_quota("team-quota", team)
        assert quota.spec.hard["pods"] == {"payments": "40", "storefront": "30"}[team]
        assert platform.istio(SECURITY, team, "authorizationpolicies", "default-deny")["spec"] == {}
    sa = platform.core.read_namespaced_service_account("checkout", "payments")
    assert sa.automount_service_account_token is False
    assert platform.istio(SECURITY, "istio-system", "peerauthentications", "default")["spec"] == {
        "mtls": {"mode": "STRICT"}
    }


def test_deployments_report_available_replicas(platform):
    expected = {
        ("payments", "checkout"): 2,
        ("payments", "checkout-canary"): 1,
        ("payments", "orders"): 2,
        ("storefront", "web"): 2,
        ("storefront", "catalog"): 1,
        ("istio-system", "istiod"): 1,
        ("istio-ingress", "istio-ingressgateway"): 1,
    }
    for (namespace, name), replicas in expected.items():
        status = platform.apps.read_namespaced_deployment_status(name, namespace).status
        assert status.available_replicas == replicas, f"{namespace}/{name}: {status}"


# kinds compared between the cluster `up` made and the one the rendered manifests were applied to: the workloads
# and the mesh's and monitoring's objects, by their API group/version and plural
COMPARED = (
    ("apps/v1", "deployments"),
    ("apps/v1", "daemonsets"),
    ("v1", "services"),
    ("v1", "serviceaccounts"),
    ("networking.istio.io/v1", "virtualservices"),
    ("networking.istio.io/v1", "destinationrules"),
    ("networking.istio.io/v1", "gateways"),
    ("networking.istio.io/v1", "sidecars"),
    ("security.istio.io/v1", "authorizationpolicies"),
    ("security.istio.io/v1", "peerauthentications"),
    ("monitoring.coreos.com/v1", "prometheusrules"),
    ("monitoring.coreos.com/v1", "servicemonitors"),
    ("monitoring.coreos.com/v1", "podmonitors"),
    ("networking.k8s.io/v1", "networkpolicies"),
    ("v1", "resourcequotas"),
)
SPEC_COMPARED = {"deployments", "daemonsets", "virtualservices", "destinationrules", "authorizationpolicies"}


def _applied(api, api_version: str, plural: str) -> dict[tuple[str, str], dict]:
    """The objects of a kind that `up` or `kubectl apply` put there (not those controllers and Kubernetes make)."""
    found = {}
    for o in kube.items(api, api_version, plural):
        meta = o["metadata"]
        labels, annotations = meta.get("labels") or {}, meta.get("annotations") or {}
        if "helm.sh/hook" in annotations:  # Helm runs a hook and deletes it; `kubectl apply` keeps it
            continue
        made = (
            labels.get("app.kubernetes.io/managed-by") in ("meshinstall", "Helm")
            or "meta.helm.sh/release-name" in annotations
        )
        applied = "kubectl.kubernetes.io/last-applied-configuration" in annotations or any(
            f.get("manager") == "kubectl" for f in meta.get("managedFields") or []
        )
        if made or applied:
            found[(meta.get("namespace", ""), meta["name"])] = o
    return found


def _spec(o: dict) -> dict:
    """An object's spec; Kiali's pod template without the checksum of its ConfigMap, whose login-token signing key
    the chart makes at random each time it renders (`randAlphaNum 32`), for `helm install` as for `helm template`."""
    spec = json.loads(json.dumps(o["spec"]))
    if o["metadata"]["name"] == "kiali":
        spec["template"]["metadata"].get("annotations", {}).pop("checksum/config", None)
    return spec


def test_the_rendered_manifests_applied_to_a_fresh_cluster_make_what_up_made(platform, tmp_path, monkeypatch, capsys):
    """Issue 31, the proof of `render`: its manifests, applied in order with `kubectl apply --server-side` to a
    fresh simulated cluster, make the objects `up` made, with the same workload and mesh specs."""
    monkeypatch.chdir(platform.folder)
    out = tmp_path / "gitops"
    assert main(["render", "dev", "--out", str(out)]) == 0
    capsys.readouterr()
    plane = LocalControlPlane(
        LocalClusterConfig(state_dir=str(tmp_path / "fresh"), nodes=3, search_path=toolchain.search_path())
    )
    try:
        plane.start()
        kubeconfig = str(plane.kubeconfig_path)

        def kubectl(*args: str) -> str:
            done = subprocess.run(
                ["kubectl", "--kubeconfig", kubeconfig, *args], capture_output=True, text=True, timeout=300
            )
            assert done.returncode == 0, done.stderr
            return done.stdout

        for stage in sorted(p for p in out.iterdir() if p.is_dir()):
            kubectl("apply", "--server-side", "--force-conflicts", "-f", str(stage / "manifests.yaml"))
            if stage.name == "00-crds":
                kubectl("wait", "--for", "condition=established", "crd", "--all", "--timeout=120s")
        for secret in yaml.safe_load((out / "secrets-to-create.yaml").read_text())["secrets"]:
            values = [f"--from-literal={key}=rendered" for key in secret["keys"]]
            kubectl("-n", secret["namespace"], "create", "secret", "generic", secret["name"], *values)
        fresh, made = kube.connect(kubeconfig, None), kube.connect(ClusterTarget.of(platform.spec).kubeconfig, None)
        for api_version, plural in COMPARED:
            by_up, by_render = _applied(made, api_version, plural), _applied(fresh, api_version, plural)
            assert set(by_up) == set(by_render), (plural, set(by_up) ^ set(by_render))
            if plural in SPEC_COMPARED:
                differ = [key for key in by_up if _spec(by_up[key]) != _spec(by_render[key])]
                assert not differ, (plural, differ)
        # verify, on the rendered cluster as an existing one: what `up` checks passes, but MI404 (drift), which
        # compares the cluster with meshinstall's state, finds every object unknown to a state that holds none
        data = yaml.safe_load(platform.spec_path.read_text())
        data["metadata"]["name"] = "rendered"
        data["cluster"] = {"provider": "existing", "kubeconfig": kubeconfig, "kubernetesVersion": "1.34", "nodes": 3}
        data["state"] = {"backend": "file://.meshinstall/rendered-state"}
        rendered_spec = platform.spec_path.with_name("rendered.yaml")
        rendered_spec.write_text(yaml.safe_dump(data, sort_keys=False))
        try:
            code = main(["verify", "rendered", "--json"])
            report = json.loads(capsys.readouterr().out)
        finally:
            rendered_spec.unlink()
        failed = {r["id"]: r["message"] for r in report["results"] if r["status"] == "failed"}
        assert set(failed) == {"MI404"} and code == 4, failed
    finally:
        plane.remove()


def test_the_state_keeps_the_objects_without_their_field_managers(platform):
    """The toolchain's provider leaves `metadata.managedFields` out of the state (a quarter of a Deployment's
    record there; toolchain/kubernetes-provider/patches); the outputs keep the rest of the live object."""
    resources = platform.stack.export_stack().deployment["resources"]
    deployments = [r for r in resources if r["type"] == "kubernetes:apps/v1:Deployment"]
    assert deployments and all(r["outputs"]["metadata"]["uid"] and r["outputs"]["status"] for r in deployments)
    kept = [r["urn"] for r in resources if "managedFields" in (r.get("outputs") or {}).get("metadata", {})]
    assert kept == []


def test_the_state_holds_the_inputs_fingerprint_encrypted(platform):
    """The fingerprint by which the next `up` knows that nothing changed is a secret of the state: in plain text, an
    HMAC of inputs that are all known would let whoever reads the state test passphrase guesses at SHA-256 speed."""
    env = environment.open_environment(platform.spec)
    # as stored (`stack export` shows secrets decrypted)
    _, saved = env.backend.saved_state(environment.PROJECT, env.name)
    deployment = json.loads(saved)["checkpoint"]["latest"]
    outputs = next(r for r in deployment["resources"] if r["type"] == "pulumi:pulumi:Stack")["outputs"]
    assert set(outputs["inputs"]) == {"4dabf18193072939515e22adb298388d", "ciphertext"}
    assert recorded.recorded_inputs(environment.read_state(env), environment.passphrase()) == env.inputs
    assert env.inputs.encode() not in saved


def test_the_official_charts_are_installed_at_their_pins(platform):
    kubeconfig = ClusterTarget.of(platform.spec).kubeconfig
    listed = subprocess.run(
        ["helm", "--kubeconfig", kubeconfig, "list", "-A", "-o", "json"], capture_output=True, text=True, check=True
    )
    charts = {r["name"]: (r["chart"], r["status"]) for r in json.loads(listed.stdout)}
    assert charts == {
        "istio-base": ("base-1.30.3", "deployed"),
        "istio-cni": ("cni-1.30.3", "deployed"),
        "istiod": ("istiod-1.30.3", "deployed"),
        "istio-ingressgateway": ("gateway-1.30.3", "deployed"),
        "kube-prometheus-stack": ("kube-prometheus-stack-88.5.3", "deployed"),
        "kiali": ("kiali-server-2.29.0", "deployed"),
        "jaeger": ("jaeger-4.11.1", "deployed"),
    }


def test_every_workload_the_charts_make_is_available_on_the_simulated_nodes(platform):
    deployments = platform.apps.list_deployment_for_all_namespaces().items
    assert len(deployments) >= 10
    for d in deployments:
        assert (d.status.available_replicas or 0) == d.spec.replicas, (
            f"{d.metadata.namespace}/{d.metadata.name}: {d.status}"
        )
    daemonsets = {d.metadata.name: d for d in platform.apps.list_daemon_set_for_all_namespaces().items}
    assert {"istio-cni-node", "kube-prometheus-stack-prometheus-node-exporter"} <= set(daemonsets)
    for d in daemonsets.values():
        assert d.status.number_ready == d.status.desired_number_scheduled == 3, f"{d.metadata.name}: {d.status}"
    # Helm's hook Jobs (kube-prometheus-stack's admission certificates) completed: KWOK completes Job pods, and
    # Helm deleted them on success (hook-delete-policy), which it does only after they succeeded.
    assert not [
        j.metadata.name for j in client.BatchV1Api().list_namespaced_job("monitoring").items if not j.status.succeeded
    ]


def test_the_load_balancer_gateway_gets_a_loopback_address(platform):
    service = platform.core.read_namespaced_service("istio-ingressgateway", "istio-ingress")
    assert service.spec.type == "LoadBalancer"
    assert service.status.load_balancer.ingress[0].ip.startswith("127.")


def test_crds_come_from_the_charts_and_meshinstall(platform):
    crds = {c.metadata.name: c.metadata for c in client.ApiextensionsV1Api().list_custom_resource_definition().items}
    assert crds["virtualservices.networking.istio.io"].annotations["meta.helm.sh/release-name"] == "istio-base"
    assert "prometheusrules.monitoring.coreos.com" in crds  # kube-prometheus-stack's crds/ folder
    assert crds["gateways.gateway.networking.k8s.io"].labels["app.kubernetes.io/managed-by"] == "meshinstall"


def test_istio_and_monitoring_resources_passed_the_real_crd_schemas(platform):
    vs = platform.istio(ISTIO, "payments", "virtualservices", "checkout")
    assert [d["weight"] for d in vs["spec"]["http"][1]["route"]] == [90, 10]
    dr = platform.istio(ISTIO, "payments", "destinationrules", "checkout")
    assert dr["spec"]["trafficPolicy"]["outlierDetection"]["consecutive5xxErrors"] == 5
    rule = platform.custom.get_namespaced_custom_object(*MONITORING, "payments", "prometheusrules", "checkout-alerts")
    assert rule["spec"]["groups"][0]["rules"][0]["alert"] == "MeshAppHighErrorRate"
    broken = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": "broken"},
        "spec": {"hosts": ["x"], "http": [{"route": [{"destination": {"host": "x"}, "weight": "ninety"}]}]},
    }
    with pytest.raises(ApiException) as rejected:
        platform.custom.create_namespaced_custom_object(*ISTIO, "payments", "virtualservices", broken)
    assert rejected.value.status == 422, "the API server validates Istio resources against the upstream schema"


def test_second_up_changes_nothing(platform):
    runs.preview(platform.stack, expect_no_changes=True)
    again = runs.up(platform.stack)
    # the engine's summary, read from its events
    assert again.changed == 0 and again.changes["same"] > 50, again.changes
    assert again.outputs["environment"] == "dev" and "inputs" not in again.outputs, "the outputs, read from the state"


def test_an_up_with_nothing_to_do_does_not_start_the_engine_until_someone_touches_an_object(
    platform, capsys, monkeypatch
):
    monkeypatch.chdir(platform.folder)
    assert main(["up", "dev", "--yes", "--no-verify", "--json"]) == 0  # records that it refreshed
    capsys.readouterr()
    assert main(["up", "dev", "--yes", "--no-verify", "--json"]) == 0
    skipped = json.loads(capsys.readouterr().out)
    assert skipped["engineSkipped"].startswith("nothing changed since the last update"), skipped
    assert skipped["changes"]["same"] > 50 and skipped["outputs"]["environment"] == "dev"
    assert "inputs" not in skipped["outputs"]
    platform.apps.patch_namespaced_deployment_scale("orders", "payments", {"spec": {"replicas": 5}})
    assert main(["up", "dev", "--yes", "--no-verify"]) == 0
    said = capsys.readouterr().out
    assert (
        "running the engine: 1 object(s) touched in the cluster since the last update, first Deployment payments/orders"
        in said
    ), said
    assert "up: 1 change(s)" in said, said
    assert platform.apps.read_namespaced_deployment("orders", "payments").spec.replicas == 2, "the engine put it back"
    assert main(["up", "dev", "--yes", "--no-verify"]) == 0
    assert "the engine was not started" in capsys.readouterr().out


def test_an_up_with_nothing_to_do_loads_neither_the_pulumi_sdk_nor_the_kubernetes_client(platform, capsys, monkeypatch):
    """At 10 apps, importing them was most of such an `up` (0.45 s of 1.05 s, bench/results.md, stop 23): it runs
    without them, its checks included, in a Python of its own as from the command line."""
    monkeypatch.chdir(platform.folder)
    assert main(["up", "dev", "--yes"]) == 0  # what earlier tests changed is applied, and the cluster read
    capsys.readouterr()
    probe = (
        "import sys; from meshinstall.cli.main import main; code = main(['up', 'dev', '--yes']); "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'pulumi', 'pulumi_kubernetes', 'kubernetes', 'grpc'})); sys.exit(code)"
    )
    run = subprocess.run(
        [sys.executable, "-c", probe], cwd=platform.folder, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0 and "the engine was not started" in run.stdout, run.stdout + run.stderr
    assert run.stdout.strip().splitlines()[-1] == "[]", run.stdout


def test_a_spec_change_with_nothing_touched_is_applied_without_the_engines_refresh(platform, capsys, monkeypatch):
    """The engine-free reading stands in for the engine's refresh: the change is applied, the next `up` has nothing
    to do, and a write made after that reading is still seen by the `up` after."""
    monkeypatch.chdir(platform.folder)

    def alert_at(percent: int) -> None:
        platform.edit_spec(lambda data: data["monitoring"].update(alerts={"errorRatePercent": percent}))

    def summary() -> str:
        rule = platform.custom.get_namespaced_custom_object(
            *MONITORING, "payments", "prometheusrules", "checkout-alerts"
        )
        return rule["spec"]["groups"][0]["rules"][0]["annotations"]["summary"]

    assert main(["up", "dev", "--yes", "--no-verify"]) == 0  # a refreshed update to start from
    alert_at(7)
    capsys.readouterr()
    try:
        assert main(["up", "dev", "--yes", "--no-verify"]) == 0
        said = capsys.readouterr().out
        assert "every object is as the last update left it, so the engine does not refresh first" in said, said
        assert summary().endswith("more than 7% of requests fail")
        platform.apps.patch_namespaced_deployment_scale("orders", "payments", {"spec": {"replicas": 4}})
        assert main(["up", "dev", "--yes", "--no-verify"]) == 0
        said = capsys.readouterr().out
        assert "touched in the cluster since the last update, first Deployment payments/orders" in said, said
        assert "does not refresh first" not in said
        assert platform.apps.read_namespaced_deployment("orders", "payments").spec.replicas == 2, (
            "the engine put it back"
        )
        assert main(["up", "dev", "--yes", "--no-verify"]) == 0
        assert "the engine was not started" in capsys.readouterr().out
    finally:
        alert_at(5)
        assert main(["up", "dev", "--yes", "--no-verify"]) == 0
    assert summary().endswith("more than 5% of requests fail")


def test_istiod_flipping_its_webhook_is_not_drift(platform):
    admission = client.AdmissionregistrationV1Api()
    name = "istio-validator-istio-system"
    flip = lambda policy: admission.patch_validating_webhook_configuration(  # noqa: E731
        name, {"webhooks": [{"name": "rev.validation.istio.io", "failurePolicy": policy}]}
    )
    flip("Fail")  # what the real istiod does once it serves; nothing serves here, so it is put back after
    try:
        assert admission.read_validating_webhook_configuration(name).webhooks[0].failure_policy == "Fail"
        runs.preview(platform.stack, expect_no_changes=True, refresh=True)
    finally:
        flip("Ignore")


def test_spec_change_previews_exactly_those_changes_then_applies(platform):
    def change(data):
        base = yaml.safe_load((platform.spec_path.parent / "base.yaml").read_text())
        data["paas"]["teams"] = base["paas"]["teams"]  # lists replace: dev now owns its copy of the teams
        payments = data["paas"]["teams"][0]
        payments["quota"]["pods"] = 45
        payments["apps"][0]["traffic"]["canary"]["weight"] = 25
        data["paas"]["teams"][1]["apps"].append(
            {"name": "search", "image": "registry.example.com/storefront/search:0.1.0", "port": 8080}
        )

    platform.edit_spec(change)
    events: list = []
    planned = runs.preview(platform.stack, on_event=events.append)
    steps = {
        (e.resource_pre_event.metadata.op.value, e.resource_pre_event.metadata.urn.rsplit("::", 1)[-1])
        for e in events
        if e.resource_pre_event and e.resource_pre_event.metadata.op.value != "same"
    }
    updated = {name for op, name in steps if op == "update"}
    created = {name for op, name in steps if op == "create"}
    # the dashboard (a panel per app) changes in place: ConfigMaps are mutable to meshinstall's provider (issue 29)
    assert updated == {"payments-quota", "payments-checkout-virtualservice", "mesh-dashboard"}, steps
    assert {name for op, name in steps if op not in ("update", "create")} == set(), steps
    assert {"storefront-search-stable", "storefront-search-svc", "storefront-search-alerts"} <= created, steps
    assert all(name.startswith("storefront-search") for name in created), steps
    assert (planned.changes.get("update"), planned.changes.get("replace"), planned.changes.get("create")) == (
        3,
        None,
        len(created),
    )
    runs.up(platform.stack)
    assert platform.core.read_namespaced_resource_quota("team-quota", "payments").spec.hard["pods"] == "45"
    assert platform.apps.read_namespaced_deployment("search", "storefront").spec.replicas == 1


def test_drift_is_reported_and_restored(platform):
    platform.custom.delete_namespaced_custom_object(*ISTIO, "storefront", "virtualservices", "web")
    platform.core.patch_namespaced_resource_quota("team-quota", "storefront", {"spec": {"hard": {"pods": "3"}}})
    refreshed = runs.refresh(platform.stack)
    assert refreshed.changes.get("delete", 0) + refreshed.changes.get("update", 0) >= 2, refreshed.changes
    runs.up(platform.stack)
    assert (
        platform.istio(ISTIO, "storefront", "virtualservices", "web")["spec"]["hosts"][0]
        == "web.storefront.svc.cluster.local"
    )
    assert platform.core.read_namespaced_resource_quota("team-quota", "storefront").spec.hard["pods"] == "30"


def test_invalid_spec_stops_before_the_engine_and_changes_nothing(platform, capsys, monkeypatch):
    good = platform.spec_path.read_text()
    before = runs.status(platform.stack)["lastUpdate"]
    platform.spec_path.write_text(good.replace("nodes: 3", "nodes: 0"))
    monkeypatch.chdir(platform.folder)
    try:
        assert main(["up", "dev", "--yes"]) == 3
        assert main(["preview", "dev"]) == 3
    finally:
        platform.spec_path.write_text(good)
    assert "$.cluster.nodes" in capsys.readouterr().err
    assert runs.status(platform.stack)["lastUpdate"] == before


def test_destroy_leaves_nothing_and_stops_the_control_plane(platform):
    plane = ClusterTarget.of(platform.spec).control_plane()
    assert plane.running()
    # First everything on the cluster (the cluster itself stays up so what is left can be read back) ...
    keep = (
        "pulumi:pulumi:Stack",
        "meshinstall:components:Cluster",
        "pulumi:providers:",
        "pulumi-python:dynamic:Resource",
    )
    urns = [r["urn"] for r in platform.stack.export_stack().deployment["resources"] if not r["type"].startswith(keep)]
    platform.stack.destroy(target=urns, color="never")
    managed = "app.kubernetes.io/managed-by=meshinstall"
    namespaces = {n.metadata.name for n in platform.core.list_namespace().items}
    assert not namespaces & {"payments", "storefront", "istio-system", "istio-ingress", "monitoring"}, (
        "namespaces finalized"
    )
    assert not platform.core.list_config_map_for_all_namespaces(label_selector=managed).items
    assert not platform.apps.list_deployment_for_all_namespaces().items
    assert not platform.custom.list_cluster_custom_object(*ISTIO, "virtualservices")["items"]
    assert not platform.custom.list_cluster_custom_object(*MONITORING, "prometheusrules")["items"]
    crds = {c.metadata.name for c in client.ApiextensionsV1Api().list_custom_resource_definition().items}
    assert {
        "virtualservices.networking.istio.io",
        "prometheusrules.monitoring.coreos.com",
        "gateways.gateway.networking.k8s.io",
    } <= crds, "CRDs stay"
    # ... then the cluster: its processes stop and its files go.
    runs.destroy(platform.stack)
    assert not plane.running() and not plane.root.exists()
    assert not [p for p in Path("/proc").glob("[0-9]*") if _runs_from(p, plane.root)]


def _runs_from(proc: Path, folder: Path) -> bool:
    """Whether process `proc` was started with a path inside `folder` on its command line."""
    try:
        return str(folder) in (proc / "cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False

"""`meshinstall doctor` and `verify` against a real simulated platform: each check passes, then fails when its object breaks.

Every breaking test asserts the exact set of failing check ids, then puts things back (and the verify run that
follows proves it).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from integration_env import ISTIO, MONITORING, SECURITY, bring_up
from kubernetes import client

from meshinstall.checks import runner
from meshinstall.cli.main import main
from meshinstall.schemas import versions
from meshinstall.stacks.cluster.target import ClusterTarget
from meshinstall.stacks.engine import environment, runs

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory):
    yield from bring_up(tmp_path_factory)


def failing(phase: str, spec_path: Path) -> set[str]:
    """Ids of the checks of `phase` that fail for the spec at `spec_path`."""
    return {r.check_id for r in runner.run(phase, runner.context_for(spec_path)).failed}


def wait_until(condition: Callable[[], bool], seconds: int = 90) -> None:
    deadline = time.time() + seconds
    while not condition():
        assert time.time() < deadline, "timed out waiting for the cluster"
        time.sleep(1)


def variant(platform, name: str, change: Callable[[dict], None]) -> Path:
    """A copy of dev.yaml (same folder, so same base and mirror) with `change` applied."""
    data = yaml.safe_load(platform.spec_path.read_text())
    change(data)
    path = platform.spec_path.with_name(f"{name}.yaml")
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


# --- the healthy platform --------------------------------------------------------------------------------------


def test_doctor_and_verify_pass_on_the_dev_platform(platform, capsys, monkeypatch):
    monkeypatch.chdir(platform.folder)
    assert main(["doctor", "dev", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] and {r["id"] for r in report["results"]} == {f"MI00{i}" for i in range(1, 10)} | {
        "MI010",
        "MI011",
        "MI012",
        "MI013",
        "MI014",
    }
    linkerds = next(r for r in report["results"] if r["id"] == "MI014")
    assert (linkerds["status"], linkerds["message"]) == ("skipped", "Linkerd's objects: this environment runs istio")
    assert main(["verify", "dev"]) == 0
    out = capsys.readouterr().out
    assert "√ MI402 apps are available behind their Services" in out
    assert "- MI203 app pods run the istio-proxy sidecar" in out and "simulated cluster has no containers" in out


# --- verify: break an object, name the failing checks ------------------------------------------------------------


def test_scaling_istiod_to_zero_fails_mi101_and_mi102(platform):
    apps = platform.apps
    apps.patch_namespaced_deployment_scale("istiod", "istio-system", {"spec": {"replicas": 0}})
    try:
        wait_until(
            lambda: not apps.read_namespaced_deployment_status("istiod", "istio-system").status.available_replicas
        )
        assert failing("verify", platform.spec_path) == {"MI101", "MI102"}
    finally:
        apps.patch_namespaced_deployment_scale("istiod", "istio-system", {"spec": {"replicas": 1}})
        wait_until(
            lambda: apps.read_namespaced_deployment_status("istiod", "istio-system").status.available_replicas == 1
        )


def test_deleting_the_injection_webhook_fails_mi102(platform):
    admission = client.AdmissionregistrationV1Api()
    saved = admission.read_mutating_webhook_configuration("istio-sidecar-injector")
    admission.delete_mutating_webhook_configuration("istio-sidecar-injector")
    try:
        assert failing("verify", platform.spec_path) == {"MI102"}
    finally:
        saved.metadata.resource_version = None
        saved.metadata.uid = None
        admission.create_mutating_webhook_configuration(saved)


def test_removing_the_injection_label_fails_mi201_mi102_and_drift(platform):
    platform.core.patch_namespace("payments", {"metadata": {"labels": {"istio-injection": None}}})
    assert failing("verify", platform.spec_path) == {"MI102", "MI201", "MI404"}
    runs.up(platform.stack)
    assert failing("verify", platform.spec_path) == set()


def test_permissive_mtls_fails_mi202(platform):
    platform.custom.patch_namespaced_custom_object(
        *SECURITY, "istio-system", "peerauthentications", "default", {"spec": {"mtls": {"mode": "PERMISSIVE"}}}
    )
    assert failing("verify", platform.spec_path) == {"MI202", "MI404"}
    runs.up(platform.stack)


def test_deleting_a_scrape_target_fails_mi301(platform):
    platform.custom.delete_namespaced_custom_object(*MONITORING, "monitoring", "podmonitors", "envoy-sidecars")
    assert failing("verify", platform.spec_path) == {"MI301", "MI404"}
    runs.up(platform.stack)


def test_loosening_an_alert_fails_mi302(platform):
    rule = platform.custom.get_namespaced_custom_object(*MONITORING, "payments", "prometheusrules", "checkout-alerts")
    rule["spec"]["groups"][0]["rules"][0]["expr"] = rule["spec"]["groups"][0]["rules"][0]["expr"].replace("> 5", "> 50")
    platform.custom.replace_namespaced_custom_object(
        *MONITORING, "payments", "prometheusrules", "checkout-alerts", rule
    )
    assert failing("verify", platform.spec_path) == {"MI302", "MI404"}
    runs.up(platform.stack)


def test_breaking_the_quota_fails_mi401(platform):
    platform.core.patch_namespaced_resource_quota("team-quota", "storefront", {"spec": {"hard": {"pods": "1"}}})
    assert failing("verify", platform.spec_path) == {"MI401", "MI404"}
    runs.up(platform.stack)


def test_scaling_an_app_to_zero_fails_mi402(platform):
    platform.apps.patch_namespaced_deployment_scale("orders", "payments", {"spec": {"replicas": 0}})
    wait_until(
        lambda: not platform.apps.read_namespaced_deployment_status("orders", "payments").status.available_replicas
    )
    assert failing("verify", platform.spec_path) == {"MI402", "MI404"}
    runs.up(platform.stack)
    wait_until(
        lambda: platform.apps.read_namespaced_deployment_status("orders", "payments").status.available_replicas == 2
    )


def test_shifting_canary_weight_by_hand_fails_mi403(platform):
    vs = platform.custom.get_namespaced_custom_object(*ISTIO, "payments", "virtualservices", "checkout")
    for route in vs["spec"]["http"]:
        route["route"][0]["weight"], route["route"][1]["weight"] = 50, 50
    platform.custom.replace_namespaced_custom_object(*ISTIO, "payments", "virtualservices", "checkout", vs)
    assert failing("verify", platform.spec_path) == {"MI403", "MI404"}
    runs.up(platform.stack)
    assert failing("verify", platform.spec_path) == set()


# --- doctor: break a precondition, name the failing check --------------------------------------------------------


def test_invalid_spec_fails_mi001_only(platform):
    path = variant(platform, "broken", lambda d: d["cluster"].update(nodes=0))
    assert failing("doctor", path) == {"MI001"}


def test_missing_passphrase_fails_mi002(platform, monkeypatch):
    monkeypatch.delenv("MESHINSTALL_PASSPHRASE")
    assert failing("doctor", platform.spec_path) == {"MI002"}


def test_a_held_lock_fails_mi003_and_names_the_holder(platform):
    locks = (
        Path(environment.places(platform.spec).backend_url[len("file://") :])
        / ".pulumi"
        / "locks"
        / "organization"
        / "meshinstall"
        / "dev"
    )
    locks.mkdir(parents=True, exist_ok=True)
    lock = locks / "held.json"
    lock.write_text(
        json.dumps({"pid": 4242, "username": "alice", "hostname": "ci-7", "timestamp": "2026-11-26T04:00:00Z"})
    )
    try:
        results = runner.run("doctor", runner.context_for(platform.spec_path)).results
        assert {r.check_id for r in results if r.status.value == "failed"} == {"MI003"}
        assert "alice@ci-7 (pid 4242" in next(r.message for r in results if r.check_id == "MI003")
    finally:
        lock.unlink()


def test_missing_engine_fails_mi004(platform, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    monkeypatch.setenv("MESHINSTALL_TOOLCHAIN_DIR", str(tmp_path / "empty"))
    assert failing("doctor", platform.spec_path) == {"MI004"}


def test_stopped_cluster_fails_verify_at_mi005(platform):
    plane = ClusterTarget.of(platform.spec).control_plane()
    plane.stop()
    try:
        results = runner.run("verify", runner.context_for(platform.spec_path)).results
        assert {r.check_id for r in results if r.status.value == "failed"} == {"MI005"}
        assert all(r.status.value == "skipped" for r in results if r.check_id != "MI005")
    finally:
        plane.start()
        wait_until(
            lambda: (
                platform.apps.read_namespaced_deployment_status("istiod", "istio-system").status.available_replicas == 1
            )
        )


def existing_cluster_spec(
    platform, name: str, kubeconfig: Path, change: Callable[[dict], None] = lambda d: None
) -> Path:
    """A spec that treats the running simulated cluster as an `existing` one reached through `kubeconfig`."""

    def edit(data: dict) -> None:
        data["metadata"]["name"] = name
        data["cluster"] = {"provider": "existing", "kubeconfig": str(kubeconfig)}
        change(data)

    return variant(platform, name, edit)


def test_an_identity_without_rights_fails_mi006(platform, tmp_path):
    platform.core.create_namespaced_service_account("default", {"metadata": {"name": "nobody"}})
    token = platform.core.create_namespaced_service_account_token(
        "nobody", "default", {"spec": {"expirationSeconds": 3600}}
    ).status.token
    admin = yaml.safe_load(admin_kubeconfig(platform).read_text())
    admin["users"][0]["user"] = {"token": token}
    kubeconfig = tmp_path / "nobody.kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(admin))
    path = existing_cluster_spec(platform, "nobody", kubeconfig)
    # without rights it can neither create cluster-scoped kinds nor list the webhooks, nodes and Helm records the others read
    assert failing("doctor", path) == {"MI006", "MI008", "MI009", "MI012"}


def admin_kubeconfig(platform) -> Path:
    return Path(ClusterTarget.of(platform.spec).kubeconfig)


def test_unsupported_kubernetes_fails_mi007(platform, monkeypatch):
    release = versions.SUPPORTED[("istio", "1.30.3")]
    monkeypatch.setitem(
        versions.SUPPORTED,
        ("istio", "1.30.3"),
        versions.MeshRelease("istio", "1.30.3", "1.31", "1.33", release.chart_repository),
    )
    path = existing_cluster_spec(
        platform, "oldmesh", admin_kubeconfig(platform), lambda d: d["cluster"].update(kubernetesVersion="1.33")
    )
    assert failing("doctor", path) == {"MI007"}


def test_another_mesh_webhook_fails_mi008(platform):
    admission = client.AdmissionregistrationV1Api()
    admission.create_mutating_webhook_configuration(
        {"metadata": {"name": "linkerd-proxy-injector-webhook-config"}, "webhooks": []}
    )
    try:
        assert failing("doctor", platform.spec_path) == {"MI008"}
    finally:
        admission.delete_mutating_webhook_configuration("linkerd-proxy-injector-webhook-config")


def test_quotas_beyond_the_nodes_fail_mi009(platform):
    def huge(data: dict) -> None:
        base = yaml.safe_load((platform.spec_path.parent / "base.yaml").read_text())
        data["paas"]["teams"] = base["paas"]["teams"]
        data["paas"]["teams"][0]["quota"] = {"cpu": "400", "memory": "16Gi", "pods": 40}

    path = existing_cluster_spec(platform, "huge", admin_kubeconfig(platform), huge)
    assert failing("doctor", path) == {"MI009"}


def test_mirror_without_a_chart_fails_mi010_and_up_stops_before_applying(platform, capsys, monkeypatch, tmp_path):
    from conftest import CHARTS

    mirror = tmp_path / "charts"
    mirror.mkdir()
    for archive in CHARTS.iterdir():
        if not archive.name.startswith("jaeger-"):
            (mirror / archive.name).symlink_to(archive)
    monkeypatch.setenv("MESHINSTALL_CHARTS_MIRROR", str(mirror))
    assert failing("doctor", platform.spec_path) == {"MI010"}
    before = runs.status(platform.stack)["lastUpdate"]
    monkeypatch.chdir(platform.folder)
    assert main(["up", "dev", "--yes"]) == 4
    err = capsys.readouterr().err
    assert "× MI010 every chart is reachable" in err and "jaeger: jaeger-4.11.1.tgz is not in the mirror" in err
    assert "hint: add the missing archives to the mirror" in err and "nothing was applied" in err
    assert runs.status(platform.stack)["lastUpdate"] == before


def test_everything_was_put_back(platform):
    path = platform.spec_path
    assert os.environ.get("MESHINSTALL_PASSPHRASE")
    assert failing("doctor", path) == set()
    assert failing("verify", path) == set()


def test_gateway_api_crds_are_reported_with_their_owner(platform):
    result = next(
        r for r in runner.run("doctor", runner.context_for(platform.spec_path)).results if r.check_id == "MI008"
    )
    assert result.status.value == "passed"
    assert "Gateway API CRDs present, owned by: meshinstall (v1.6.1)" in result.message
    assert "(v1.6.1)" in result.message

"""The doctor checks (MI001-MI013), each run offline on recorded answers: a passing and a failing case, and the skip
its traits give on a simulated cluster that is not running."""

from __future__ import annotations

import io
import json
import tarfile
from datetime import datetime, timezone
from pathlib import Path

from conftest import ROOT, SECRETS
from fake_api import Answers
from recorded import FIXTURES, Host, Ran, cluster, on_host, recorded, refused, run_check, spec_path

from meshinstall.checks import runner
from meshinstall.stacks.engine import toolchain
from meshinstall.stacks.program import rbac

PASSPHRASE = "$MESHINSTALL_PASSPHRASE"
NOT_RUNNING = "the simulated cluster is not running; `up` starts it"


def doctor(api: Answers, isolated: Path, environment: str = "staging"):
    return cluster(api, spec_path(isolated, environment), phase="doctor")


# --- MI001 the spec validates ------------------------------------------------------------------------------------


def test_mi001_passes_on_a_valid_spec(isolated):
    path = spec_path(isolated, "staging")
    assert run_check("MI001", runner.context_for(path)) == ("passed", str(path), "")


def test_mi001_fails_on_an_invalid_spec_with_the_first_problem(isolated):
    path = ROOT / "tests" / "fixtures" / "invalid" / "port-out-of-range.yaml"
    first = f"{path}:19:17: $.paas.teams[0].apps[0].port: 70000 is greater than the maximum of 65535 (allowed: >= 1 and <= 65535)"
    assert run_check("MI001", runner.context_for(path)) == ("failed", str(path), f"2 problem(s), first: {first}")


# --- MI002 the passphrase and the spec's secrets are set ---------------------------------------------------------


def test_mi002_passes_with_the_passphrase_and_every_secret(isolated, monkeypatch):
    for name, value in {"MESHINSTALL_PASSPHRASE": "unit", **SECRETS}.items():
        monkeypatch.setenv(name, value)
    assert run_check("MI002", doctor(recorded(), isolated)) == (
        "passed",
        PASSPHRASE,
        "and every secret the spec references",
    )


def test_mi002_fails_without_the_passphrase(isolated):
    assert run_check("MI002", doctor(recorded(), isolated)) == ("failed", PASSPHRASE, "not set")


def test_mi002_fails_when_a_secret_the_spec_references_is_not_set(isolated, monkeypatch):
    monkeypatch.setenv("MESHINSTALL_PASSPHRASE", "unit")
    monkeypatch.setenv("GRAFANA_ADMIN_PASSWORD", SECRETS["GRAFANA_ADMIN_PASSWORD"])
    missing = "secrets are missing or empty: $.paas.teams[0].apps[0].secretEnv.DB_PASSWORD: environment variable CHECKOUT_DB_PASSWORD is not set"
    assert run_check("MI002", doctor(recorded(), isolated)) == ("failed", "secrets", missing)


# --- MI003 the state backend answers and is not locked -----------------------------------------------------------


def state_folder(isolated: Path) -> Path:
    """dev's file backend (`state.backend: file://.meshinstall/state`, next to the spec)."""
    return isolated / "environments" / ".meshinstall" / "state"


def test_mi003_passes_on_a_writable_unlocked_backend(isolated):
    assert run_check("MI003", doctor(recorded(), isolated, "dev")) == (
        "passed",
        f"folder {state_folder(isolated)}",
        "not locked",
    )


def test_mi003_fails_on_an_engine_lock_held_by_a_run_elsewhere(isolated):
    locks = state_folder(isolated) / ".pulumi" / "locks" / "organization" / "meshinstall" / "dev"
    locks.mkdir(parents=True)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    lock = locks / "4f2b9c1e.json"  # as the engine writes it
    lock.write_text(json.dumps({"pid": 4242, "username": "alice", "hostname": "ci-7", "timestamp": now.isoformat()}))
    holder = f"alice@ci-7 (pid 4242, since {now:%Y-%m-%d %H:%M:%S} UTC, on another host, not checked)"
    assert run_check("MI003", doctor(recorded(), isolated, "dev")) == (
        "failed",
        f"folder {state_folder(isolated)}",
        f"stack dev is locked: held: the engine's lock by {holder}, 0 min old ({lock})",
    )


# --- MI004 the Pulumi engine and plugins are installed -----------------------------------------------------------


def toolchain_host(monkeypatch, installed: tuple[str, ...], version: str = "v3.272.0") -> Host:
    """This machine with `installed` on the toolchain's PATH, its pulumi printing `version`."""
    monkeypatch.setattr(toolchain, "search_path", lambda: "/recorded/toolchain/bin")
    monkeypatch.setattr(
        toolchain, "find", lambda tool: Path("/recorded/toolchain/bin", tool) if tool in installed else None
    )
    monkeypatch.setattr(toolchain, "version", lambda pulumi: version)
    return Host(lambda command: Ran(command.rsplit(" ", 1)[-1] in installed))


def test_mi004_passes_with_the_pinned_engine_and_plugins(isolated, monkeypatch):
    host = toolchain_host(monkeypatch, toolchain.REQUIRED)
    assert run_check("MI004", on_host(doctor(recorded(), isolated), host)) == ("passed", "pulumi version", "v3.272.0")


def test_mi004_fails_when_a_plugin_is_missing(isolated, monkeypatch):
    host = toolchain_host(monkeypatch, ("pulumi", "pulumi-language-python"))
    assert run_check("MI004", on_host(doctor(recorded(), isolated), host)) == (
        "failed",
        "PATH",
        "missing: pulumi-resource-kubernetes",
    )


def test_mi004_fails_on_an_engine_older_than_the_pinned_one(isolated, monkeypatch):
    host = toolchain_host(monkeypatch, toolchain.REQUIRED, version="v3.180.0")
    assert run_check("MI004", on_host(doctor(recorded(), isolated), host)) == (
        "failed",
        "pulumi version",
        "v3.180.0 is older than 3.272.0",
    )


# --- MI005 the cluster is reachable ------------------------------------------------------------------------------


KUBECONFIG = "/recorded/staging.kubeconfig"


def test_mi005_passes_when_the_api_server_answers(isolated, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", KUBECONFIG)
    assert run_check("MI005", doctor(recorded("MI005/passed"), isolated)) == (
        "passed",
        f"{KUBECONFIG} (context staging-admin)",
        "Kubernetes v1.34.1",
    )


def test_mi005_fails_when_the_api_server_refuses_the_connection(isolated, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", KUBECONFIG)
    assert run_check("MI005", doctor(refused(), isolated)) == (
        "failed",
        KUBECONFIG,
        "no answer: ConnectionRefusedError: [Errno 111] Connection refused",
    )


def test_mi005_on_a_simulated_cluster_not_created_yet_skips_in_doctor_and_fails_in_verify(isolated):
    ctx = doctor(recorded(), isolated, "dev")
    kubeconfig = str(isolated / "environments" / ".meshinstall" / "clusters" / "dev" / "kubeconfig")
    assert run_check("MI005", ctx) == (
        "skipped",
        kubeconfig,
        "the simulated cluster does not exist yet; `up` creates it",
    )
    assert run_check("MI005", cluster(recorded(), spec_path(isolated, "dev"))) == (
        "failed",
        kubeconfig,
        "the simulated cluster does not exist",
    )


# --- MI006 the identity has the rights meshinstall needs ---------------------------------------------------------


def reviews(denied: set[tuple[str, str, str]]) -> Answers:
    """An API server whose SelfSubjectAccessReviews allow every (group, resource, verb) but `denied`."""

    def review(method: str, body: dict) -> tuple[int, dict]:
        asked = body["spec"]["resourceAttributes"]
        allowed = (asked["group"], asked["resource"], asked["verb"]) not in denied
        return 201, {**body, "status": {"allowed": allowed} | ({} if allowed else {"reason": ""})}

    return Answers({"/apis/authorization.k8s.io/v1/selfsubjectaccessreviews": review})


def rights(isolated: Path) -> int:
    ctx = doctor(recorded(), isolated)
    return len([pair for rule in rbac.rules(ctx.spec) for pair in rule.pairs()])


def test_mi006_passes_when_every_right_is_allowed(isolated):
    result = run_check("MI006", doctor(reviews({("*", "*", "*")}), isolated))
    assert result == (
        "passed",
        "SelfSubjectAccessReview",
        f"all {rights(isolated)} rights of `meshinstall rbac staging`",
    )


def test_mi006_passes_at_once_for_an_identity_that_may_do_anything(isolated):
    result = run_check("MI006", doctor(reviews(set()), isolated))
    assert result == (
        "passed",
        "SelfSubjectAccessReview",
        f"all {rights(isolated)} rights of `meshinstall rbac staging`: the identity may do anything",
    )


def test_mi006_fails_naming_each_right_denied(isolated):
    denied = {("*", "*", "*"), ("apiextensions.k8s.io", "customresourcedefinitions", "delete")}
    result = run_check("MI006", doctor(reviews(denied), isolated))
    assert result == (
        "failed",
        "SelfSubjectAccessReview",
        f"not allowed (1 of {rights(isolated)}): delete customresourcedefinitions.apiextensions.k8s.io",
    )


def test_mi006_is_skipped_while_the_simulated_cluster_is_not_running(isolated):
    assert run_check("MI006", doctor(refused(), isolated, "dev")) == (
        "skipped",
        "SelfSubjectAccessReview",
        f"{NOT_RUNNING} (its admin token has every right)",
    )


# --- MI007 the mesh version supports the cluster's Kubernetes ----------------------------------------------------


def test_mi007_passes_on_a_supported_kubernetes(isolated):
    assert run_check("MI007", doctor(recorded("MI007/passed"), isolated)) == (
        "passed",
        "/version",
        "Kubernetes 1.34 with istio 1.30.3",
    )


def test_mi007_fails_on_a_kubernetes_the_mesh_does_not_support(isolated):
    assert run_check("MI007", doctor(recorded("MI007/failed"), isolated)) == (
        "failed",
        "/version",
        "istio 1.30.3 does not support Kubernetes 1.30 (supported: 1.32 to 1.36)",
    )


def test_mi007_is_skipped_while_the_simulated_cluster_is_not_running(isolated):
    assert run_check("MI007", doctor(refused(), isolated, "dev")) == (
        "skipped",
        "/version",
        "the simulated cluster will run Kubernetes 1.34",
    )


# --- MI008 no other mesh owns the webhooks and CRDs --------------------------------------------------------------


OWNED = "mutatingwebhookconfigurations, customresourcedefinitions"


def test_mi008_passes_when_meshinstall_owns_the_webhook_and_crds(isolated):
    assert run_check("MI008", doctor(recorded("MI008/passed"), isolated)) == (
        "passed",
        OWNED,
        "2 Gateway API CRDs present, owned by: meshinstall (v1.6.1)",
    )


def test_mi008_fails_on_another_mesh_webhook(isolated):
    assert run_check("MI008", doctor(recorded("MI008/failed"), isolated)) == (
        "failed",
        OWNED,
        "webhook linkerd-proxy-injector-webhook-config (another mesh)",
    )


def test_mi008_is_skipped_while_the_simulated_cluster_is_not_running(isolated):
    assert run_check("MI008", doctor(refused(), isolated, "dev")) == ("skipped", "webhooks, CRDs", NOT_RUNNING)


# --- MI009 node capacity holds the control plane and the team quotas ---------------------------------------------
# What the platform needs comes from the charts' requests (schemas/footprint.py); what the nodes have, from the answers.


def test_mi009_passes_on_nodes_with_room(isolated):
    status, target, message = run_check("MI009", doctor(recorded("MI009/passed"), isolated))
    assert (status, target) == ("passed", "3 nodes' allocatable") and message.endswith(" of 47760m / 192Gi"), message


def test_mi009_fails_on_nodes_too_small(isolated):
    status, target, message = run_check("MI009", doctor(recorded("MI009/failed"), isolated))
    assert (status, target) == ("failed", "1 nodes' allocatable") and message.endswith(", has 3920m and 8Gi"), message


def test_mi009_counts_the_spec_s_node_capacity_while_the_simulated_cluster_is_not_running(isolated):
    status, target, message = run_check("MI009", doctor(refused(), isolated, "dev"))
    assert (status, target) == ("passed", "cluster.nodeCapacity") and message.endswith(" of 48 / 192Gi"), message


# --- MI010 every chart is reachable ------------------------------------------------------------------------------


CHARTS = [
    ("base", "1.30.3"),
    ("cni", "1.30.3"),
    ("istiod", "1.30.3"),
    ("gateway", "1.30.3"),
    ("kube-prometheus-stack", "88.5.3"),
    ("jaeger", "4.11.1"),
    ("kiali-server", "2.29.0"),
]


def mirror(folder: Path, charts: list[tuple[str, str]]) -> Path:
    """A chart mirror holding `charts` (each archive with its Chart.yaml only) and the Gateway API CRDs."""
    folder.mkdir()
    for name, version in charts:
        chart = f"apiVersion: v2\nname: {name}\nversion: {version}\n".encode()
        with tarfile.open(folder / f"{name}-{version}.tgz", "w:gz") as archive:
            info = tarfile.TarInfo(f"{name}/Chart.yaml")
            info.size = len(chart)
            archive.addfile(info, io.BytesIO(chart))
    (folder / "gateway-api-v1.6.1-standard.crds.yaml").write_text("# the Gateway API CRDs, standard channel\n")
    return folder


def test_mi010_passes_when_the_mirror_holds_every_chart(isolated, monkeypatch):
    monkeypatch.setenv("MESHINSTALL_CHARTS_MIRROR", str(mirror(isolated / "charts", CHARTS)))
    assert run_check("MI010", doctor(recorded(), isolated)) == (
        "passed",
        f"{isolated / 'charts'} (from $MESHINSTALL_CHARTS_MIRROR)",
        ", ".join(f"{name} {version}" for name, version in CHARTS),
    )


def test_mi010_fails_when_the_mirror_lacks_a_chart(isolated, monkeypatch):
    monkeypatch.setenv(
        "MESHINSTALL_CHARTS_MIRROR", str(mirror(isolated / "charts", [c for c in CHARTS if c[0] != "jaeger"]))
    )
    assert run_check("MI010", doctor(recorded(), isolated)) == (
        "failed",
        f"{isolated / 'charts'} (from $MESHINSTALL_CHARTS_MIRROR)",
        "jaeger: jaeger-4.11.1.tgz is not in the mirror",
    )


# --- MI011 the state opens with the passphrase -------------------------------------------------------------------


def saved_state(isolated: Path, fixture: str) -> Path:
    """dev's state in its file backend, as the engine saved it."""
    path = state_folder(isolated) / ".pulumi" / "stacks" / "meshinstall" / "dev.json"
    path.parent.mkdir(parents=True)
    path.write_bytes((FIXTURES / "MI011" / fixture).read_bytes())
    return path


def test_mi011_passes_on_a_readable_state(isolated):
    where = saved_state(isolated, "passed.json")
    assert run_check("MI011", doctor(recorded(), isolated, "dev")) == ("passed", str(where), "3 resources")


def test_mi011_fails_on_a_state_cut_short(isolated):
    where = saved_state(isolated, "failed-cut-short.json")
    damage = "JSONDecodeError: Unterminated string starting at: line 14 column 29 (char 461)"
    assert run_check("MI011", doctor(recorded(), isolated, "dev")) == (
        "failed",
        str(where),
        f"{where} is not a readable state ({damage}); the engine keeps the previous one in {where}.bak",
    )


# --- MI012 no Helm release is stuck pending or failed ------------------------------------------------------------


def test_mi012_passes_when_every_release_is_deployed(isolated):
    assert run_check("MI012", doctor(recorded("MI012/passed"), isolated)) == (
        "passed",
        "Helm releases",
        "none pending or failed",
    )


def test_mi012_fails_on_a_release_left_pending(isolated):
    assert run_check("MI012", doctor(recorded("MI012/failed"), isolated)) == (
        "failed",
        "Helm releases",
        "istio-system/istiod is pending-upgrade",
    )


def test_mi012_is_skipped_while_the_simulated_cluster_is_not_running(isolated):
    assert run_check("MI012", doctor(refused(), isolated, "dev")) == ("skipped", "Helm releases", NOT_RUNNING)


# --- MI013 a default StorageClass holds Prometheus's volume (a warning) ------------------------------------------


def test_mi013_passes_with_a_default_storage_class(isolated):
    assert run_check("MI013", doctor(recorded("MI013/passed"), isolated)) == (
        "passed",
        "StorageClass",
        "standard is the default; Prometheus claims 50Gi",
    )


def test_mi013_warns_without_a_default_storage_class(isolated):
    assert run_check("MI013", doctor(recorded("MI013/failed"), isolated)) == (
        "warning",
        "StorageClass",
        "no default StorageClass (classes: fast-ssd, standard): Prometheus's 50Gi claim would stay Pending",
    )


def test_mi013_is_skipped_on_a_simulated_cluster(isolated):
    assert run_check("MI013", doctor(refused(), isolated, "dev")) == (
        "skipped",
        "StorageClass",
        "a simulated cluster runs no Prometheus to claim a volume",
    )

"""Issue 30: `meshinstall up linkerd` for real: Linkerd's edge charts and Envoy Gateway from the mirror on a simulated
cluster (no containers run there: no proxy is injected and no traffic flows), through the command line as a user
runs it. One platform for the module; the tests run in file order and the last destroys it (the fixture's `finally`
does too, if a test fails first)."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ROOT, SECRETS

from meshinstall.schemas.validate import load_spec
from meshinstall.stacks.cluster.target import ClusterTarget
from meshinstall.stacks.engine import environment
from meshinstall.stacks.program import identity
from meshinstall.stacks.state import state_file
from meshinstall.stacks.state.recorded import IDENTITY_OUTPUT, recorded, recorded_secret

pytestmark = pytest.mark.integration
PASSPHRASE = "linkerd-test"


class Linkerd:
    """environments/linkerd.yaml in a folder of its own, and every output of the commands run on it."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.dot = folder / "environments" / ".meshinstall"
        self.env = {**os.environ, **SECRETS, "MESHINSTALL_PASSPHRASE": PASSPHRASE}
        self.said: list[str] = []

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            ["meshinstall", *args], cwd=self.folder, env=self.env, capture_output=True, text=True, timeout=900
        )
        self.said.append(done.stdout + done.stderr)
        return done

    def ok(self, *args: str) -> str:
        done = self.run(*args)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def kubectl(self, *args: str) -> str:
        kubeconfig = str(self.dot / "clusters" / "linkerd" / "kubeconfig")
        out = subprocess.run(
            ["kubectl", "--kubeconfig", kubeconfig, *args], capture_output=True, text=True, timeout=120
        )
        assert out.returncode == 0, out.stderr
        return out.stdout

    def helm_releases(self) -> dict[str, str]:
        kubeconfig = str(self.dot / "clusters" / "linkerd" / "kubeconfig")
        out = subprocess.run(
            ["helm", "list", "-A", "-o", "json", "--kubeconfig", kubeconfig],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert out.returncode == 0, out.stderr
        return {r["name"]: r["chart"] for r in json.loads(out.stdout)}

    def issuer_in_cluster(self) -> tuple[str, str, str]:
        """The issuer's certificate and key, and the trust roots, as the control plane reads them."""
        secret = json.loads(self.kubectl("-n", "linkerd", "get", "secret", "linkerd-identity-issuer", "-o", "json"))
        roots = json.loads(
            self.kubectl("-n", "linkerd", "get", "configmap", "linkerd-identity-trust-roots", "-o", "json")
        )
        data = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
        return data["tls.crt"], data["tls.key"], roots["data"]["ca-bundle.crt"]

    def kept_identity(self) -> identity.LinkerdIdentity:
        """What the state keeps, opened with the passphrase."""
        saved = json.loads((self.dot / "state" / ".pulumi" / "stacks" / "meshinstall" / "linkerd.json").read_text())
        state = recorded(saved["checkpoint"]["latest"])
        kept = identity.LinkerdIdentity.from_record(recorded_secret(state, IDENTITY_OUTPUT, PASSPHRASE))
        assert kept is not None
        return kept


@pytest.fixture(scope="module")
def linkerd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Linkerd]:
    folder = tmp_path_factory.mktemp("linkerd-platform")
    shutil.copytree(ROOT / "environments", folder / "environments", ignore=shutil.ignore_patterns(".meshinstall"))
    platform = Linkerd(folder)
    try:
        yield platform
    finally:
        platform.run("destroy", "linkerd", "--yes")
        ClusterTarget.of(load_spec(folder / "environments" / "linkerd.yaml")).control_plane().remove()


def test_up_installs_linkerds_four_charts_and_envoy_gateway_and_verify_passes(linkerd):
    out = linkerd.ok("up", "linkerd", "--yes")
    assert "verify: " in out and "failed" not in out.split("verify: ")[-1], out
    charts = linkerd.helm_releases()
    assert {name: charts[name] for name in charts if name != "kube-prometheus-stack"} == {
        "linkerd-crds": "linkerd-crds-2026.8.3",
        "linkerd2-cni": "linkerd2-cni-2026.8.3",
        "linkerd-control-plane": "linkerd-control-plane-2026.8.3",
        "linkerd-viz": "linkerd-viz-2026.8.3",
        "envoy-gateway": "gateway-helm-v1.9.0",
    }
    verify = linkerd.ok("verify", "linkerd")
    assert "√ MI111" in verify and "√ MI411" in verify and "√ MI401" in verify, verify
    assert "- MI101" in verify and "this environment runs linkerd" in verify  # Istio's, skipped by name


def test_the_policy_objects_are_in_the_cluster(linkerd):
    namespace = json.loads(linkerd.kubectl("get", "namespace", "payments", "-o", "json"))["metadata"]
    assert namespace["annotations"]["linkerd.io/inject"] == "enabled"
    assert namespace["annotations"]["config.linkerd.io/default-inbound-policy"] == "deny"
    callers = json.loads(
        linkerd.kubectl(
            "-n", "payments", "get", "meshtlsauthentications.policy.linkerd.io", "checkout-callers", "-o", "json"
        )
    )
    assert "web.storefront.serviceaccount.identity.linkerd.cluster.local" in callers["spec"]["identities"]
    route = json.loads(
        linkerd.kubectl("-n", "payments", "get", "httproutes.gateway.networking.k8s.io", "checkout", "-o", "json")
    )
    assert [(b["name"], b["weight"]) for b in route["spec"]["rules"][0]["backendRefs"]] == [
        ("checkout-stable", 90),
        ("checkout-canary", 10),
    ]


def test_a_second_up_changes_nothing(linkerd):
    out = linkerd.ok("up", "linkerd", "--yes")
    assert "up: 0 change(s)" in out or "nothing to do" in out, out


def test_the_issuer_in_the_cluster_is_signed_by_the_trust_roots_and_doctor_counts_the_days(linkerd):
    certificate, _, roots = linkerd.issuer_in_cluster()
    assert identity.signed_by(certificate, roots)
    assert linkerd.kept_identity().bundle == roots
    doctor = linkerd.ok("doctor", "linkerd")
    assert "√ MI014" in doctor, doctor
    status = linkerd.ok("status", "linkerd")
    assert "linkerd issuer: expires" in status and "364 days left" in status, status


def test_an_issuer_rotation_changes_the_issuer_in_the_cluster_and_the_bundle_stays_valid(linkerd):
    before, _, roots_before = linkerd.issuer_in_cluster()
    linkerd.ok("certs", "rotate", "linkerd", "--yes")
    after, _, roots = linkerd.issuer_in_cluster()
    assert after != before and roots == roots_before
    assert identity.signed_by(after, roots)


def test_an_anchor_rotation_bundles_reissues_and_drops_the_old_anchor(linkerd):
    old_anchor = identity.certificates(linkerd.issuer_in_cluster()[2])[0]
    out = linkerd.ok("certs", "rotate", "linkerd", "--anchor", "--yes")
    for phase in ("trusted beside the old one", "signed by the new trust anchor", "old trust anchor is dropped"):
        assert phase in out, out
    issuer, _, roots = linkerd.issuer_in_cluster()
    [anchor] = identity.certificates(roots)
    assert anchor != old_anchor and identity.signed_by(issuer, roots)
    assert linkerd.ok("verify", "linkerd")


def test_an_interrupted_anchor_rotation_resumes_where_it_stopped(linkerd):
    """Killed after its first phase (the new anchor trusted beside the old one, the workloads restarted), the rotation
    is recorded in the state: `up` keeps both anchors, an issuer rotation is refused, and the same command resumes."""
    rotating = subprocess.Popen(
        ["meshinstall", "certs", "rotate", "linkerd", "--anchor", "--yes"],
        cwd=linkerd.folder,
        env={**linkerd.env, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    said = ""
    for line in rotating.stdout:
        said += line
        if "restarted" in line:
            rotating.kill()
            break
    rotating.wait(timeout=60)
    linkerd.said.append(said)
    assert "trusted beside the old one" in said, said
    kept = linkerd.kept_identity()
    assert kept.rotation in (identity.BUNDLED, identity.REISSUED) and len(kept.anchors) == 2
    new_anchor = kept.anchors[0]
    up = linkerd.ok("up", "linkerd", "--yes")
    assert len(identity.certificates(linkerd.issuer_in_cluster()[2])) == 2, up
    refused = linkerd.run("certs", "rotate", "linkerd", "--yes")
    assert refused.returncode == 2 and "finish it with `meshinstall certs rotate linkerd --anchor`" in refused.stderr
    resumed = linkerd.ok("certs", "rotate", "linkerd", "--anchor", "--yes")
    assert "trusted beside the old one" not in resumed and "old trust anchor is dropped" in resumed, resumed
    issuer, _, roots = linkerd.issuer_in_cluster()
    assert roots == new_anchor and identity.signed_by(issuer, roots)


def test_no_private_key_is_in_plain_text_in_the_state_the_logs_or_any_output(linkerd):
    _, issuer_key, _ = linkerd.issuer_in_cluster()
    kept = linkerd.kept_identity()
    assert kept.issuer_key == issuer_key
    bodies = [key.splitlines()[1] for key in (issuer_key, kept.anchor_key)]  # a line of each key's base64
    places = [p for p in linkerd.dot.rglob("*") if p.is_file() and "clusters" not in p.parts]
    places += list((linkerd.dot / "clusters" / "linkerd" / "etcd").rglob("*"))  # Secrets are encrypted at rest
    for path in places:
        if path.is_file():
            content = path.read_bytes()
            assert not [b for b in bodies if b.encode() in content], f"a private key in plain text in {path}"
    assert not [said for said in linkerd.said if any(b in said for b in bodies)]
    assert (
        state_file.SECRET_SIGNATURE
        in (linkerd.dot / "state" / ".pulumi" / "stacks" / "meshinstall" / "linkerd.json").read_text()
    )


def test_changing_the_provider_of_an_environment_that_is_up_is_refused(linkerd):
    spec = linkerd.folder / "environments" / "linkerd.yaml"
    text = spec.read_text()
    istio = text.replace("provider: linkerd\n  version: edge-26.8.3", "provider: istio\n  version: 1.30.3")
    istio = istio[: istio.index("  identity:")] + istio[istio.index("  upgrade:") :].replace(
        "  upgrade: {strategy: in-place}\n", ""
    )
    spec.write_text(istio)
    try:
        refused = linkerd.run("up", "linkerd", "--yes")
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert "runs linkerd, and its spec now says mesh.provider: istio" in refused.stderr
        assert "Nothing was changed" in refused.stderr and "meshinstall destroy linkerd" in refused.stderr
    finally:
        spec.write_text(text)
    assert "linkerd-control-plane" in linkerd.helm_releases()


def test_destroy_leaves_nothing_of_meshinstalls(linkerd, monkeypatch):
    for name, value in {**SECRETS, "MESHINSTALL_PASSPHRASE": PASSPHRASE}.items():
        monkeypatch.setenv(name, value)
    spec = load_spec(linkerd.folder / "environments" / "linkerd.yaml")
    stack = environment.open_stack(spec)
    # First everything on the cluster (the cluster itself stays up so that what is left can be read back) ...
    keep = (
        "pulumi:pulumi:Stack",
        "meshinstall:components:Cluster",
        "pulumi:providers:",
        "pulumi-python:dynamic:Resource",
    )
    urns = [r["urn"] for r in stack.export_stack().deployment["resources"] if not r["type"].startswith(keep)]
    stack.destroy(target=urns, color="never")
    namespaces = set(linkerd.kubectl("get", "namespaces", "-o", "name").split())
    platform = {"linkerd", "linkerd-cni", "linkerd-viz", "envoy-gateway-system", "payments", "storefront", "monitoring"}
    assert not {f"namespace/{n}" for n in platform} & namespaces, "namespaces finalized"
    assert linkerd.helm_releases() == {}
    left = linkerd.kubectl(
        "get",
        "clusterroles,clusterrolebindings,mutatingwebhookconfigurations,validatingwebhookconfigurations",
        "-o",
        "name",
    )
    left += linkerd.kubectl("get", "gatewayclasses,validatingadmissionpolicies", "-o", "name")
    leftovers = [line for line in left.split() if any(name in line for name in ("linkerd", "envoy", "meshinstall"))]
    assert leftovers == []
    # linkerd-viz's tap API is gone with it; the CRDs' own APIServices stay with the CRDs
    assert "v1alpha1.tap.linkerd.io" not in linkerd.kubectl("get", "apiservices", "-o", "name")
    # ... then the cluster: its processes stop and its files go.
    plane = ClusterTarget.of(spec).control_plane()
    linkerd.ok("destroy", "linkerd", "--yes")
    assert not plane.running() and not plane.root.exists()

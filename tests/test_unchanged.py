"""The engine-free `up`: what the state says, which cluster writes count as touching an object, the fingerprint."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from datetime import datetime, timezone

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from meshinstall.stacks.engine import fingerprint, unchanged
from meshinstall.stacks.state import recorded, state_file

LAST_UPDATE = datetime(2026, 11, 26, 10, 0, 0, tzinfo=timezone.utc)


def entry(manager: str, time: str | None = "2026-11-26T10:05:00Z", subresource: str | None = None) -> dict:
    found = {"manager": manager, "operation": "Update"}
    if time:
        found["time"] = time
    if subresource:
        found["subresource"] = subresource
    return found


def item(*entries: dict) -> dict:
    return {"metadata": {"name": "web", "namespace": "storefront", "managedFields": list(entries)}}


def test_meshinstalls_own_writes_and_the_clusters_are_not_touches():
    ours = entry("pulumi-kubernetes-1dce354f", "2026-11-26T10:05:00Z")
    status = entry("kwok", subresource="status")
    controller = entry("kube-controller-manager", "2026-11-26T10:05:00Z")
    assert not unchanged._foreign_entries(item(ours, status, controller), LAST_UPDATE)


def test_someone_elses_write_after_the_last_update_is_a_touch():
    assert unchanged._foreign_entries(item(entry("kubectl-label", "2026-11-26T10:05:00Z")), LAST_UPDATE)
    assert unchanged._foreign_entries(item(entry("kubectl-edit", "2026-11-26T10:00:00Z")), LAST_UPDATE) == [
        "kubectl-edit"
    ]


def test_a_write_the_last_update_already_saw_is_not_a_touch():
    assert not unchanged._foreign_entries(item(entry("kubectl-label", "2026-11-26T09:30:00Z")), LAST_UPDATE)


def test_a_scale_without_a_time_counts():
    assert unchanged._foreign_entries(item(entry("kubectl", time=None, subresource="scale")), LAST_UPDATE)


STATE = {
    "resources": [
        {
            "type": "pulumi:pulumi:Stack",
            "custom": False,
            "outputs": {
                "inputs": "abc",
                "refreshedCluster": True,
                "environment": "dev",
                "urls": {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "ciphertext": "x"},
            },
        },
        {"type": "pulumi:providers:kubernetes", "custom": True, "id": "p"},
        {"type": "kubernetes:core/v1:Service", "custom": True, "id": "storefront/web"},
        {"type": "kubernetes:apps/v1:Deployment", "custom": True, "id": "storefront/web"},
        {"type": "kubernetes:networking.istio.io/v1:VirtualService", "custom": True, "id": "storefront/web"},
        {"type": "kubernetes:core/v1:Namespace", "custom": True, "id": "storefront"},
        {
            "type": "kubernetes:helm.sh/v3:Release",
            "custom": True,
            "id": "istio-system/istiod",
            "outputs": {"status": {"revision": 3}},
        },
        {"type": "meshinstall:components:App", "custom": False},
    ],
}


def test_the_state_gives_ids_by_kind_releases_and_what_the_program_recorded():
    state = recorded.recorded(STATE)
    assert state.objects == {
        ("v1", "Service"): frozenset({"storefront/web"}),
        ("apps/v1", "Deployment"): frozenset({"storefront/web"}),
        ("networking.istio.io/v1", "VirtualService"): frozenset({"storefront/web"}),
        ("v1", "Namespace"): frozenset({"storefront"}),
    }
    assert state.helm_releases == {"istio-system/istiod": 3}
    assert (state.inputs, state.refreshed, state.pending, state.resources) == ("abc", True, False, 8)
    assert state.outputs == {"environment": "dev", "urls": "[secret]"}


def test_an_update_that_read_the_cluster_instead_of_refreshing_is_checked_from_that_reading():
    """A write between meshinstall's reading and the update's start was seen by neither: the next `up` must look
    back to the reading, not to the update's start."""
    read_at = datetime(2026, 11, 26, 9, 59, 50, tzinfo=timezone.utc)
    stack = {
        **STATE["resources"][0],
        "outputs": {**STATE["resources"][0]["outputs"], "clusterReadAt": read_at.isoformat()},
    }
    state = recorded.recorded({"resources": [stack, *STATE["resources"][1:]]})
    assert state.read_at == read_at and "clusterReadAt" not in state.outputs
    since = state.read_since(LAST_UPDATE)
    assert since == read_at
    assert unchanged._foreign_entries(item(entry("kubectl-edit", "2026-11-26T09:59:55Z")), since) == ["kubectl-edit"]
    assert recorded.recorded(STATE).read_since(LAST_UPDATE) == LAST_UPDATE


def test_interrupted_operations_in_the_state_are_noticed():
    assert recorded.recorded({**STATE, "pending_operations": [{"type": "creating"}]}).pending


def test_the_fingerprint_follows_secrets_and_the_passphrase(environments):
    from meshinstall.schemas.validate import load_spec
    from meshinstall.stacks.cluster.target import ClusterTarget
    from meshinstall.stacks.program.gateway_api import GatewayApiPlan
    from meshinstall.stacks.state.secrets import ResolvedSecrets

    dev_spec = load_spec(environments / "dev.yaml")
    target = ClusterTarget.of(dev_spec)
    one = fingerprint.inputs_fingerprint(dev_spec, ResolvedSecrets("pw-1"), GatewayApiPlan(), target, "key")
    assert one == fingerprint.inputs_fingerprint(dev_spec, ResolvedSecrets("pw-1"), GatewayApiPlan(), target, "key")
    assert one != fingerprint.inputs_fingerprint(dev_spec, ResolvedSecrets("pw-2"), GatewayApiPlan(), target, "key")
    assert one != fingerprint.inputs_fingerprint(
        dev_spec, ResolvedSecrets("pw-1"), GatewayApiPlan(), target, "other key"
    )
    assert "pw-1" not in one


def test_the_reason_the_engine_runs_names_the_input_that_changed(environments):
    """Issue 29: "the spec, a secret, the charts, the cluster or meshinstall changed" did not say which."""
    from dataclasses import replace

    from meshinstall.schemas.validate import load_spec
    from meshinstall.stacks.cluster.target import ClusterTarget
    from meshinstall.stacks.engine.unchanged import changed_since
    from meshinstall.stacks.program.gateway_api import GatewayApiPlan
    from meshinstall.stacks.state.secrets import ResolvedSecrets

    spec = load_spec(environments / "dev.yaml")
    target = ClusterTarget.of(spec)
    secrets = ResolvedSecrets("pw-1", {("payments", "checkout"): {"DB_PASSWORD": "db-1"}})

    def taken(spec=spec, secrets=secrets) -> str:
        return fingerprint.inputs_fingerprint(spec, secrets, GatewayApiPlan(), target, "key")

    before = taken()
    new_db = ResolvedSecrets("pw-1", {("payments", "checkout"): {"DB_PASSWORD": "db-2"}})
    assert changed_since(before, taken(secrets=new_db)) == "secret of payments/checkout changed since the last update"
    assert changed_since(before, taken(secrets=ResolvedSecrets("pw-2", secrets.app_env))) == (
        "secret Grafana's admin password changed since the last update"
    )
    edited = replace(spec, content_hash="another")
    assert changed_since(before, taken(spec=edited)) == "spec changed since the last update"
    assert "db-1" not in before and "pw-1" not in before
    assert changed_since("0123abcd", before) == "meshinstall changed since the last update", "an older fingerprint"


def test_the_code_fingerprint_reads_the_package_not_the_checkout_around_it(tmp_path):
    """Installed in editable mode, the package's root is the repository: `up dev` run there keeps its state in
    environments/.meshinstall, and that state (rewritten by every update) once made every `up` run the engine."""
    for package in fingerprint.subpackages():
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "errors.py").write_text("class Error(Exception): ...\n")
    before = fingerprint._code(tmp_path)
    state = tmp_path / "environments" / ".meshinstall" / "state" / "dev.json"
    state.parent.mkdir(parents=True)
    state.write_text('{"resources": []}')
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "scale.py").write_text("print()\n")
    assert fingerprint._code(tmp_path) == before
    (tmp_path / "components" / "app.py").write_text("REPLICAS = 2\n")
    assert fingerprint._code(tmp_path) != before
    (tmp_path / "errors.py").write_text("class Error(Exception): pass\n")
    assert fingerprint._code(tmp_path) != before


def test_the_subpackages_fingerprinted_are_those_pyproject_maps():
    from pathlib import Path

    import tomllib

    pyproject = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text())
    mapped = {name.split(".")[1] for name in pyproject["tool"]["setuptools"]["package-dir"] if "." in name}
    assert mapped == set(fingerprint.subpackages())


def test_the_last_update_is_the_newest_history_entry_of_the_folder_backend(tmp_path):
    """`up` decides whether there is anything to do from the stack's last operation, read from the backend's files
    (the engine's `stack history` cost 0.3 s of every command): the newest entry, not the last listed."""
    from meshinstall.stacks.state.backend import FileBackend

    folder = tmp_path / ".pulumi" / "history" / "meshinstall" / "dev"
    folder.mkdir(parents=True)
    # 2001: one digit less
    entries = {
        1795754849000000000: {"kind": "update", "result": "succeeded", "startTime": 1795754849},
        1795754990000000000: {"kind": "refresh", "result": "failed", "startTime": 1795754990},
        999999999000000000: {"kind": "update", "result": "succeeded", "startTime": 999999999},
    }
    for nanos, entry in entries.items():
        (folder / f"dev-{nanos}.history.json").write_text(json.dumps(entry))
        (folder / f"dev-{nanos}.checkpoint.json").write_text("{}")
    assert FileBackend(tmp_path).last_update("meshinstall", "dev")["kind"] == "refresh"
    assert FileBackend(tmp_path).last_update("meshinstall", "other") is None


def test_a_history_entry_cut_short_sends_up_to_the_engine_instead_of_a_traceback(tmp_path):
    from types import SimpleNamespace

    from meshinstall.stacks.engine import environment

    folder = tmp_path / ".pulumi" / "history" / "meshinstall" / "dev"
    folder.mkdir(parents=True)
    (folder / "dev-1795754849000000000.history.json").write_text('{"kind": "update", "result": "succ')
    stack = SimpleNamespace(
        name="dev", workspace=SimpleNamespace(env_vars={"PULUMI_BACKEND_URL": f"file://{tmp_path}"})
    )
    assert environment.last_update(stack) is None
    (folder / "dev-1795754849000000000.history.json").write_text(
        '{"kind": "update", "result": "succeeded", "startTime": 1795754849}'
    )
    assert environment.last_update(stack).start_time == datetime.fromtimestamp(1795754849, timezone.utc)


def _sealed(passphrase: str, value: str) -> tuple[str, dict]:
    """A passphrase provider's salt state and `value` as a secret of the state, as the engine writes them."""
    salt = os.urandom(8)
    key = hashlib.pbkdf2_hmac("sha256", passphrase.encode(), salt, state_file.PBKDF2_ROUNDS, 32)

    def seal(plain: bytes) -> str:
        nonce = os.urandom(12)
        return f"v1:{base64.b64encode(nonce).decode()}:{base64.b64encode(AESGCM(key).encrypt(nonce, plain, None)).decode()}"

    secret = {
        state_file.SECRET_SIGNATURE: "1b47061264138c4ac30d75fd1eb44270",
        "ciphertext": seal(json.dumps(value).encode()),
    }
    return f"v1:{base64.b64encode(salt).decode()}:{seal(b'pulumi')}", secret


def test_the_recorded_fingerprint_is_a_secret_that_only_the_passphrase_opens():
    salt_state, secret = _sealed("right", "abc")
    stack = {**STATE["resources"][0], "outputs": {**STATE["resources"][0]["outputs"], "inputs": secret}}
    state = recorded.recorded(
        {"resources": [stack], "secrets_providers": {"type": "passphrase", "state": {"salt": salt_state}}}
    )
    assert recorded.recorded_inputs(state, "right") == "abc"
    assert recorded.recorded_inputs(state, "wrong") is None  # then the engine runs, as for a changed spec
    assert "inputs" not in state.outputs


def test_a_fingerprint_recorded_in_plain_text_by_an_earlier_meshinstall_still_counts():
    assert recorded.recorded_inputs(recorded.recorded(STATE), "any") == "abc"

"""When `up` has nothing to do, it says so without running the engine.

The engine's floor for an `up` that changes nothing is the Python program declaring every resource and the engine
diffing each one: about 15 s at 100 apps, where `kubectl apply` of the same objects takes 3 s (bench/results.md).
So `up` first asks two cheap questions, and starts the engine only when either answer is no:

1. Are the program's inputs those of the last successful update? Everything the program reads (the merged spec,
   the resolved secrets, the Gateway API plan, the chart mirror and its archives, meshinstall's code, the engine and
   provider binaries, the cluster it talks to) is folded into an HMAC keyed by the state passphrase. The program
   exports it as the `inputs` output, a secret, so the last update's value is in the state, encrypted like the
   state's other secrets: in plain text, the HMAC of inputs that are all known (a spec without secrets) would let
   whoever reads the state test guesses of the passphrase at the speed of SHA-256, not of the key derivation.
2. (With refresh, the default.) Is every object of the state in the cluster as the last update left it? One
   metadata-only LIST per kind reads every object; an object is as left when it exists and no field manager but
   meshinstall's (pulumi-kubernetes-*), the cluster's own controllers and status writers touched it. A Helm release
   is as left when its deployed revision is the state's. A `kubectl edit`, `label`, `scale` or delete shows up as
   a manager or a missing object, and `up` then runs the engine, which refreshes and puts it back.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping

from .. import __version__
from ..schemas.model import Spec
from . import engine, kube, state_file
from .gateway_api import GatewayApiPlan
from .releases import chart_mirror, releases
from .secrets import ResolvedSecrets
from .target import ClusterTarget
from .rollout import RESTART_MANAGER
from .upgrade import MeshLayout

INPUTS_OUTPUT = "inputs"
REFRESHED_OUTPUT = "refreshedCluster"
READ_AT_OUTPUT = "clusterReadAt"  # when meshinstall read the cluster instead of the engine refreshing it
RECORDING_OUTPUTS = (INPUTS_OUTPUT, REFRESHED_OUTPUT, READ_AT_OUTPUT)
PACKAGE_ROOT = Path(__file__).resolve().parent.parent
# The subpackages' folders under PACKAGE_ROOT (pyproject.toml's package-dir). In a checkout installed in editable
# mode PACKAGE_ROOT is the repository, whose other folders (environments/ with its state, .git, docs) are not code.
SUBPACKAGES = ("checks", "cli", "components", "schemas", "simulator", "stacks")
OUR_MANAGER_PREFIX = "pulumi-kubernetes-"
# Managers that write our objects as part of running them, never to change what meshinstall declared.
CLUSTER_MANAGERS = frozenset({"kube-controller-manager", "kube-scheduler", "kube-apiserver", "kwok", RESTART_MANAGER})  # and a canary upgrade's restarts
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"


def inputs_fingerprint(
    spec: Spec, secrets: ResolvedSecrets, gateway_api: GatewayApiPlan, target: ClusterTarget, key: str, layout: MeshLayout | None = None,
    record: Mapping[str, Any] | None = None, adopted: frozenset[str] = frozenset(),
) -> str:
    """HMAC (keyed by the state passphrase, so secret values cannot be guessed from it) of what the program reads."""
    digest = hmac.new(key.encode(), digestmod=hashlib.sha256)
    for part in (
        __version__, _code(), spec.content_hash, repr(secrets), repr(gateway_api), repr(layout), json.dumps(record, sort_keys=True), repr(sorted(adopted)), repr(releases(spec, layout)),
        chart_mirror(spec).describe(), *_chart_files(spec), *_engine_binaries(), *_cluster(target),
    ):
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()


def _code(root: Path = PACKAGE_ROOT) -> str:
    """meshinstall's own files (a changed component is a changed program)."""
    digest = hashlib.sha256()
    files = [*root.glob("*.py"), *(path for package in SUBPACKAGES for path in (root / package).rglob("*"))]
    for path in sorted(files):
        if path.suffix in (".py", ".json", ".yaml") and path.is_file():
            digest.update(str(path.relative_to(root)).encode() + path.read_bytes())
    return digest.hexdigest()


def _chart_files(spec: Spec) -> list[str]:
    mirror = chart_mirror(spec).path
    if not mirror or not Path(mirror).is_dir():
        return []
    return [f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in sorted(Path(mirror).rglob("*.tgz"))]


def _engine_binaries() -> list[str]:
    return [str((engine.find(tool) or Path(tool)).resolve()) for tool in engine.REQUIRED]


def _cluster(target: ClusterTarget) -> list[str]:
    """Which cluster, and for an existing one its kubeconfig's content (a simulated cluster's is written by its
    first `up`, after this fingerprint was taken, and stays the same over restarts)."""
    path = Path(target.kubeconfig)
    content = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() and not target.simulated else ""
    return [target.kubeconfig, target.context or "", content]


@dataclass(frozen=True)
class Recording:
    """What the program exports for the next `up`: the inputs fingerprint and whether this operation read the
    cluster first: the engine refreshed, or (`read_at`, ISO 8601) meshinstall found every object as left then."""

    inputs: str
    refreshed: bool
    read_at: str | None = None


@dataclass(frozen=True)
class Recorded:
    """What the state says about the objects meshinstall made: ids by (apiVersion, kind), and Helm releases."""

    objects: Mapping[tuple[str, str], frozenset[str]]  # (apiVersion, kind) -> {"namespace/name" or "name"}
    helm_releases: Mapping[str, int]  # "namespace/name" -> revision
    inputs: str | Mapping[str, str] | None  # the fingerprint, a secret of the state: `recorded_inputs` opens it
    refreshed: bool
    pending: bool
    resources: int
    outputs: Mapping[str, Any]  # the stack's outputs, secret ones as "[secret]"
    charts: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # Helm release "namespace/name" -> (chart version, its `revision` value)
    read_at: datetime | None = None  # when meshinstall read the cluster for the last update, which did not refresh
    secrets_salt: str | None = None  # the passphrase provider's, with which `recorded_inputs` opens the fingerprint

    def read_since(self, update_started: datetime) -> datetime:
        """Since when others' writes are unseen: the last update's start, or the earlier reading that replaced its refresh."""
        return min(update_started, self.read_at) if self.read_at else update_started


def recorded(deployment: Mapping[str, Any]) -> Recorded:
    """Read the exported state (`pulumi stack export`): no secret needs decrypting, ids and types are plain."""
    objects: dict[tuple[str, str], set[str]] = defaultdict(set)
    inputs: Any = None
    helm: dict[str, int] = {}
    charts: dict[str, tuple[str, str]] = {}
    stack_outputs: dict[str, Any] = {}
    for resource in deployment.get("resources", []):
        kind, outputs = resource.get("type", ""), resource.get("outputs", {})
        if kind == "pulumi:pulumi:Stack":
            inputs = outputs.get(INPUTS_OUTPUT)  # a secret, opened by `recorded_inputs`; plain from meshinstall before stop 22
            stack_outputs = {k: "[secret]" if isinstance(v, dict) and state_file.SECRET_SIGNATURE in v else v for k, v in outputs.items()}
        elif kind == HELM_RELEASE:
            helm[resource.get("id", "")] = int((outputs.get("status") or {}).get("revision", 0))
            charts[resource.get("id", "")] = (str(outputs.get("version", "")), str((outputs.get("values") or {}).get("revision") or ""))
        elif kind.startswith("kubernetes:") and resource.get("custom") and not kind.startswith("pulumi:providers"):
            group_version, _, object_kind = kind.split(":", 1)[1].rpartition(":")
            api_version = group_version.removeprefix("core/")
            objects[(api_version, object_kind)].add(resource.get("id", ""))
    frozen = {k: frozenset(v) for k, v in objects.items()}
    read_at = stack_outputs.get(READ_AT_OUTPUT)
    return Recorded(
        frozen, helm, inputs if isinstance(inputs, (str, dict)) else None, stack_outputs.get(REFRESHED_OUTPUT) is True,
        bool(deployment.get("pending_operations")), len(deployment.get("resources", [])),
        {k: v for k, v in stack_outputs.items() if k not in RECORDING_OUTPUTS}, charts,
        datetime.fromisoformat(read_at) if isinstance(read_at, str) else None, state_file.secrets_salt(deployment),
    )


def recorded_inputs(state: Recorded, passphrase: str) -> str | None:
    """The inputs fingerprint the last update recorded: a secret of the state, opened with the passphrase (plain in a
    state written before stop 22); None when there is none or it does not open."""
    if isinstance(state.inputs, str):
        return state.inputs
    opened = state_file.open_secret(state.inputs, state.secrets_salt, passphrase) if state.secrets_salt else None
    return opened if isinstance(opened, str) else None


def changed_objects(target: ClusterTarget, state: Recorded, since: datetime) -> list[str]:
    """Objects of the state that are gone, or that someone else touched after the last update started (that update
    refreshed, so what others did before it has been seen, as the engine sees it); [] when all are as left."""
    since = state.read_since(since if since.tzinfo else since.replace(tzinfo=timezone.utc))  # the engine's history times are UTC
    api = kube.connect(target.kubeconfig, target.context)
    plurals = _plurals(api, {api_version for api_version, _ in state.objects})
    changed: list[str] = []
    for (api_version, kind), ids in sorted(state.objects.items()):
        plural = plurals.get((api_version, kind))
        if plural is None:
            changed.append(f"{kind}s ({api_version} is not served)")
            continue
        live = {_id(item): item for item in kube.list_metadata(api, api_version, plural)}
        for i in sorted(ids):
            writers = _foreign_entries(live[i], since) if i in live else ["deleted"]
            if writers:
                changed.append(f"{kind} {i} (by {', '.join(writers)})" if i in live else f"{kind} {i} (deleted)")
    live_helm = _deployed_helm_revisions(api)
    changed += [f"Helm release {r}" for r, revision in sorted(state.helm_releases.items()) if live_helm.get(r) != revision]
    return changed


def _foreign_entries(item: Mapping[str, Any], since: datetime) -> list[str]:
    """Managers other than meshinstall's and the cluster's own that wrote the object at or after `since`."""
    found = []
    for entry in item["metadata"].get("managedFields") or []:
        manager = entry.get("manager", "")
        if entry.get("subresource") == "status" or manager in CLUSTER_MANAGERS or manager.startswith(OUR_MANAGER_PREFIX):
            continue
        stamp = entry.get("time")  # absent on a `scale` write: when is unknown, so it counts
        if stamp is None or datetime.fromisoformat(stamp.replace("Z", "+00:00")) >= since - timedelta(seconds=1):  # whole seconds
            found.append(manager)
    return found


def _id(item: Mapping[str, Any]) -> str:
    meta = item["metadata"]
    return f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else meta["name"]


def _plurals(api: Any, api_versions: Iterable[str]) -> dict[tuple[str, str], str]:
    found: dict[tuple[str, str], str] = {}
    for api_version in api_versions:
        served = kube.get(api, kube.group_path(api_version)) or {}  # a group no longer served: its objects count as changed
        for resource in served.get("resources", []):
            if "/" not in resource["name"]:
                found[(api_version, resource["kind"])] = resource["name"]
    return found


def _deployed_helm_revisions(api: Any) -> dict[str, int]:
    """Helm 3 keeps each release revision in a Secret labelled owner=helm; the deployed one is current."""
    revisions: dict[str, int] = {}
    for item in kube.list_metadata(api, "v1", "secrets", "owner=helm,status=deployed"):
        meta = item["metadata"]
        revisions[f"{meta['namespace']}/{meta['labels']['name']}"] = int(meta["labels"]["version"])
    return revisions

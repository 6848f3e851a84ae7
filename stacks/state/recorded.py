"""What an environment's state records, read without the engine and without decrypting: the objects and Helm
releases meshinstall made, the stack's outputs, and what the last update recorded for the next one (its inputs
fingerprint, whether it read the cluster first)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from . import state_file

INPUTS_OUTPUT = "inputs"
REFRESHED_OUTPUT = "refreshedCluster"
READ_AT_OUTPUT = "clusterReadAt"  # when meshinstall read the cluster instead of the engine refreshing it
IDENTITY_OUTPUT = "linkerdIdentity"  # Linkerd's certificates meshinstall made (stacks/program/identity.py)
RECORDING_OUTPUTS = (INPUTS_OUTPUT, REFRESHED_OUTPUT, READ_AT_OUTPUT, IDENTITY_OUTPUT)
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"


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
    # Helm release "namespace/name" -> (chart version, its `revision` value)
    charts: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    read_at: datetime | None = None  # when meshinstall read the cluster for the last update, which did not refresh
    secrets_salt: str | None = None  # the passphrase provider's, with which `recorded_inputs` opens the fingerprint
    sealed: Mapping[str, Any] = field(default_factory=dict)  # the secret outputs as the state holds them, encrypted

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
    stack_outputs_raw: dict[str, Any] = {}
    for resource in deployment.get("resources", []):
        kind, outputs = resource.get("type", ""), resource.get("outputs", {})
        if kind == "pulumi:pulumi:Stack":
            # a secret, opened by `recorded_inputs`; plain from meshinstall before stop 22
            inputs = outputs.get(INPUTS_OUTPUT)
            stack_outputs_raw = outputs
            stack_outputs = {
                k: "[secret]" if isinstance(v, dict) and state_file.SECRET_SIGNATURE in v else v
                for k, v in outputs.items()
            }
        elif kind == HELM_RELEASE:
            helm[resource.get("id", "")] = int((outputs.get("status") or {}).get("revision", 0))
            charts[resource.get("id", "")] = (
                str(outputs.get("version", "")),
                str((outputs.get("values") or {}).get("revision") or ""),
            )
        elif kind.startswith("kubernetes:") and resource.get("custom") and not kind.startswith("pulumi:providers"):
            group_version, _, object_kind = kind.split(":", 1)[1].rpartition(":")
            api_version = group_version.removeprefix("core/")
            objects[(api_version, object_kind)].add(resource.get("id", ""))
    frozen = {k: frozenset(v) for k, v in objects.items()}
    read_at = stack_outputs.get(READ_AT_OUTPUT)
    return Recorded(
        frozen,
        helm,
        inputs if isinstance(inputs, (str, dict)) else None,
        stack_outputs.get(REFRESHED_OUTPUT) is True,
        bool(deployment.get("pending_operations")),
        len(deployment.get("resources", [])),
        {k: v for k, v in stack_outputs.items() if k not in RECORDING_OUTPUTS},
        charts,
        datetime.fromisoformat(read_at) if isinstance(read_at, str) else None,
        state_file.secrets_salt(deployment),
        {k: v for k, v in stack_outputs_raw.items() if isinstance(v, dict) and state_file.SECRET_SIGNATURE in v},
    )


def recorded_inputs(state: Recorded, passphrase: str) -> str | None:
    """The inputs fingerprint the last update recorded: a secret of the state, opened with the passphrase (plain in a
    state written before stop 22); None when there is none or it does not open."""
    if isinstance(state.inputs, str):
        return state.inputs
    opened = state_file.open_secret(state.inputs, state.secrets_salt, passphrase) if state.secrets_salt else None
    return opened if isinstance(opened, str) else None


def recorded_secret(state: Recorded, name: str, passphrase: str) -> Any:
    """A secret output of the last update, opened with the passphrase; None when there is none or it does not open."""
    sealed = state.sealed.get(name)
    return state_file.open_secret(sealed, state.secrets_salt, passphrase) if sealed and state.secrets_salt else None

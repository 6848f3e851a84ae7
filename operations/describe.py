"""The read-only use cases that open no state: the rights `up` needs, the cluster's kubeconfig and whether a
simulated one runs, and the mesh versions meshinstall can install."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import UsageError
from ..schemas.model import Spec
from ..schemas.versions import SUPPORTED, MeshRelease
from ..stacks.cluster.target import ClusterTarget
from ..stacks.program import rbac


def rights(spec: Spec) -> list[rbac.Rule]:
    """The rules of the ClusterRole the identity running `up` needs, each with its reason (docs/rbac.md)."""
    return list(rbac.rules(spec))


def cluster_role(spec: Spec) -> str:
    """The same rules as a ClusterRole manifest, a comment with each rule's reason."""
    return rbac.cluster_role(spec)


def team_rights(spec: Spec, team: str) -> list[rbac.Rule]:
    """The rules of the Role a team's identity needs for `up --team`, in its app namespace."""
    from .team import team_of

    team_of(spec, team)
    return rbac.team_rules(spec)


def team_role(spec: Spec, team: str) -> str:
    """The team's Role and a RoleBinding to fill in, in its app namespace: nothing cluster-scoped."""
    from .team import team_of

    return rbac.team_role(spec, team, team_of(spec, team).app_namespace)


def kubeconfig(spec: Spec) -> str:
    """The kubeconfig path of the environment's cluster (a simulated one's once `up` started it)."""
    target = ClusterTarget.of(spec)
    if target.simulated and not Path(target.kubeconfig).is_file():
        raise UsageError(
            f"{target.environment}'s simulated cluster does not exist yet: run `meshinstall up {target.environment}`"
        )
    return target.kubeconfig


@dataclass(frozen=True)
class SimulatedCluster:
    """Whether a simulated control plane runs, and where its files and logs are."""

    environment: str
    state: str
    files: Path
    logs: Path


def simulated_cluster(spec: Spec) -> SimulatedCluster:
    """The environment's simulated control plane; a UsageError for an existing cluster."""
    target = ClusterTarget.of(spec)
    plane = target.control_plane()
    if plane is None:
        raise UsageError(
            f"{target.environment} uses an existing cluster: see `kubectl --kubeconfig {target.kubeconfig} get nodes`"
        )
    state = (
        "running"
        if plane.running()
        else "stopped (the next up or refresh restarts it)"
        if plane.created()
        else "not created"
    )
    return SimulatedCluster(target.environment, state, plane.root, plane.logs)


def versions() -> list[MeshRelease]:
    """The mesh versions meshinstall can install, with their Kubernetes range."""
    return list(SUPPORTED.values())

"""Which cluster an environment runs on and how to reach it: the one place the program, checks and CLI ask."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..components.cluster import ClusterArgs
from ..schemas.model import Spec
from ..simulator import LocalClusterConfig, LocalControlPlane
from . import engine


@dataclass(frozen=True)
class ClusterTarget:
    """An environment's cluster: its kubeconfig path and context and, when simulated, the simulator's config."""

    environment: str
    kubeconfig: str
    context: str | None = None
    simulator: LocalClusterConfig | None = None  # set: a local control plane that meshinstall starts

    @classmethod
    def of(cls, spec: Spec) -> ClusterTarget:
        """The cluster of `spec`: a simulated one under `.meshinstall/clusters/<env>` next to the spec, or an existing
        one through the spec's kubeconfig ($KUBECONFIG or ~/.kube/config when it names none)."""
        cluster = spec.cluster
        if cluster.simulated:
            capacity = cluster.node_capacity
            config = LocalClusterConfig(
                state_dir=str(spec.base_dir / ".meshinstall" / "clusters" / spec.name),
                nodes=cluster.nodes,
                cpu=capacity.cpu,
                memory=capacity.memory,
                pods=capacity.pods,
                kubernetes_version=cluster.kubernetes_version,
                search_path=engine.search_path(),
            )
            return cls(spec.name, str(config.kubeconfig_path), None, config)
        configured = cluster.kubeconfig
        default = Path(os.environ.get("KUBECONFIG", "~/.kube/config")).expanduser()
        path = spec.resolve_path(configured) if configured else default
        return cls(spec.name, str(path), cluster.context)

    @property
    def simulated(self) -> bool:
        """Whether meshinstall runs this cluster itself (and `up` starts it)."""
        return self.simulator is not None

    def control_plane(self) -> LocalControlPlane | None:
        """The simulated cluster's processes and files (None for an existing cluster)."""
        return LocalControlPlane(self.simulator) if self.simulator else None

    def cluster_args(self) -> ClusterArgs:
        """The `Cluster` component's arguments: start the simulator, or use the kubeconfig and context."""
        if self.simulator:
            return ClusterArgs(simulated=self.simulator)
        return ClusterArgs(kubeconfig=self.kubeconfig, context=self.context)

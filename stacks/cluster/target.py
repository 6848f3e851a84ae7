"""Which cluster an environment runs on and how to reach it: the one place the program, checks and CLI ask."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ... import search_path
from ...components import ADOPTED, INGRESS_NAMESPACE, ISTIO_NAMESPACE, MONITORING_NAMESPACE, managed_by_meshinstall
from ...errors import ClusterUnreachable
from ...schemas.model import Spec
from ...simulator import ControlPlaneError, LocalClusterConfig, LocalControlPlane
from . import kube

if TYPE_CHECKING:
    from ...components.cluster import ClusterArgs


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
                search_path=search_path(),
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

    def require_running(self, command: str) -> None:
        """A read-only command on a simulated cluster that was created and has stopped says so; it starts nothing."""
        plane = self.control_plane()
        if plane and plane.created() and not plane.running():
            raise ClusterUnreachable(
                f"the simulated cluster of {self.environment} is stopped, and `{command}` does not start it: "
                f"`meshinstall up {self.environment}` restarts it"
            )

    def restart_if_stopped(self) -> bool:
        """A simulated cluster created earlier whose processes died (reboot, crash) or run outdated flags restarts on
        its data; whether it did."""
        plane = self.control_plane()
        try:
            return plane.ensure() if plane else False
        except ControlPlaneError as err:
            raise ClusterUnreachable(f"the simulated cluster of {self.environment} did not restart: {err}") from err

    def adopted_namespaces(self, wanted: Iterable[str]) -> frozenset[str]:
        """The namespaces in `wanted` that someone else created: present without meshinstall's label, or adopted by an
        earlier `up` (annotated ADOPTED). `destroy` leaves them in place. Empty when the cluster cannot be read yet."""
        if self.simulated or not Path(self.kubeconfig).is_file():
            return frozenset()
        try:
            present = [
                n["metadata"]
                for n in kube.list_metadata(kube.connect(self.kubeconfig, self.context), "v1", "namespaces")
            ]
        except Exception:  # noqa: BLE001 (unreachable: doctor's MI005 and the engine say why)
            return frozenset()
        return frozenset(
            n["name"]
            for n in present
            if n["name"] in set(wanted)
            and (not managed_by_meshinstall(n.get("labels")) or ADOPTED in (n.get("annotations") or {}))
        )

    def cluster_args(self) -> ClusterArgs:
        """The `Cluster` component's arguments: start the simulator, or use the kubeconfig and context."""
        from ...components.cluster import ClusterArgs

        if self.simulator:
            return ClusterArgs(simulated=self.simulator)
        return ClusterArgs(kubeconfig=self.kubeconfig, context=self.context)


def spec_namespaces(spec: Spec) -> tuple[str, ...]:
    """Every namespace `up` of `spec` declares: the platform's and each team's."""
    teams = tuple(ns for team in spec.paas.teams for ns in team.namespaces)
    if spec.mesh.linkerd:
        from ...components.manifests import linkerd

        optional = (
            (linkerd.LINKERD_CNI_NAMESPACE, spec.cni_enabled),
            (linkerd.LINKERD_VIZ_NAMESPACE, spec.monitoring.prometheus.enabled),
            (linkerd.ENVOY_GATEWAY_NAMESPACE, spec.mesh.ingress_gateway.enabled),
        )
        chosen = tuple(name for name, wanted in optional if wanted)
        return (linkerd.LINKERD_NAMESPACE, *chosen, MONITORING_NAMESPACE, *teams)
    return (ISTIO_NAMESPACE, INGRESS_NAMESPACE, MONITORING_NAMESPACE, *teams)

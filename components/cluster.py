"""The cluster: a Kubernetes provider every other resource is created with."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from ..simulator import LocalClusterConfig
from .simulated_cluster import SimulatedCluster

# The provider's API client: its default (50 requests a second, bursts of 120) throttled `up` at a few hundred
# apps; kubectl sends its requests without such a limit in practice. The API server's own flow control still applies.
CLIENT_QPS = 500.0
CLIENT_BURST = 1000


@dataclass(frozen=True)
class ClusterArgs:
    """How to reach the cluster: a kubeconfig (path or contents) and an optional context."""

    kubeconfig: pulumi.Input[str] | None = None
    context: str | None = None
    simulated: LocalClusterConfig | None = None  # set: start a local control plane and use its kubeconfig


class Cluster(pulumi.ComponentResource):
    """A Kubernetes provider for an existing cluster, or for a local simulated one it starts first."""

    provider: k8s.Provider
    kubeconfig_path: pulumi.Output[str]

    def __init__(self, name: str, args: ClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("meshinstall:components:Cluster", name, None, opts)
        kubeconfig, context = args.kubeconfig, args.context
        self.kubeconfig_path = pulumi.Output.from_input(kubeconfig if isinstance(kubeconfig, str) else "")
        if args.simulated:
            local = SimulatedCluster(f"{name}-local", args.simulated, pulumi.ResourceOptions(parent=self))
            kubeconfig, context, self.kubeconfig_path = local.kubeconfig, None, local.kubeconfig_path
        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=kubeconfig,
            context=context,
            enable_server_side_apply=True,
            # a ConfigMap changes in place, as kubectl apply does (the provider's default replaces it: delete, then
            # create, for the dashboard whenever a team or app was added)
            enable_config_map_mutable=True,
            # a Secret too: Linkerd's identity issuer, rotated in place, is never absent (a replacement deletes it
            # first, and the identity controller would find no issuer)
            enable_secret_mutable=True,
            kube_client_settings=k8s.KubeClientSettingsArgs(qps=CLIENT_QPS, burst=CLIENT_BURST),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"kubeconfig_path": self.kubeconfig_path})

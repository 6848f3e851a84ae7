"""The cluster: a Kubernetes provider every other resource is created with."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s


@dataclass(frozen=True)
class ClusterArgs:
    """How to reach the cluster: a kubeconfig (path or contents) and an optional context."""

    kubeconfig: pulumi.Input[str] | None = None
    context: str | None = None


class Cluster(pulumi.ComponentResource):
    """A Kubernetes provider for an existing cluster (the simulated one hands in its own kubeconfig)."""

    provider: k8s.Provider

    def __init__(self, name: str, args: ClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("meshinstall:components:Cluster", name, None, opts)
        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=args.kubeconfig,
            context=args.context,
            enable_server_side_apply=True,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({})

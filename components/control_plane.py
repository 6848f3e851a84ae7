"""The Istio control plane: the official `base`, `cni`, `istiod` and `gateway` charts, in that order."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from . import INGRESS_GATEWAY_NAME, INGRESS_NAMESPACE, ISTIO_NAMESPACE, MESH_MEMBER_LABEL, labels, metadata
from .charts import helm_release
from .manifests.control_plane import ControlPlaneArgs


class ControlPlane(pulumi.ComponentResource):
    """istio-system and istio-ingress namespaces, then `base` -> `cni` -> `istiod` -> gateways, each waiting for the last."""

    istiod: k8s.helm.v3.Release
    ready: list[pulumi.Resource]
    gateway_address: pulumi.Output[str]

    def __init__(self, name: str, args: ControlPlaneArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("meshinstall:components:ControlPlane", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        namespace = self._namespace(ISTIO_NAMESPACE, child)
        base = helm_release(args.base, self, [namespace])
        before_istiod: list[pulumi.Resource] = [base, *args.after]
        if args.cni:
            before_istiod.append(helm_release(args.cni, self, [base]))
        self.istiod = helm_release(args.istiod, self, before_istiod)
        istiods = [self.istiod, *(helm_release(other, self, before_istiod) for other in args.more_istiods)]
        self.ready = list(istiods)
        self.gateway_address = pulumi.Output.from_input("")
        if args.ingress_gateway:
            ingress_ns = self._namespace(args.ingress_gateway.namespace, child)
            gateway = helm_release(args.ingress_gateway, self, [*istiods, ingress_ns])
            self.ready.append(gateway)
            self.gateway_address = gateway.status.apply(
                lambda _: f"{INGRESS_GATEWAY_NAME}.{INGRESS_NAMESPACE}.svc.cluster.local"
            )
        if args.egress_gateway:
            self.ready.append(helm_release(args.egress_gateway, self, istiods))
        self.register_outputs({"gateway_address": self.gateway_address})

    def _namespace(self, name: str, opts: pulumi.ResourceOptions) -> k8s.core.v1.Namespace:
        return k8s.core.v1.Namespace(
            name,
            metadata=metadata(name, None, labels(**{MESH_MEMBER_LABEL: "true"})),
            opts=opts,
        )

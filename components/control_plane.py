"""The Istio control plane: the official `base`, `cni`, `istiod` and `gateway` charts, in that order."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from ..schemas.model import Mesh, Sidecars
from . import INGRESS_GATEWAY_NAME, INGRESS_NAMESPACE, ISTIO_NAMESPACE, MESH_MEMBER_LABEL, labels, metadata
from .charts import HelmRelease, helm_release


@dataclass(frozen=True)
class ControlPlaneArgs:
    """The control plane's releases, in install order; the optional ones are None when the spec leaves them out."""

    base: HelmRelease
    istiod: HelmRelease
    cni: HelmRelease | None = None
    ingress_gateway: HelmRelease | None = None
    egress_gateway: HelmRelease | None = None
    after: tuple[pulumi.Resource, ...] = ()  # the Gateway API CRDs, which istiod watches when present
    more_istiods: tuple[HelmRelease, ...] = ()  # other revisions side by side, during a canary upgrade


def base_values(mesh: Mesh) -> dict[str, Any]:
    """Values of the `base` chart (the Istio CRDs, cluster roles and the default-revision validator)."""
    return {"defaultRevision": mesh.revision or "default", "global": {"istioNamespace": ISTIO_NAMESPACE}}


def istiod_values(mesh: Mesh, sidecars: Sidecars, cni: bool) -> dict[str, Any]:
    """Values of the `istiod` chart from the spec: revision, autoscaling, resources, CNI, policy, tracing, proxy defaults.

    `default` sets no chart `profile` (the chart's built-in defaults are istioctl's default profile); `minimal` is the
    same istiod without autoscaling.
    """
    proxy = sidecars.proxy
    requests = mesh.resources.istiod
    return {
        "revision": mesh.revision or "",
        "autoscaleEnabled": mesh.profile == "default",
        "replicaCount": 1,
        "resources": {"requests": {"cpu": requests.cpu, "memory": requests.memory}},
        "traceSampling": mesh.tracing.sampling_percent,
        "cni": {"enabled": cni},
        "global": {
            "istioNamespace": ISTIO_NAMESPACE,
            "proxy": {
                "resources": {
                    "requests": {"cpu": proxy.cpu, "memory": proxy.memory},
                    "limits": {"cpu": proxy.cpu_limit, "memory": proxy.memory_limit},
                },
            },
        },
        "meshConfig": {
            "outboundTrafficPolicy": {"mode": mesh.outbound_traffic_policy},
            "enableTracing": mesh.tracing.sampling_percent > 0,
            "defaultConfig": {
                "holdApplicationUntilProxyStarts": sidecars.hold_application_until_proxy_starts,
                "tracing": {"sampling": mesh.tracing.sampling_percent},
            },
        },
    }


def cni_values(mesh: Mesh) -> dict[str, Any]:
    """Values of the `cni` chart: the node agent for the revision that istiod serves."""
    return {"revision": mesh.revision or ""}


def gateway_values(mesh: Mesh) -> dict[str, Any]:
    """Values of the ingress `gateway` chart; the spec's Service type is honored on every cluster."""
    gateway = mesh.ingress_gateway
    return {
        "revision": mesh.revision or "",
        "replicaCount": gateway.replicas,
        "autoscaling": {"enabled": False},
        "labels": {"istio": "ingressgateway", "app": INGRESS_GATEWAY_NAME},
        "service": {"type": gateway.service_type},
    }


def egress_values(mesh: Mesh) -> dict[str, Any]:
    """Values of the egress gateway (the `gateway` chart as a ClusterIP deployment)."""
    return {
        "revision": mesh.revision or "",
        "replicaCount": mesh.egress_gateway.replicas,
        "autoscaling": {"enabled": False},
        "labels": {"istio": "egressgateway", "app": "istio-egressgateway"},
        "service": {"type": "ClusterIP"},
    }


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

"""The Istio control plane: the official `base`, `istiod` and `gateway` charts, in that order."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from ..schemas.model import Mesh, Sidecars
from . import INGRESS_GATEWAY_NAME, INGRESS_NAMESPACE, ISTIO_NAMESPACE, MESH_MEMBER_LABEL, labels, metadata
from .charts import ChartSource, helm_release


@dataclass(frozen=True)
class ControlPlaneArgs:
    """What the control plane needs: the mesh and sidecar settings and where its charts come from."""

    mesh: Mesh
    sidecars: Sidecars
    base_chart: ChartSource
    istiod_chart: ChartSource
    gateway_chart: ChartSource
    simulated: bool = False


def base_values(mesh: Mesh) -> dict[str, Any]:
    """Values of the `base` chart (CRDs and cluster roles)."""
    return {"defaultRevision": mesh.revision or "default", "global": {"istioNamespace": ISTIO_NAMESPACE}}


def istiod_values(mesh: Mesh, sidecars: Sidecars) -> dict[str, Any]:
    """Values of the `istiod` chart from the spec: profile, revision, resources, policy, tracing, proxy defaults."""
    proxy = sidecars.proxy
    requests = mesh.resources.istiod
    return {
        "profile": mesh.profile,
        "revision": mesh.revision or "",
        "global": {
            "istioNamespace": ISTIO_NAMESPACE,
            "proxy": {
                "resources": {
                    "requests": {"cpu": proxy.cpu, "memory": proxy.memory},
                    "limits": {"cpu": proxy.cpu_limit, "memory": proxy.memory_limit},
                },
                "holdApplicationUntilProxyStarts": sidecars.hold_application_until_proxy_starts,
            },
        },
        "pilot": {
            "autoscaleEnabled": mesh.profile == "default",
            "replicaCount": 1,
            "resources": {"requests": {"cpu": requests.cpu, "memory": requests.memory}},
            "traceSampling": mesh.tracing.sampling_percent,
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


def gateway_values(mesh: Mesh, simulated: bool) -> dict[str, Any]:
    """Values of the ingress `gateway` chart.

    A simulated cluster assigns no LoadBalancer addresses, so its gateway Service falls back to ClusterIP
    (Helm would wait forever for an address).
    """
    gateway = mesh.ingress_gateway
    service_type = "ClusterIP" if simulated and gateway.service_type == "LoadBalancer" else gateway.service_type
    return {
        "revision": mesh.revision or "",
        "replicaCount": gateway.replicas,
        "autoscaling": {"enabled": False},
        "labels": {"istio": "ingressgateway", "app": INGRESS_GATEWAY_NAME},
        "service": {"type": service_type},
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
    """istio-system and istio-ingress namespaces, then `base` -> `istiod` -> gateways, each waiting for the last."""

    istiod: k8s.helm.v3.Release
    ready: list[pulumi.Resource]
    gateway_address: pulumi.Output[str]

    def __init__(self, name: str, args: ControlPlaneArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("meshinstall:components:ControlPlane", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        mesh = args.mesh
        namespace = self._namespace(ISTIO_NAMESPACE, child)
        base = self._release("istio-base", args.base_chart, ISTIO_NAMESPACE, base_values(mesh), [namespace])
        self.istiod = self._release("istiod", args.istiod_chart, ISTIO_NAMESPACE, istiod_values(mesh, args.sidecars), [base])
        self.ready = [self.istiod]
        self.gateway_address = pulumi.Output.from_input("")
        if mesh.ingress_gateway.enabled:
            ingress_ns = self._namespace(INGRESS_NAMESPACE, child)
            gateway = self._release(
                INGRESS_GATEWAY_NAME, args.gateway_chart, INGRESS_NAMESPACE, gateway_values(mesh, args.simulated), [self.istiod, ingress_ns]
            )
            self.ready.append(gateway)
            self.gateway_address = gateway.status.apply(
                lambda _: f"{INGRESS_GATEWAY_NAME}.{INGRESS_NAMESPACE}.svc.cluster.local"
            )
        if mesh.egress_gateway.enabled:
            egress = self._release("istio-egressgateway", args.gateway_chart, ISTIO_NAMESPACE, egress_values(mesh), [self.istiod])
            self.ready.append(egress)
        self.register_outputs({"gateway_address": self.gateway_address})

    def _namespace(self, name: str, opts: pulumi.ResourceOptions) -> k8s.core.v1.Namespace:
        return k8s.core.v1.Namespace(
            name,
            metadata=metadata(name, None, labels(**{MESH_MEMBER_LABEL: "true"})),
            opts=opts,
        )

    def _release(self, name: str, source: ChartSource, namespace: str, values: dict[str, Any], after: list[pulumi.Resource]) -> k8s.helm.v3.Release:
        return helm_release(name, source, namespace, values, self, after)

"""The Istio control plane's releases and each chart's values (`base`, `istiod`, `cni`, `gateway`), as pure functions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ...schemas.model import Mesh, Sidecars
from .. import INGRESS_GATEWAY_NAME, ISTIO_NAMESPACE
from ..charts import HelmRelease

if TYPE_CHECKING:
    import pulumi


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

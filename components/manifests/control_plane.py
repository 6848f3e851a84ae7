"""The Istio control plane's releases and each chart's values (`base`, `istiod`, `cni`, `gateway`), as pure functions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

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


@dataclass(frozen=True)
class ProxyResources:
    """Each sidecar proxy's CPU and memory requests and limits."""

    cpu: str
    memory: str
    cpu_limit: str
    memory_limit: str


@dataclass(frozen=True)
class IstiodSettings:
    """One istiod revision: its profile, requests, CNI, outbound policy, trace sampling and the sidecars' defaults."""

    revision: str  # "" for the default revision
    profile: str  # `default` autoscales, `minimal` does not
    cpu: str
    memory: str
    cni: bool
    outbound_traffic_policy: str
    trace_sampling: float  # percent of requests
    proxy: ProxyResources
    hold_application_until_proxy_starts: bool


def base_values(default_revision: str) -> dict[str, Any]:
    """Values of the `base` chart (the Istio CRDs, cluster roles and the default-revision validator)."""
    return {"defaultRevision": default_revision, "global": {"istioNamespace": ISTIO_NAMESPACE}}


def istiod_values(istiod: IstiodSettings) -> dict[str, Any]:
    """Values of the `istiod` chart: revision, autoscaling, resources, CNI, policy, tracing, proxy defaults.

    `default` sets no chart `profile` (the chart's built-in defaults are istioctl's default profile); `minimal` is the
    same istiod without autoscaling.
    """
    proxy = istiod.proxy
    return {
        "revision": istiod.revision,
        "autoscaleEnabled": istiod.profile == "default",
        "replicaCount": 1,
        "resources": {"requests": {"cpu": istiod.cpu, "memory": istiod.memory}},
        "traceSampling": istiod.trace_sampling,
        "cni": {"enabled": istiod.cni},
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
            "outboundTrafficPolicy": {"mode": istiod.outbound_traffic_policy},
            "enableTracing": istiod.trace_sampling > 0,
            "defaultConfig": {
                "holdApplicationUntilProxyStarts": istiod.hold_application_until_proxy_starts,
                "tracing": {"sampling": istiod.trace_sampling},
            },
        },
    }


def cni_values(revision: str) -> dict[str, Any]:
    """Values of the `cni` chart: the node agent for the revision that istiod serves ("" for the default)."""
    return {"revision": revision}


def gateway_values(revision: str, replicas: int, service_type: str) -> dict[str, Any]:
    """Values of the ingress `gateway` chart; the spec's Service type is honored on every cluster."""
    return {
        "revision": revision,
        "replicaCount": replicas,
        "autoscaling": {"enabled": False},
        "labels": {"istio": "ingressgateway", "app": INGRESS_GATEWAY_NAME},
        "service": {"type": service_type},
    }


def egress_values(revision: str, replicas: int) -> dict[str, Any]:
    """Values of the egress gateway (the `gateway` chart as a ClusterIP deployment)."""
    return {
        "revision": revision,
        "replicaCount": replicas,
        "autoscaling": {"enabled": False},
        "labels": {"istio": "egressgateway", "app": "istio-egressgateway"},
        "service": {"type": "ClusterIP"},
    }

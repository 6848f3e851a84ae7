"""What the platform's charts request, as the official charts render with meshinstall's values.

The figures below are read off `helm template` of the pinned charts; `tests/test_chart_render.py` renders every
example environment and fails when they differ, so a chart upgrade cannot change them unnoticed.
"""

from __future__ import annotations

from dataclasses import dataclass

from .model import Spec
from .quantity import bytes_of, millicores

# Requests of the charts' own containers at their defaults (meshinstall does not override them).
GATEWAY_POD = ("100m", "128Mi")  # gateway chart `resources.requests`
CNI_NODE_POD = ("100m", "100Mi")  # cni chart `resources.requests`, one pod per node
KIALI_POD = ("10m", "64Mi")  # kiali-server `deployment.resources.requests`
ENVOY_GATEWAY_POD = ("100m", "256Mi")  # gateway-helm `deployment.envoyGateway.resources.requests`
ENVOY_PROXY_POD = ("100m", "512Mi")  # the Envoy proxies Envoy Gateway makes for a Gateway (its default requests)
LINKERD_PODS = 3  # destination, identity, proxy-injector; only identity's proxy states requests (the spec's proxy's)
LINKERD_VIZ_PODS = 4  # metrics-api, tap, tap-injector, web


@dataclass(frozen=True)
class Footprint:
    """CPU (millicores), memory (bytes) and pods the platform itself asks of the nodes."""

    cpu: int = 0
    memory: int = 0
    pods: int = 0

    def __add__(self, other: Footprint) -> Footprint:
        return Footprint(self.cpu + other.cpu, self.memory + other.memory, self.pods + other.pods)


def _pods(count: int, cpu: str = "0", memory: str = "0") -> Footprint:
    return Footprint(count * millicores(cpu), count * bytes_of(memory), count)


def platform_footprint(spec: Spec, nodes: int) -> Footprint:
    """The control plane and monitoring on `nodes` nodes: istiod, the CNI agent, gateways, monitoring, Kiali, Jaeger.

    kube-prometheus-stack's containers set no requests; its pods are the operator, kube-state-metrics, Grafana, one
    node-exporter per node, and the Prometheus and Alertmanager pods the operator makes.
    """
    mesh, monitoring = spec.mesh, spec.monitoring
    if mesh.linkerd:
        return _linkerd(spec, nodes) + _monitoring(spec, nodes)
    total = _pods(1, mesh.resources.istiod.cpu, mesh.resources.istiod.memory)
    if spec.cni_enabled:
        total += _pods(nodes, *CNI_NODE_POD)
    for gateway in (mesh.ingress_gateway, mesh.egress_gateway):
        if gateway.enabled:
            total += _pods(gateway.replicas, *GATEWAY_POD)
    total += _monitoring(spec, nodes)
    if monitoring.kiali.enabled:
        total += _pods(1, *KIALI_POD)
    if monitoring.tracing.enabled:
        total += _pods(1)
    return total


def _monitoring(spec: Spec, nodes: int) -> Footprint:
    monitoring = spec.monitoring
    if not monitoring.prometheus.enabled:
        return Footprint()
    return _pods(2 + int(monitoring.grafana.enabled) + nodes + 1 + int(monitoring.alerts.enabled))


def _linkerd(spec: Spec, nodes: int) -> Footprint:
    """Linkerd's control plane, its CNI plugin (no requests), linkerd-viz (with Prometheus), Envoy Gateway and the
    proxies it makes for the shared Gateway."""
    proxy = spec.sidecars.proxy
    total = _pods(LINKERD_PODS - 1) + _pods(1, proxy.cpu, proxy.memory)
    if spec.cni_enabled:
        total += _pods(nodes)
    if spec.monitoring.prometheus.enabled:
        total += _pods(LINKERD_VIZ_PODS)
    if spec.mesh.ingress_gateway.enabled:
        total += _pods(1, *ENVOY_GATEWAY_POD) + _pods(spec.mesh.ingress_gateway.replicas, *ENVOY_PROXY_POD)
    return total


def quota_footprint(spec: Spec) -> Footprint:
    """Every team's quota, once per namespace of the team."""
    total = Footprint()
    for team in spec.paas.teams:
        count = len(team.namespaces)
        total += Footprint(
            count * millicores(team.quota.cpu), count * bytes_of(team.quota.memory), count * team.quota.pods
        )
    return total

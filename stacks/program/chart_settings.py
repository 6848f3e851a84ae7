"""The settings of the charts meshinstall installs, from the spec: istiod's (the mesh's and the sidecars') and
kube-prometheus-stack's; stacks/program/releases.py turns them into each chart's values."""

from __future__ import annotations

from ...components.manifests.control_plane import IstiodSettings, ProxyResources
from ...components.manifests.linkerd import LinkerdSettings
from ...components.manifests.monitoring import GRAFANA_SECRET, PrometheusStack
from ...components.manifests.registry import Registry
from ...schemas import model


def istiod_settings(spec: model.Spec, revision: str) -> IstiodSettings:
    """The settings of istiod at `revision` ("" for the default one): the mesh's and the sidecars' from the spec."""
    mesh, sidecars = spec.mesh, spec.sidecars
    return IstiodSettings(
        revision=revision,
        profile=mesh.profile,
        cpu=mesh.resources.istiod.cpu,
        memory=mesh.resources.istiod.memory,
        cni=spec.cni_enabled,
        outbound_traffic_policy=mesh.outbound_traffic_policy,
        trace_sampling=mesh.tracing.sampling_percent,
        proxy=proxy_resources(spec),
        hold_application_until_proxy_starts=sidecars.hold_application_until_proxy_starts,
    )


def proxy_resources(spec: model.Spec) -> ProxyResources:
    """Each proxy's requests and limits (Istio's sidecar, Linkerd's proxy)."""
    proxy = spec.sidecars.proxy
    return ProxyResources(proxy.cpu, proxy.memory, proxy.cpu_limit, proxy.memory_limit)


def linkerd_settings(spec: model.Spec) -> LinkerdSettings:
    """Linkerd's control plane settings: CNI, the proxies' resources and start, and mTLS."""
    return LinkerdSettings(
        spec.cni_enabled, proxy_resources(spec), spec.sidecars.hold_application_until_proxy_starts, spec.mesh.mtls
    )


def registry_of(spec: model.Spec) -> Registry | None:
    """The private registry the platform's images come from (`images.registry`), or None."""
    images = spec.images
    return Registry(images.registry, images.pull_secrets, images.apps) if images.registry else None


def prometheus_stack(monitoring: model.Monitoring) -> PrometheusStack:
    """kube-prometheus-stack's settings; Grafana's admin password comes from GRAFANA_SECRET when the spec gives one."""
    grafana = monitoring.grafana
    password_secret = GRAFANA_SECRET if grafana.enabled and grafana.admin_password else None
    return PrometheusStack(
        monitoring.prometheus.retention,
        monitoring.prometheus.storage,
        grafana.enabled,
        monitoring.alerts.enabled,
        password_secret,
    )

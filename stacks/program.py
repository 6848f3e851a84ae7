"""The Pulumi program: the validated spec, wired into components in dependency order."""

from __future__ import annotations

import os
from pathlib import Path

import pulumi

from ..components import charts
from ..components.app import service_host
from ..components.cluster import Cluster, ClusterArgs
from ..components.local_control_plane import LocalClusterConfig
from ..components.control_plane import ControlPlane, ControlPlaneArgs
from ..components.monitoring import AppTarget, MonitoringArgs, MonitoringStack
from ..components.paas import PaasArgs, PaasLayer
from ..components.sidecars import Sidecars, SidecarsArgs, injection_labels
from ..schemas.model import Spec
from . import engine
from .secrets import ResolvedSecrets


CRDS_VARIABLE = "MESHINSTALL_CRDS_DIR"


def local_cluster_config(spec: Spec) -> LocalClusterConfig:
    """The simulated cluster of `spec`: its files under `.meshinstall/clusters/<env>` next to the spec."""
    cluster = spec.cluster
    capacity = cluster.node_capacity
    return LocalClusterConfig(
        state_dir=str(spec.base_dir / ".meshinstall" / "clusters" / spec.name),
        nodes=cluster.nodes,
        cpu=capacity.cpu,
        memory=capacity.memory,
        pods=capacity.pods,
        kubernetes_version=cluster.kubernetes_version,
        crds_dir=os.environ.get(CRDS_VARIABLE, ""),
        search_path=engine.search_path(),
    )


def cluster_args(spec: Spec) -> ClusterArgs:
    """A simulated cluster's config, or the kubeconfig and context of an existing one ($KUBECONFIG or ~/.kube/config)."""
    if spec.cluster.provider == "simulated":
        return ClusterArgs(simulated=local_cluster_config(spec))
    configured = spec.cluster.kubeconfig
    path = spec.resolve_path(configured) if configured else Path(os.environ.get("KUBECONFIG", "~/.kube/config")).expanduser()
    return ClusterArgs(kubeconfig=str(path), context=spec.cluster.context)


def chart_mirror(spec: Spec) -> Path | None:
    """The spec's chart mirror folder, if any."""
    return spec.resolve_path(spec.charts.mirror) if spec.charts.mirror else None


def chart_sources(spec: Spec) -> tuple[charts.ChartSource, ...]:
    """Every chart `spec` installs: base, istiod, gateway, kube-prometheus-stack, kiali-server, jaeger (in that order)."""
    mirror, version = chart_mirror(spec), spec.mesh.version
    istio = tuple(charts.chart(name, mirror, version) for name in ("base", "istiod", "gateway"))
    return istio + tuple(charts.chart(name, mirror) for name in ("kube-prometheus-stack", "kiali-server", "jaeger"))


def needed_charts(spec: Spec) -> tuple[charts.ChartSource, ...]:
    """The charts `spec` actually installs (disabled gateways and monitoring parts need none)."""
    mesh, monitoring = spec.mesh, spec.monitoring
    wanted = {
        "base": True,
        "istiod": True,
        "gateway": mesh.ingress_gateway.enabled or mesh.egress_gateway.enabled,
        "kube-prometheus-stack": monitoring.prometheus.enabled,
        "kiali-server": monitoring.kiali.enabled,
        "jaeger": monitoring.tracing.enabled,
    }
    return tuple(source for source in chart_sources(spec) if wanted[source.name])


def build(spec: Spec, secrets: ResolvedSecrets) -> None:
    """Declare the whole platform for `spec`; export the stack outputs."""
    base, istiod, gateway, prometheus, kiali, jaeger = chart_sources(spec)
    k8s_cluster = Cluster("cluster", cluster_args(spec))
    on_cluster = pulumi.ResourceOptions(providers={"kubernetes": k8s_cluster.provider})
    mesh = spec.mesh
    control_plane = ControlPlane(
        "control-plane",
        ControlPlaneArgs(mesh, spec.sidecars, base, istiod, gateway, simulated=spec.cluster.provider == "simulated"),
        on_cluster,
    )
    after = tuple(control_plane.ready)
    namespaces = tuple(ns for team in spec.paas.teams for ns in team.namespaces)
    Sidecars(
        "sidecars", SidecarsArgs(mesh.mtls, mesh.outbound_traffic_policy, namespaces, after), on_cluster
    )
    proxy = spec.sidecars.proxy
    paas = PaasLayer(
        "paas",
        PaasArgs(spec.paas, injection_labels(mesh.revision), {"cpu": proxy.cpu, "memory": proxy.memory}, secrets.app_env, after),
        on_cluster,
    )
    targets = tuple(AppTarget(team.name, team.app_namespace, app.name) for team in spec.paas.teams for app in team.apps)
    team_namespaces = tuple(ns for space in paas.teams.values() for ns in space.namespaces)
    monitoring = MonitoringStack(
        "monitoring",
        MonitoringArgs(
            spec.monitoring,
            targets,
            prometheus,
            kiali,
            jaeger,
            secrets.grafana_password,
            after + team_namespaces,
        ),
        on_cluster,
    )
    pulumi.export("kubeconfig", k8s_cluster.kubeconfig_path)
    pulumi.export("gatewayAddress", control_plane.gateway_address)
    pulumi.export("urls", monitoring.urls)
    pulumi.export("apps", {f"{t.team}/{t.name}": service_host(t.name, t.namespace) for t in targets})
    pulumi.export("specHash", spec.content_hash)
    pulumi.export("environment", spec.name)

"""Every Helm release a spec installs, with its chart source and values: what `up` applies and the render tests read."""

from __future__ import annotations

import dataclasses
import os
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ...components import (
    INGRESS_GATEWAY_NAME,
    INGRESS_NAMESPACE,
    ISTIO_BASE_RELEASE,
    ISTIO_NAMESPACE,
    MONITORING_NAMESPACE,
)
from ...components.charts import GATEWAY_API_FILE, GATEWAY_API_URL, PINNED, ChartSource, HelmRelease, chart
from ...components.manifests import linkerd as linkerd_manifests
from ...components.manifests.control_plane import base_values, cni_values, egress_values, gateway_values, istiod_values
from ...components.manifests.monitoring import (
    PROMETHEUS_STACK_RELEASE,
    jaeger_values,
    kiali_values,
    prometheus_stack_values,
)
from ...components.manifests.registry import Registry, chart_values, merged
from ...schemas.model import Spec
from .chart_settings import istiod_settings, linkerd_settings, prometheus_stack, registry_of
from .upgrade import MeshLayout, Revision, steady

# Overrides `charts.mirror`, so that a spec in Git never holds a path of one machine.
MIRROR_VARIABLE = "MESHINSTALL_CHARTS_MIRROR"


@dataclass(frozen=True)
class Mirror:
    """The chart mirror in use and where that choice came from."""

    path: Path | None
    origin: str  # "$MESHINSTALL_CHARTS_MIRROR", "charts.mirror" or "official repositories"

    def describe(self) -> str:
        """One line for `preview` and `status`."""
        return f"{self.path} (from {self.origin})" if self.path else "official repositories at pinned versions"


def chart_mirror(spec: Spec) -> Mirror:
    """The mirror folder: $MESHINSTALL_CHARTS_MIRROR (relative to the working folder), else the spec's `charts.mirror`."""
    override = os.environ.get(MIRROR_VARIABLE, "").strip()
    if override:
        return Mirror(Path(override).expanduser().absolute(), f"${MIRROR_VARIABLE}")
    if spec.charts.mirror:
        return Mirror(spec.resolve_path(spec.charts.mirror), "charts.mirror")
    return Mirror(None, "official repositories")


@dataclass(frozen=True)
class LinkerdReleases:
    """Linkerd's releases and Envoy Gateway's, in install order (None: the spec leaves it out)."""

    crds: HelmRelease
    cni: HelmRelease | None
    control_plane: HelmRelease
    viz: HelmRelease | None
    gateway: HelmRelease | None

    def all(self) -> tuple[HelmRelease, ...]:
        return tuple(r for r in (self.crds, self.cni, self.control_plane, self.viz, self.gateway) if r is not None)


@dataclass(frozen=True)
class Releases:
    """The releases of one environment; the optional ones are None when the spec leaves them out (Istio's, with
    Linkerd)."""

    base: HelmRelease | None
    istiod: HelmRelease | None  # the default revision's
    cni: HelmRelease | None
    ingress_gateway: HelmRelease | None
    egress_gateway: HelmRelease | None
    prometheus: HelmRelease | None
    kiali: HelmRelease | None
    jaeger: HelmRelease | None
    # the other revisions during a canary upgrade (stacks/program/upgrade.py)
    more_istiods: tuple[HelmRelease, ...] = ()
    linkerd: LinkerdReleases | None = None

    def all(self) -> tuple[HelmRelease, ...]:
        """Every release the spec installs, in install order."""
        ordered = (
            *(self.linkerd.all() if self.linkerd else ()),
            self.base,
            self.cni,
            self.istiod,
            *self.more_istiods,
            self.ingress_gateway,
            self.egress_gateway,
            self.prometheus,
            self.jaeger,
            self.kiali,
        )
        return tuple(release for release in ordered if release is not None)


def releases(spec: Spec, layout: MeshLayout | None = None) -> Releases:
    """The spec's releases: Istio's charts as `layout` lays the revisions out (by default one revision at
    `mesh.version`), the monitoring charts at meshinstall's pins; every image from `images.registry` if set."""
    return _from_registry(_releases(spec, layout), registry_of(spec))


def _from_registry(found: Any, registry: Registry | None) -> Any:
    """Each release of `found` (Releases, LinkerdReleases, a tuple of them) with its images at `registry`."""
    if registry is None or found is None:
        return found
    if isinstance(found, HelmRelease):
        return dataclasses.replace(found, values=merged(found.values, chart_values(found.chart.name, registry)))
    if isinstance(found, tuple):
        return tuple(_from_registry(each, registry) for each in found)
    changes = {f.name: _from_registry(getattr(found, f.name), registry) for f in dataclasses.fields(found)}
    return dataclasses.replace(found, **changes)


def _releases(spec: Spec, layout: MeshLayout | None = None) -> Releases:
    mesh, monitoring = spec.mesh, spec.monitoring
    mirror = chart_mirror(spec).path
    prometheus = (
        HelmRelease(
            PROMETHEUS_STACK_RELEASE,
            chart("kube-prometheus-stack", mirror),
            MONITORING_NAMESPACE,
            prometheus_stack_values(prometheus_stack(monitoring)),
        )
        if monitoring.prometheus.enabled
        else None
    )
    if mesh.linkerd:  # neither Kiali nor Jaeger: validation refuses them with Linkerd
        return Releases(None, None, None, None, None, prometheus, None, None, linkerd=linkerd(spec))
    layout = layout or steady(spec, None)
    default, gateway = layout.revisions[0], layout.gateway
    ingress, egress = mesh.ingress_gateway, mesh.egress_gateway

    def istio(name: str, release: str, namespace: str, values: dict, version: str) -> HelmRelease:
        return HelmRelease(release, chart(name, mirror, version), namespace, values)

    def istiod(revision: Revision) -> HelmRelease:
        values = istiod_values(istiod_settings(spec, revision.value))
        return istio("istiod", revision.release, ISTIO_NAMESPACE, values, revision.version)

    return Releases(
        base=istio("base", ISTIO_BASE_RELEASE, ISTIO_NAMESPACE, base_values(default.name), layout.base_version),
        istiod=istiod(default),
        cni=istio("cni", "istio-cni", ISTIO_NAMESPACE, cni_values(default.value), layout.base_version)
        if spec.cni_enabled
        else None,
        ingress_gateway=istio(
            "gateway",
            INGRESS_GATEWAY_NAME,
            INGRESS_NAMESPACE,
            gateway_values(gateway.value, ingress.replicas, ingress.service_type),
            gateway.version,
        )
        if ingress.enabled
        else None,
        egress_gateway=istio(
            "gateway",
            "istio-egressgateway",
            ISTIO_NAMESPACE,
            egress_values(gateway.value, egress.replicas),
            gateway.version,
        )
        if egress.enabled
        else None,
        prometheus=prometheus,
        kiali=HelmRelease(
            "kiali",
            chart("kiali-server", mirror),
            ISTIO_NAMESPACE,
            kiali_values(monitoring.grafana.enabled, monitoring.tracing.enabled),
        )
        if monitoring.kiali.enabled
        else None,
        jaeger=HelmRelease("jaeger", chart("jaeger", mirror), MONITORING_NAMESPACE, jaeger_values())
        if monitoring.tracing.enabled
        else None,
        more_istiods=tuple(istiod(revision) for revision in layout.revisions[1:]),
    )


def linkerd(spec: Spec) -> LinkerdReleases:
    """Linkerd's charts at `mesh.version`, and Envoy Gateway for the routes when the ingress gateway is on."""
    mirror, version = chart_mirror(spec).path, linkerd_manifests.chart_version(spec.mesh.version)
    monitoring = spec.monitoring

    def release(name: str, chart_name: str, namespace: str, values: dict, pinned: str | None = None) -> HelmRelease:
        return HelmRelease(name, chart(chart_name, mirror, pinned or version), namespace, values)

    ns = linkerd_manifests.LINKERD_NAMESPACE
    return LinkerdReleases(
        crds=release("linkerd-crds", "linkerd-crds", ns, linkerd_manifests.crds_values()),
        cni=release(
            "linkerd2-cni", "linkerd2-cni", linkerd_manifests.LINKERD_CNI_NAMESPACE, linkerd_manifests.cni_values()
        )
        if spec.cni_enabled
        else None,
        control_plane=release(
            "linkerd-control-plane",
            "linkerd-control-plane",
            ns,
            linkerd_manifests.control_plane_values(linkerd_settings(spec)),
        ),
        viz=release(
            "linkerd-viz", "linkerd-viz", linkerd_manifests.LINKERD_VIZ_NAMESPACE, linkerd_manifests.viz_values()
        )
        if monitoring.prometheus.enabled
        else None,
        gateway=release(
            "envoy-gateway",
            "gateway-helm",
            linkerd_manifests.ENVOY_GATEWAY_NAMESPACE,
            linkerd_manifests.gateway_values(),
            PINNED["gateway-helm"],
        )
        if spec.mesh.ingress_gateway.enabled
        else None,
    )


def gateway_api_source(spec: Spec) -> str | None:
    """Where the Gateway API CRDs come from (a mirror file or the official release URL), or None when not installed."""
    if not spec.mesh.gateway_api.install:
        return None
    mirror = chart_mirror(spec).path
    return str(mirror / GATEWAY_API_FILE) if mirror else GATEWAY_API_URL


def charts_in_use(spec: Spec) -> tuple[ChartSource, ...]:
    """Each chart the spec installs, once (the gateway chart serves both gateways)."""
    return tuple(dict.fromkeys(release.chart for release in releases(spec).all()))


def mirror_problems(spec: Spec) -> list[str]:
    """What the chart mirror lacks for `spec`: archives (at the pinned versions) and the Gateway API CRDs."""
    if chart_mirror(spec).path is None:
        return []
    problems = [problem for source in charts_in_use(spec) for problem in _archive_problems(source)]
    crds = gateway_api_source(spec)
    if crds and not Path(crds).is_file():
        problems.append(f"the Gateway API CRDs: {Path(crds).name} is not in the mirror")
    return problems


def _archive_problems(source: ChartSource) -> list[str]:
    """The archive is there and its Chart.yaml names the pinned version."""
    path = source.local_path()
    if path is None:
        return [f"{source.name}: {source.mirror_path.name} is not in the mirror"]
    try:
        with tarfile.open(path) as archive:
            # read up to the chart's own Chart.yaml (helm packages it first), not the whole archive
            member = next(m for m in archive if m.name.count("/") == 1 and m.name.endswith("/Chart.yaml"))
            version = str(yaml.safe_load(archive.extractfile(member).read())["version"])
    except (OSError, StopIteration, tarfile.TarError, KeyError, TypeError, AttributeError, yaml.YAMLError):
        return [f"{source.name}: {path} is not a readable chart archive"]
    if version != source.version:
        return [f"{source.name}: {path.name} holds version {version}, meshinstall pins {source.version}"]
    return []

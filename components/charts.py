"""Where each Helm chart comes from: the official repository at a pinned version, or a local mirror."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the sources and releases are read without the Pulumi SDK (stacks/program/releases.py); only `helm_release` needs it
    import pulumi
    import pulumi_kubernetes as k8s

ISTIO_REPOSITORY = "https://istio-release.storage.googleapis.com/charts"
LINKERD_REPOSITORY = "https://helm.linkerd.io/edge"

# Official chart repositories; Istio's charts (base, istiod, gateway, cni) follow `mesh.version`.
OFFICIAL = {
    "base": ISTIO_REPOSITORY,
    "istiod": ISTIO_REPOSITORY,
    "gateway": ISTIO_REPOSITORY,
    "cni": ISTIO_REPOSITORY,
    # Linkerd's charts follow `mesh.version` (edge-26.8.3 is chart 2026.8.3)
    "linkerd-crds": LINKERD_REPOSITORY,
    "linkerd-control-plane": LINKERD_REPOSITORY,
    "linkerd2-cni": LINKERD_REPOSITORY,
    "linkerd-viz": LINKERD_REPOSITORY,
    "gateway-helm": "oci://docker.io/envoyproxy",  # Envoy Gateway publishes its chart to an OCI registry
    "kube-prometheus-stack": "https://prometheus-community.github.io/helm-charts",
    "kiali-server": "https://kiali.org/helm-charts",
    "jaeger": "https://jaegertracing.github.io/helm-charts",
}
PINNED = {
    "kube-prometheus-stack": "88.5.3",
    "kiali-server": "2.29.0",
    "jaeger": "4.11.1",
    "gateway-helm": "v1.9.0",
}

# No chart installs the Gateway API CRDs: meshinstall does, from the mirror or the official release.
GATEWAY_API_VERSION = "v1.6.1"
GATEWAY_API_FILE = f"gateway-api-{GATEWAY_API_VERSION}-standard.crds.yaml"
GATEWAY_API_URL = (
    f"https://github.com/kubernetes-sigs/gateway-api/releases/download/{GATEWAY_API_VERSION}/standard-install.yaml"
)


@dataclass(frozen=True)
class ChartSource:
    """One chart at one version, from its repository or from a mirror folder."""

    name: str
    version: str
    mirror: Path | None = None

    @property
    def repository(self) -> str:
        """The official repository URL."""
        return OFFICIAL[self.name]

    @property
    def mirror_path(self) -> Path | None:
        """The archive this chart has in the mirror (`<name>-<version>.tgz`), whether it exists or not."""
        return self.mirror / f"{self.name}-{self.version}.tgz" if self.mirror is not None else None

    def local_path(self) -> Path | None:
        """The chart in the mirror, or None if it is not there."""
        path = self.mirror_path
        return path if path is not None and path.is_file() else None

    def release_args(self) -> dict[str, object]:
        """The chart-locating arguments of a `helm.v3.Release`."""
        import pulumi_kubernetes as k8s

        if self.mirror is not None:
            return {"chart": str(self.mirror_path)}
        if self.repository.startswith("oci://"):
            return {"chart": f"{self.repository}/{self.name}", "version": self.version}
        return {
            "chart": self.name,
            "version": self.version,
            "repository_opts": k8s.helm.v3.RepositoryOptsArgs(repo=self.repository),
        }


def chart(name: str, mirror: Path | None, version: str | None = None) -> ChartSource:
    """The source of chart `name` at `version` (default: meshinstall's pin)."""
    return ChartSource(name, version or PINNED[name], mirror)


@dataclass(frozen=True)
class HelmRelease:
    """One release meshinstall installs: its name, chart, namespace and values."""

    name: str
    chart: ChartSource
    namespace: str
    values: dict[str, Any]


def helm_release(release: HelmRelease, parent: pulumi.Resource, after: list[pulumi.Resource]) -> k8s.helm.v3.Release:
    """A Helm release that waits for its workloads to be ready.

    helm.v3.Release (not v4.Chart): Helm owns the objects, so the charts' hooks run, the charts install their own
    CRDs, and istiod flipping its validating webhook's failurePolicy at runtime is not a diff for Pulumi.
    """
    import pulumi
    import pulumi_kubernetes as k8s

    return k8s.helm.v3.Release(
        release.name,
        k8s.helm.v3.ReleaseArgs(
            name=release.name,
            namespace=release.namespace,
            values=release.values,
            timeout=600,
            **release.chart.release_args(),
        ),
        opts=pulumi.ResourceOptions(parent=parent, depends_on=after),
    )

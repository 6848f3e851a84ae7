"""Where each Helm chart comes from: the official repository at a pinned version, or a local mirror."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

# Official chart repositories and the versions meshinstall pins (Istio's follow `mesh.version`).
OFFICIAL = {
    "base": "https://istio-release.storage.googleapis.com/charts",
    "istiod": "https://istio-release.storage.googleapis.com/charts",
    "gateway": "https://istio-release.storage.googleapis.com/charts",
    "kube-prometheus-stack": "https://prometheus-community.github.io/helm-charts",
    "kiali-server": "https://kiali.org/helm-charts",
    "jaeger": "https://jaegertracing.github.io/helm-charts",
}
PINNED = {
    "kube-prometheus-stack": "79.12.0",
    "kiali-server": "2.20.0",
    "jaeger": "3.4.1",
}


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

    def local_path(self) -> Path | None:
        """The chart in the mirror (`<name>/` or `<name>-<version>.tgz`), or None if it is not there."""
        if self.mirror is None:
            return None
        for candidate in (self.mirror / self.name, self.mirror / f"{self.name}-{self.version}.tgz"):
            if candidate.exists():
                return candidate
        return None

    def release_args(self) -> dict[str, object]:
        """The chart-locating arguments of a `helm.v3.Release`."""
        if self.mirror is not None:
            path = self.local_path() or self.mirror / self.name
            return {"chart": str(path)}
        return {
            "chart": self.name,
            "version": self.version,
            "repository_opts": k8s.helm.v3.RepositoryOptsArgs(repo=self.repository),
        }


def chart(name: str, mirror: Path | None, version: str | None = None) -> ChartSource:
    """The source of chart `name` at `version` (default: meshinstall's pin)."""
    return ChartSource(name, version or PINNED[name], mirror)


def helm_release(
    name: str,
    source: ChartSource,
    namespace: str,
    values: dict[str, Any],
    parent: pulumi.Resource,
    after: list[pulumi.Resource],
) -> k8s.helm.v3.Release:
    """A Helm release that waits for its workloads to be ready.

    helm.v3.Release (not v4.Chart): Helm owns the objects, so the charts' hooks run and istiod flipping
    its validating webhook's failurePolicy at runtime is not a diff for Pulumi.
    """
    return k8s.helm.v3.Release(
        name,
        k8s.helm.v3.ReleaseArgs(name=name, namespace=namespace, values=values, timeout=600, **source.release_args()),
        opts=pulumi.ResourceOptions(parent=parent, depends_on=after),
    )

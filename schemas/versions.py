"""Mesh versions meshinstall knows how to install, and the Kubernetes versions each supports."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MeshRelease:
    """One installable mesh release: its charts and the Kubernetes minors it supports."""

    provider: str
    version: str
    kubernetes_min: str
    kubernetes_max: str | None  # None: the charts name no upper bound
    chart_repository: str

    def supports(self, kubernetes_version: str) -> bool:
        """Whether `kubernetes_version` ("1.34") is within the supported range."""
        if _minor(kubernetes_version) < _minor(self.kubernetes_min):
            return False
        return self.kubernetes_max is None or _minor(kubernetes_version) <= _minor(self.kubernetes_max)

    @property
    def kubernetes_range(self) -> str:
        """ "1.31 to 1.35", or "1.31 and newer" when the charts name no upper bound."""
        if self.kubernetes_max is None:
            return f"{self.kubernetes_min} and newer"
        return f"{self.kubernetes_min} to {self.kubernetes_max}"


def _minor(version: str) -> tuple[int, int]:
    major, minor = version.split(".")[:2]
    return int(major), int(minor)


ISTIO_CHARTS = "https://istio-release.storage.googleapis.com/charts"
LINKERD_CHARTS = "https://helm.linkerd.io/edge"

# Istio's support table (istio.io "Supported Releases"): each release supports five Kubernetes minors.
SUPPORTED: dict[tuple[str, str], MeshRelease] = {
    ("istio", "1.29.6"): MeshRelease("istio", "1.29.6", "1.31", "1.35", ISTIO_CHARTS),
    ("istio", "1.30.3"): MeshRelease("istio", "1.30.3", "1.32", "1.36", ISTIO_CHARTS),
    # Linkerd's open-source releases are the edge releases; their charts say `kubeVersion: >=1.31.0-0`.
    ("linkerd", "edge-26.8.3"): MeshRelease("linkerd", "edge-26.8.3", "1.31", None, LINKERD_CHARTS),
}
PROVIDERS = ("istio", "linkerd")


def release(provider: str, version: str) -> MeshRelease | None:
    """The supported release, or None."""
    return SUPPORTED.get((provider, version))


def supported_versions(provider: str) -> list[str]:
    """Versions of `provider` meshinstall can install."""
    return sorted(
        (v for (p, v) in SUPPORTED if p == provider),
        key=lambda v: tuple(int(n) for n in v.removeprefix("edge-").split(".")),
    )

"""MI007: the cluster's Kubernetes version is one the pinned mesh version supports."""

from __future__ import annotations

from ...stacks.cluster import kube
from ..base import Check, Context, Result, Skip, register


@register
class KubernetesVersion(Check):
    id = "MI007"
    title = "the mesh version supports the cluster's Kubernetes"
    phase = "doctor"
    needs_running_cluster = Skip(
        "the simulated cluster will run Kubernetes {spec.cluster.kubernetes_version}", "/version"
    )

    def inspect(self, ctx: Context) -> Result:
        from ...schemas.versions import release

        mesh = ctx.spec.mesh
        found = release(mesh.provider, mesh.version)
        info = kube.get(ctx.api, "/version")
        minor = f"{info['major']}.{info['minor'].rstrip('+')}"
        if found is None or not found.supports(minor):
            supported = found.kubernetes_range if found else "none"
            return self.failed(
                "/version",
                f"{mesh.provider} {mesh.version} does not support Kubernetes {minor} (supported: {supported})",
                "pick a mesh version for this cluster (`meshinstall versions`)",
            )
        return self.passed("/version", f"Kubernetes {minor} with {mesh.provider} {mesh.version}")

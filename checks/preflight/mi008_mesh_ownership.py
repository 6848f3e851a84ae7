"""MI008: no other mesh or Istio revision owns the webhooks and CRDs meshinstall would take over."""

from __future__ import annotations

from ...components import ISTIO_BASE_RELEASE, ISTIOD_RELEASE
from ...stacks.cluster import kube
from ...stacks.program.gateway_api import crd_owner
from ..base import Check, Context, Result, Skip, register

OUR_RELEASES = {ISTIOD_RELEASE, ISTIO_BASE_RELEASE}
LINKERD_RELEASES = {"linkerd-control-plane", "linkerd-viz"}


@register
class MeshOwnership(Check):
    id = "MI008"
    title = "no other mesh owns the webhooks and CRDs"
    phase = "doctor"
    needs_running_cluster = Skip("the simulated cluster is not running; `up` starts it", "webhooks, CRDs")

    def inspect(self, ctx: Context) -> Result:
        if ctx.spec.mesh.linkerd:
            return self._linkerd(ctx)
        revisions = ctx.layout.revisions  # two during a canary upgrade
        ours, our_releases = {r.name for r in revisions}, OUR_RELEASES | {r.release for r in revisions}
        conflicts = []
        for hook in kube.list_metadata(ctx.api, "admissionregistration.k8s.io/v1", "mutatingwebhookconfigurations"):
            name, labels = hook["metadata"]["name"], hook["metadata"].get("labels") or {}
            release = (hook["metadata"].get("annotations") or {}).get("meta.helm.sh/release-name")
            if "linkerd" in name or "kuma" in name:
                conflicts.append(f"webhook {name} (another mesh)")
            elif labels.get("app") == "sidecar-injector" and release not in our_releases:
                conflicts.append(
                    f"webhook {name} (Istio revision {labels.get('istio.io/rev', '?')}, not installed by meshinstall)"
                )
            elif labels.get("app") == "sidecar-injector" and labels.get("istio.io/rev", "default") not in ours:
                conflicts.append(
                    f"webhook {name} (Istio revision {labels.get('istio.io/rev')}, meshinstall runs {', '.join(sorted(ours))})"
                )
        gateway_api = []
        # names, labels and annotations only: the CRDs' bodies (their schemas, megabytes) took most of a second
        for item in kube.list_metadata(ctx.api, "apiextensions.k8s.io/v1", "customresourcedefinitions"):
            meta = item["metadata"]
            release = (meta.get("annotations") or {}).get("meta.helm.sh/release-name")
            if meta["name"].endswith(".istio.io") and release and release not in our_releases:
                conflicts.append(f"CRD {meta['name']} (Helm release {release})")
            if meta["name"].endswith("gateway.networking.k8s.io"):
                gateway_api.append(crd_owner(meta.get("labels"), meta.get("annotations")))
        if conflicts:
            return self.failed(
                "mutatingwebhookconfigurations, customresourcedefinitions",
                "; ".join(conflicts),
                "remove the other installation, or set mesh.revision to install side by side",
            )
        owners = ", ".join(sorted(set(gateway_api)))
        note = (
            f"{len(gateway_api)} Gateway API CRDs present, owned by: {owners}" if gateway_api else "no Gateway API CRDs"
        )
        return self.passed("mutatingwebhookconfigurations, customresourcedefinitions", note)

    def _linkerd(self, ctx: Context) -> Result:
        """With Linkerd: no Istio nor Kuma injects, and Linkerd's own webhooks are meshinstall's releases."""
        conflicts = []
        for hook in kube.list_metadata(ctx.api, "admissionregistration.k8s.io/v1", "mutatingwebhookconfigurations"):
            name, labels = hook["metadata"]["name"], hook["metadata"].get("labels") or {}
            release = (hook["metadata"].get("annotations") or {}).get("meta.helm.sh/release-name")
            if labels.get("app") == "sidecar-injector" or "istio" in name or "kuma" in name:
                conflicts.append(f"webhook {name} (another mesh)")
            elif name.startswith("linkerd-") and release not in LINKERD_RELEASES:
                conflicts.append(f"webhook {name} (a Linkerd not installed by meshinstall)")
        if conflicts:
            return self.failed(
                "mutatingwebhookconfigurations",
                "; ".join(conflicts),
                "remove the other installation: one mesh injects a cluster's pods",
            )
        return self.passed("mutatingwebhookconfigurations", "no other mesh injects pods")

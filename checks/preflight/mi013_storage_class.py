"""MI013: a default StorageClass exists when Prometheus keeps its data on a volume (a warning: the install goes on,
but Prometheus's claim would stay Pending)."""

from __future__ import annotations

from ...stacks.cluster import kube
from ..base import Check, Context, Result, register

DEFAULT_ANNOTATIONS = (
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",
)


@register
class DefaultStorageClass(Check):
    id = "MI013"
    title = "a default StorageClass holds Prometheus's volume"
    phase = "doctor"
    severity = "warning"

    def inspect(self, ctx: Context) -> Result:
        from ...stacks.program.releases import releases

        storage = ctx.spec.monitoring.prometheus.storage
        if releases(ctx.spec).prometheus is None:
            return self.skipped("StorageClass", "Prometheus is not installed")
        if ctx.simulated:
            return self.skipped("StorageClass", "a simulated cluster runs no Prometheus to claim a volume")
        classes = [c["metadata"] for c in kube.list_metadata(ctx.api, "storage.k8s.io/v1", "storageclasses")]
        default = [
            c["name"]
            for c in classes
            if any((c.get("annotations") or {}).get(a) == "true" for a in DEFAULT_ANNOTATIONS)
        ]
        if not default:
            names = ", ".join(c["name"] for c in classes) or "none"
            return self.failed(
                "StorageClass",
                f"no default StorageClass (classes: {names}): Prometheus's {storage} claim would stay Pending",
                'mark one StorageClass as the default (annotation storageclass.kubernetes.io/is-default-class: "true")',
            )
        return self.passed("StorageClass", f"{default[0]} is the default; Prometheus claims {storage}")

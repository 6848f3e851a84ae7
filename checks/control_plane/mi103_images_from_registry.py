"""MI103: with `images.registry`, every pod of the platform's namespaces runs images from it (a pod that pulls from
anywhere else fails on an air-gapped cluster, or escaped the mirror)."""

from __future__ import annotations

from ...stacks.cluster.target import spec_namespaces
from ...stacks.program.images import full_name
from ..base import Check, Context, Result, register


@register
class ImagesFromRegistry(Check):
    id = "MI103"
    title = "the platform's pods run images from images.registry"
    phase = "verify"

    def inspect(self, ctx: Context) -> Result:
        registry = ctx.spec.images.registry
        teams = {ns for team in ctx.spec.paas.teams for ns in team.namespaces}
        namespaces = [ns for ns in spec_namespaces(ctx.spec) if ns not in teams or ctx.spec.images.apps]
        target = "pods in " + ", ".join(namespaces)
        if not registry:
            return self.passed(target, "no images.registry: images come from their public registries")
        elsewhere = []
        for ns in namespaces:
            for pod in ctx.items("v1", "pods", ns):
                spec = pod.get("spec") or {}
                for container in (spec.get("initContainers") or []) + (spec.get("containers") or []):
                    image = full_name(container.get("image", ""))
                    if not image.startswith(f"{registry}/"):
                        elsewhere.append(f"{ns}/{pod['metadata']['name']} ({container['name']}: {image})")
        if elsewhere:
            return self.failed(
                target,
                f"{len(elsewhere)} container(s) run an image from outside {registry}: " + ", ".join(elsewhere[:5]),
                "run `meshinstall up` (a chart's image the spec rewrites); mirror what `meshinstall images ENV` lists",
            )
        return self.passed(target)

"""MI009: the nodes can hold the control plane and monitoring (as their charts request them) plus every team's quota."""

from __future__ import annotations

from ...stacks.cluster import kube
from ..base import Check, Context, Result, register


@register
class Capacity(Check):
    id = "MI009"
    title = "node capacity holds the control plane and the team quotas"
    phase = "doctor"

    def inspect(self, ctx: Context) -> Result:
        from ...schemas.footprint import platform_footprint, quota_footprint
        from ...schemas.quantity import bytes_of, format_cpu, format_memory, millicores

        spec = ctx.spec
        if ctx.cluster_not_running:
            capacity, count = spec.cluster.node_capacity, spec.cluster.nodes
            have_cpu, have_memory = count * millicores(capacity.cpu), count * bytes_of(capacity.memory)
            target = "cluster.nodeCapacity"
        else:
            nodes = kube.items(ctx.api, "v1", "nodes")
            count = len(nodes)
            have_cpu = sum(millicores(n["status"]["allocatable"]["cpu"]) for n in nodes)
            have_memory = sum(bytes_of(n["status"]["allocatable"]["memory"]) for n in nodes)
            target = f"{count} nodes' allocatable"
        need = platform_footprint(spec, count) + quota_footprint(spec)
        if need.cpu > have_cpu or need.memory > have_memory:
            return self.failed(
                target,
                f"needs {format_cpu(need.cpu)} CPU and {format_memory(need.memory)}, has {format_cpu(have_cpu)} and {format_memory(have_memory)}",
                "add nodes or lower team quotas and control-plane requests",
            )
        return self.passed(
            target,
            f"needs {format_cpu(need.cpu)} CPU / {format_memory(need.memory)} of {format_cpu(have_cpu)} / {format_memory(have_memory)}",
        )

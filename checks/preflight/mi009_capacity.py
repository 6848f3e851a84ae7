"""MI009: the nodes can hold the control plane plus every team's quota."""

from __future__ import annotations

from ..base import Check, Context, Result, register


@register
class Capacity(Check):
    id = "MI009"
    title = "node capacity holds the control plane and the team quotas"
    phase = "doctor"

    def inspect(self, ctx: Context) -> Result:
        from ...schemas.quantity import bytes_of, format_cpu, format_memory, millicores

        spec = ctx.spec
        need_cpu, need_memory = platform_requests(spec)
        if ctx.cluster_not_running():
            capacity = spec.cluster.node_capacity
            have_cpu, have_memory = spec.cluster.nodes * millicores(capacity.cpu), spec.cluster.nodes * bytes_of(capacity.memory)
            target = "cluster.nodeCapacity"
        else:
            nodes = ctx.core().list_node().items
            have_cpu = sum(millicores(n.status.allocatable["cpu"]) for n in nodes)
            have_memory = sum(bytes_of(n.status.allocatable["memory"]) for n in nodes)
            target = f"{len(nodes)} nodes' allocatable"
        if need_cpu > have_cpu or need_memory > have_memory:
            return self.failed(target, f"needs {format_cpu(need_cpu)} CPU and {format_memory(need_memory)}, has {format_cpu(have_cpu)} and {format_memory(have_memory)}",
                               "add nodes or lower team quotas and control-plane requests")
        return self.passed(target, f"needs {format_cpu(need_cpu)} CPU / {format_memory(need_memory)} of {format_cpu(have_cpu)} / {format_memory(have_memory)}")


def platform_requests(spec) -> tuple[int, int]:
    """CPU (millicores) and memory (bytes): istiod, gateway pods with their proxies, and every team quota."""
    from ...schemas.quantity import bytes_of, millicores

    mesh, proxy = spec.mesh, spec.sidecars.proxy
    gateways = mesh.ingress_gateway.replicas if mesh.ingress_gateway.enabled else 0
    gateways += mesh.egress_gateway.replicas if mesh.egress_gateway.enabled else 0
    cpu = millicores(mesh.resources.istiod.cpu) + gateways * millicores(proxy.cpu)
    memory = bytes_of(mesh.resources.istiod.memory) + gateways * bytes_of(proxy.memory)
    for team in spec.paas.teams:
        cpu += millicores(team.quota.cpu) * len(team.namespaces)
        memory += bytes_of(team.quota.memory) * len(team.namespaces)
    return cpu, memory

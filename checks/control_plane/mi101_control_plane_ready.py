"""MI101: the control-plane Deployments (istiod, the gateways) are available."""

from __future__ import annotations

from ...components import INGRESS_GATEWAY_NAME, INGRESS_NAMESPACE, ISTIO_NAMESPACE
from ..base import Check, Context, Result, register
from ..probes import available


@register
class ControlPlaneReady(Check):
    id = "MI101"
    mesh = "istio"
    title = "istiod and the gateways are available"
    phase = "verify"

    def inspect(self, ctx: Context) -> Result:
        mesh = ctx.spec.mesh
        # the chart names istiod's Deployment after its revision; during a canary upgrade two revisions run
        wanted = [(ISTIO_NAMESPACE, f"istiod-{r.value}" if r.value else "istiod", 1) for r in ctx.layout.revisions]
        if mesh.ingress_gateway.enabled:
            wanted.append((INGRESS_NAMESPACE, INGRESS_GATEWAY_NAME, mesh.ingress_gateway.replicas))
        if mesh.egress_gateway.enabled:
            wanted.append((ISTIO_NAMESPACE, "istio-egressgateway", mesh.egress_gateway.replicas))
        short = [
            f"{ns}/{name}: {found}/{replicas} available"
            for ns, name, replicas in wanted
            if (found := available(ctx, ns, name)) < replicas
        ]
        targets = ", ".join(f"deployment/{ns}/{name}" for ns, name, _ in wanted)
        if short:
            return self.failed(
                targets,
                "; ".join(short),
                "kubectl describe the Deployment (istio-system, istio-ingress); check events and node capacity",
            )
        return self.passed(targets)

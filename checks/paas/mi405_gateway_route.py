"""MI405: a routed app answers through the ingress gateway (needs running containers and a reachable gateway)."""

from __future__ import annotations

from ...components import INGRESS_GATEWAY_NAME, INGRESS_NAMESPACE
from ..base import Check, Context, Result, register


@register
class GatewayRoute(Check):
    id = "MI405"
    mesh = "istio"
    title = "routed apps answer through the ingress gateway"
    phase = "verify"
    needs_containers = "nothing answers behind the gateway's address"
    looks_at = f"service/{INGRESS_NAMESPACE}/{INGRESS_GATEWAY_NAME}"

    def inspect(self, ctx: Context) -> Result:
        routed = [(t, a) for t in ctx.spec.paas.teams for a in t.apps if a.route]
        target = self.looks_at
        if not routed:
            return self.skipped(target, "no app has a route")
        service = ctx.get(f"/api/v1/namespaces/{INGRESS_NAMESPACE}/services/{INGRESS_GATEWAY_NAME}")
        if service is None:
            return self.failed(target, "does not exist", "check that mesh.ingressGateway is enabled and MI101")
        ingress = ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        if not ingress:
            return self.skipped(target, "the gateway has no external address to reach from here")
        address = ingress[0].get("ip") or ingress[0].get("hostname")
        failing = []
        for team, app in routed:
            probe = ctx.host.run(
                f"curl -s -o /dev/null -w '%{{http_code}}' --max-time 5 -H 'Host: {app.route.host}' http://{address}{app.route.path}"
            )
            if not probe.succeeded or probe.stdout.strip() in ("000", "404", "502", "503"):
                failing.append(f"{team.name}/{app.name} ({probe.stdout.strip() or 'no answer'})")
        if failing:
            return self.failed(
                target,
                "no answer from " + ", ".join(failing),
                "check the Gateway hosts, the VirtualService and the app's pods",
            )
        return self.passed(target, f"{len(routed)} route(s) via {address}")

"""MI203: every app pod runs an istio-proxy sidecar (needs running containers)."""

from __future__ import annotations

from ..base import Check, Context, Result, register


@register
class SidecarsInjected(Check):
    id = "MI203"
    mesh = "istio"
    title = "app pods run the istio-proxy sidecar"
    phase = "verify"
    needs_containers = "no sidecar is injected there"
    looks_at = "pods of every app: container istio-proxy"

    def inspect(self, ctx: Context) -> Result:
        target = self.looks_at
        missing = []
        for team in ctx.spec.paas.teams:
            for app in team.apps:
                for pod in ctx.items("v1", "pods", team.app_namespace, f"app={app.name}"):
                    names = {
                        c["name"]
                        for c in (pod["spec"].get("containers") or []) + (pod["spec"].get("initContainers") or [])
                    }
                    if "istio-proxy" not in names:
                        missing.append(f"{team.app_namespace}/{pod['metadata']['name']}")
        if missing:
            return self.failed(
                target,
                "no sidecar in " + ", ".join(missing[:5]),
                "restart the pods (kubectl rollout restart) after checking MI102",
            )
        return self.passed(target)

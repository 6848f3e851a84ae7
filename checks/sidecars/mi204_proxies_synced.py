"""MI204: one proxy per app reports ready on its status port (asked inside the pod through testinfra's kubectl backend)."""

from __future__ import annotations

from ..base import Check, Context, Result, register


@register
class ProxiesReady(Check):
    id = "MI204"
    mesh = "istio"
    title = "sidecar proxies are ready"
    phase = "verify"
    needs_containers = "no proxy runs to ask"
    looks_at = "istio-proxy /healthz/ready of one pod per app"

    def inspect(self, ctx: Context) -> Result:
        import testinfra

        target = self.looks_at
        path, context = ctx.kubeconfig
        failing = []
        for team in ctx.spec.paas.teams:
            for app in team.apps:
                pods = ctx.items("v1", "pods", team.app_namespace, f"app={app.name}")
                if not pods:
                    failing.append(f"{team.name}/{app.name} (no pod)")
                    continue
                spec = (
                    f"kubectl://{pods[0]['metadata']['name']}?container=istio-proxy&namespace={team.app_namespace}&kubeconfig={path}"
                    + (f"&context={context}" if context else "")
                )
                if not testinfra.get_host(spec).run("curl -sf http://127.0.0.1:15021/healthz/ready").succeeded:
                    failing.append(f"{team.name}/{app.name}")
        if failing:
            return self.failed(target, "not ready: " + ", ".join(failing), "istioctl proxy-status; check istiod logs")
        return self.passed(target)

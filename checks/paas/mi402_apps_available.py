"""MI402: every app's Deployments are available and its Service has endpoints."""

from __future__ import annotations

from ..base import Check, Context, Result, register
from ..probes import available, ready_endpoints


@register
class AppsAvailable(Check):
    id = "MI402"
    title = "apps are available behind their Services"
    phase = "verify"

    def inspect(self, ctx: Context) -> Result:
        problems = []
        for team in ctx.spec.paas.teams:
            ns = team.app_namespace
            for app in team.apps:
                versions = [(app.name, app.replicas)]
                if app.traffic.canary:
                    versions.append((f"{app.name}-canary", app.traffic.canary.replicas))
                for name, replicas in versions:
                    if (found := available(ctx, ns, name)) < replicas:
                        problems.append(f"deployment/{ns}/{name} {found}/{replicas} available")
                if app.replicas and app.has_service and not ready_endpoints(ctx, ns, app.name):
                    problems.append(f"service/{ns}/{app.name} has no ready endpoints")
        if problems:
            return self.failed(
                "app Deployments and Services",
                "; ".join(problems),
                "kubectl describe the Deployment; check the quota (MI401) and events",
            )
        return self.passed("app Deployments and Services")

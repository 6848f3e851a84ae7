"""MI302: every app has its error-rate and latency alerts at the spec's thresholds."""

from __future__ import annotations

from ...components.manifests.monitoring import alert_rules_spec
from ...stacks.program.args import alert_thresholds, app_target
from ..base import Check, Context, Result, register


@register
class AppAlerts(Check):
    id = "MI302"
    title = "every app has its alert rules"
    phase = "verify"

    def inspect(self, ctx: Context) -> Result:
        monitoring = ctx.spec.monitoring
        if not (monitoring.prometheus.enabled and monitoring.alerts.enabled):
            return self.skipped("prometheusrules", "alerts are disabled")
        wrong, thresholds = [], alert_thresholds(monitoring.alerts)
        for team in ctx.spec.paas.teams:
            for app in team.apps:
                wanted = {
                    r["alert"]: r["expr"]
                    for r in alert_rules_spec(app_target(team, app, ctx.spec.mesh.provider), thresholds)["groups"][0][
                        "rules"
                    ]
                }
                live = ctx.custom_object(
                    "monitoring.coreos.com", team.app_namespace, "prometheusrules", f"{app.name}-alerts"
                )
                if live is None:
                    wrong.append(f"{team.name}/{app.name} (missing)")
                    continue
                found = {
                    r.get("alert"): r.get("expr") for g in live["spec"].get("groups", []) for r in g.get("rules", [])
                }
                if found != wanted:
                    wrong.append(f"{team.name}/{app.name} (rules differ from the spec's thresholds)")
        if wrong:
            return self.failed("prometheusrules/<app>-alerts", ", ".join(wrong), "run `meshinstall up` to restore them")
        return self.passed("prometheusrules/<app>-alerts", f"{sum(len(t.apps) for t in ctx.spec.paas.teams)} app(s)")

"""MI301: the scrape targets, the dashboard and the Prometheus resource exist, and the operator is available."""

from __future__ import annotations

from ...components import MONITORING_NAMESPACE
from ...components.manifests.monitoring import OPERATOR_NAME, PROMETHEUS_NAME, scrape_targets
from ..base import Check, Context, Result, register
from ..probes import available


@register
class MonitoringObjects(Check):
    id = "MI301"
    title = "scrape targets, dashboard and Prometheus are in place"
    phase = "verify"

    def inspect(self, ctx: Context) -> Result:
        monitoring = ctx.spec.monitoring
        if not monitoring.prometheus.enabled:
            return self.skipped("monitoring", "monitoring.prometheus is disabled")
        wanted = [(f"{kind.lower()}s", name) for kind, name in scrape_targets(ctx.spec.mesh.provider)]
        missing = [
            f"{plural}/{name}"
            for plural, name in wanted
            if ctx.custom_object("monitoring.coreos.com", MONITORING_NAMESPACE, plural, name) is None
        ]
        if monitoring.grafana.enabled and not ctx.items(
            "v1", "configmaps", MONITORING_NAMESPACE, "grafana_dashboard=1"
        ):
            missing.append("configmap with label grafana_dashboard=1")
        if ctx.custom_object("monitoring.coreos.com", MONITORING_NAMESPACE, "prometheuses", PROMETHEUS_NAME) is None:
            missing.append(f"prometheuses/{PROMETHEUS_NAME}")
        if not available(ctx, MONITORING_NAMESPACE, OPERATOR_NAME):
            missing.append(f"an available deployment/{OPERATOR_NAME}")
        target = f"namespace {MONITORING_NAMESPACE}"
        if missing:
            return self.failed(
                target,
                "missing: " + ", ".join(missing),
                "run `meshinstall up`; check the kube-prometheus-stack release",
            )
        return self.passed(target)

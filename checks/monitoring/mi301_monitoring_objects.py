"""MI301: the scrape targets, the dashboard and the Prometheus resource exist, and the operator is available."""

from __future__ import annotations

from ...components import MONITORING_NAMESPACE
from ..base import Check, Context, Result, register

# Names the kube-prometheus-stack chart gives them for the release `kube-prometheus-stack`.
PROMETHEUS = "kube-prometheus-stack-prometheus"
OPERATOR = "kube-prometheus-stack-operator"


@register
class MonitoringObjects(Check):
    id = "MI301"
    title = "scrape targets, dashboard and Prometheus are in place"
    phase = "verify"

    def inspect(self, ctx: Context) -> Result:
        monitoring = ctx.spec.monitoring
        if not monitoring.prometheus.enabled:
            return self.skipped("monitoring", "monitoring.prometheus is disabled")
        wanted = [("servicemonitors", "istiod"), ("podmonitors", "envoy-sidecars")]
        missing = [f"{plural}/{name}" for plural, name in wanted
                   if ctx.custom_object("monitoring.coreos.com", MONITORING_NAMESPACE, plural, name) is None]
        if monitoring.grafana.enabled and not ctx.core().list_namespaced_config_map(MONITORING_NAMESPACE, label_selector="grafana_dashboard=1").items:
            missing.append("configmap with label grafana_dashboard=1")
        if ctx.custom_object("monitoring.coreos.com", MONITORING_NAMESPACE, "prometheuses", PROMETHEUS) is None:
            missing.append(f"prometheuses/{PROMETHEUS}")
        operator = ctx.read(ctx.apps().read_namespaced_deployment, OPERATOR, MONITORING_NAMESPACE)
        if operator is None or not (operator.status.available_replicas or 0):
            missing.append(f"an available deployment/{OPERATOR}")
        target = f"namespace {MONITORING_NAMESPACE}"
        if missing:
            return self.failed(target, "missing: " + ", ".join(missing), "run `meshinstall up`; check the kube-prometheus-stack release")
        return self.passed(target)

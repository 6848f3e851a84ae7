"""MI301: the scrape targets and the dashboard exist, and Prometheus is available."""

from __future__ import annotations

from ...components import MONITORING_NAMESPACE
from ..base import Check, Context, Result, register


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
        # upstream the operator runs Prometheus as a StatefulSet; what matters is a ready pod
        pods = ctx.core().list_namespaced_pod(MONITORING_NAMESPACE, label_selector="app.kubernetes.io/name=prometheus").items
        if not any(c.type == "Ready" and c.status == "True" for pod in pods for c in (pod.status.conditions or [])):
            missing.append("a ready Prometheus pod")
        target = f"namespace {MONITORING_NAMESPACE}"
        if missing:
            return self.failed(target, "missing: " + ", ".join(missing), "run `meshinstall up`; check the kube-prometheus-stack release")
        return self.passed(target)

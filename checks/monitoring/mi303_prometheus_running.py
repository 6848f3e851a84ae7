"""MI303: Prometheus runs: the pod that prometheus-operator makes from the Prometheus resource is Ready."""

from __future__ import annotations

from ...components import MONITORING_NAMESPACE
from ..base import Check, Context, Result, register


@register
class PrometheusRunning(Check):
    id = "MI303"
    title = "Prometheus is running"
    phase = "verify"
    needs_containers = "prometheus-operator does not run, so it never makes the Prometheus StatefulSet"
    looks_at = f"pods app.kubernetes.io/name=prometheus in {MONITORING_NAMESPACE}"

    def inspect(self, ctx: Context) -> Result:
        if not ctx.spec.monitoring.prometheus.enabled:
            return self.skipped("monitoring", "monitoring.prometheus is disabled")
        target = self.looks_at
        pods = ctx.items("v1", "pods", MONITORING_NAMESPACE, "app.kubernetes.io/name=prometheus")
        if not any(
            c["type"] == "Ready" and c["status"] == "True"
            for pod in pods
            for c in (pod.get("status") or {}).get("conditions") or []
        ):
            return self.failed(
                target,
                "no Prometheus pod is Ready",
                "look at the operator's logs: kubectl -n monitoring logs deploy/kube-prometheus-stack-operator",
            )
        return self.passed(target)

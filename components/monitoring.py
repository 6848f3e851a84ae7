"""Monitoring: Prometheus and Grafana, Kiali, Jaeger, mesh scrape targets, dashboards and per-app alerts."""

from __future__ import annotations

import json

import pulumi
import pulumi_kubernetes as k8s

from . import MESH_MEMBER_LABEL, MONITORING_NAMESPACE, labels, metadata
from .charts import helm_release
from .manifests.monitoring import (
    GRAFANA_SECRET,
    GRAFANA_URL,
    JAEGER_URL,
    KIALI_URL,
    PROMETHEUS_URL,
    MonitoringArgs,
    alert_rules_spec,
    mesh_dashboard,
    scrape_targets,
)


class MonitoringStack(pulumi.ComponentResource):
    """The monitoring namespace and charts, then scrape targets, dashboards and alerts."""

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("meshinstall:components:Monitoring", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        namespace = k8s.core.v1.Namespace(
            MONITORING_NAMESPACE,
            metadata=metadata(MONITORING_NAMESPACE, None, labels(**{MESH_MEMBER_LABEL: "true"})),
            opts=child,
        )
        after: list[pulumi.Resource] = [namespace, *args.after]
        if args.grafana and args.grafana_password is not None:
            after.append(
                k8s.core.v1.Secret(
                    GRAFANA_SECRET,
                    metadata=metadata(GRAFANA_SECRET, MONITORING_NAMESPACE),
                    string_data={"admin-user": "admin", "admin-password": pulumi.Output.secret(args.grafana_password)},
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[namespace]),
                )
            )
        self.urls: dict[str, str] = {}
        if args.prometheus:
            stack = helm_release(args.prometheus, self, after)
            self.urls["prometheus"] = PROMETHEUS_URL
            if args.grafana:
                self.urls["grafana"] = GRAFANA_URL
            self._mesh_objects(args, [stack, *args.after])
        if args.jaeger:
            helm_release(args.jaeger, self, after)
            self.urls["jaeger"] = JAEGER_URL
        if args.kiali:
            helm_release(args.kiali, self, after)
            self.urls["kiali"] = KIALI_URL
        self.register_outputs({"urls": self.urls})

    def _mesh_objects(self, args: MonitoringArgs, after: list[pulumi.Resource]) -> None:
        """ServiceMonitor/PodMonitor, the dashboard and per-app rules; they need the operator's CRDs first."""
        opts = pulumi.ResourceOptions(parent=self, depends_on=after)

        def meta(name: str, namespace: str = MONITORING_NAMESPACE, **extra: str) -> k8s.meta.v1.ObjectMetaArgs:
            return metadata(name, namespace, labels(**extra))

        crd = "monitoring.coreos.com/v1"
        istio_names = {"istiod": "istiod-monitor", "envoy-sidecars": "sidecar-monitor"}  # as the state knows them
        for (kind, name), spec in scrape_targets(args.mesh).items():
            k8s.apiextensions.CustomResource(
                istio_names.get(name, f"{name}-monitor"),
                api_version=crd,
                kind=kind,
                metadata=meta(name),
                spec=spec,
                opts=opts,
            )
        if args.grafana:
            k8s.core.v1.ConfigMap(
                "mesh-dashboard",
                metadata=meta("meshinstall-dashboard", grafana_dashboard="1"),
                data={"meshinstall-apps.json": json.dumps(mesh_dashboard(args.apps), indent=1)},
                opts=opts,
            )
        if args.alerts is None:
            return
        for target in args.apps:
            namespace = args.namespaces.get(target.namespace)
            k8s.apiextensions.CustomResource(
                f"{target.team}-{target.name}-alerts",
                api_version=crd,
                kind="PrometheusRule",
                metadata=meta(f"{target.name}-alerts", target.namespace, app=target.name),
                spec=alert_rules_spec(target, args.alerts),
                opts=pulumi.ResourceOptions.merge(
                    opts, pulumi.ResourceOptions(depends_on=[namespace] if namespace else [])
                ),
            )

"""What monitoring installs: chart values, scrape targets, per-app alert rules and the mesh dashboard, as pure functions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .. import ISTIO_NAMESPACE, MONITORING_NAMESPACE
from ..charts import HelmRelease

if TYPE_CHECKING:
    import pulumi


# Names kube-prometheus-stack gives its objects for the release `kube-prometheus-stack`.
PROMETHEUS_STACK_RELEASE = "kube-prometheus-stack"
PROMETHEUS_NAME = f"{PROMETHEUS_STACK_RELEASE}-prometheus"  # the Prometheus resource and its Service
OPERATOR_NAME = f"{PROMETHEUS_STACK_RELEASE}-operator"
PROMETHEUS_URL = f"http://{PROMETHEUS_NAME}.{MONITORING_NAMESPACE}.svc.cluster.local:9090"
GRAFANA_URL = f"http://{PROMETHEUS_STACK_RELEASE}-grafana.{MONITORING_NAMESPACE}.svc.cluster.local:80"
KIALI_URL = f"http://kiali.{ISTIO_NAMESPACE}.svc.cluster.local:20001"
JAEGER_URL = f"http://jaeger.{MONITORING_NAMESPACE}.svc.cluster.local:16686"
GRAFANA_SECRET = "grafana-admin"


@dataclass(frozen=True)
class AppTarget:
    """An app whose traffic is watched."""

    team: str
    namespace: str
    name: str


@dataclass(frozen=True)
class AlertThresholds:
    """When an app's alerts fire: the share of requests that fail (percent) and the p99 latency (ms)."""

    error_rate_percent: float
    latency_p99_ms: int


@dataclass(frozen=True)
class PrometheusStack:
    """kube-prometheus-stack's settings: retention and volume size, whether Grafana and Alertmanager run, and the
    Secret with Grafana's admin password (None: the chart's own)."""

    retention: str
    storage: str
    grafana: bool
    alertmanager: bool
    grafana_secret: str | None = None


@dataclass(frozen=True)
class MonitoringArgs:
    """The apps to alert on and their thresholds, whether Grafana runs, the releases and the Grafana password."""

    apps: tuple[AppTarget, ...]
    grafana: bool  # its admin Secret, URL and the mesh dashboard
    alerts: AlertThresholds | None = None  # None: no alert rules
    prometheus: HelmRelease | None = None
    kiali: HelmRelease | None = None
    jaeger: HelmRelease | None = None
    grafana_password: pulumi.Input[str] | None = None
    after: tuple[pulumi.Resource, ...] = ()  # istiod (Kiali and the scrape targets watch it)
    # the teams' namespaces by name: an app's rule waits for its own. (Every rule waited for every namespace: at 1000
    # apps, 100,000 dependencies, a quarter of the state, bench/results.md stop 19.)
    namespaces: Mapping[str, pulumi.Resource] = field(default_factory=dict)


def prometheus_stack_values(stack: PrometheusStack) -> dict[str, Any]:
    """kube-prometheus-stack values: retention and storage, Grafana on/off, select every rule and monitor."""
    grafana: dict[str, Any] = {
        "enabled": stack.grafana,
        "sidecar": {"dashboards": {"enabled": True, "label": "grafana_dashboard", "searchNamespace": "ALL"}},
    }
    if stack.grafana_secret:
        grafana["admin"] = {
            "existingSecret": stack.grafana_secret,
            "userKey": "admin-user",
            "passwordKey": "admin-password",
        }
    return {
        "prometheus": {
            "prometheusSpec": {
                "retention": stack.retention,
                "serviceMonitorSelectorNilUsesHelmValues": False,
                "podMonitorSelectorNilUsesHelmValues": False,
                "ruleSelectorNilUsesHelmValues": False,
                "storageSpec": {
                    "volumeClaimTemplate": {
                        "spec": {
                            "accessModes": ["ReadWriteOnce"],
                            "resources": {"requests": {"storage": stack.storage}},
                        }
                    }
                },
            }
        },
        "grafana": grafana,
        "alertmanager": {"enabled": stack.alertmanager},
    }


def kiali_values(grafana: bool, tracing: bool) -> dict[str, Any]:
    """Kiali reads Prometheus, Grafana (when it runs) and Jaeger (when tracing is on)."""
    return {
        "auth": {"strategy": "token"},
        "external_services": {
            "prometheus": {"url": PROMETHEUS_URL},
            "grafana": {"enabled": grafana, "internal_url": GRAFANA_URL},
            "tracing": {"enabled": tracing, "internal_url": JAEGER_URL},
        },
    }


def jaeger_values() -> dict[str, Any]:
    """The chart's single all-in-one Jaeger v2 with in-memory storage (its default): one replica."""
    return {"jaeger": {"replicas": 1}}


def istiod_monitor_spec() -> dict[str, Any]:
    """ServiceMonitor for istiod's metrics port."""
    return {
        "namespaceSelector": {"matchNames": [ISTIO_NAMESPACE]},
        "selector": {"matchLabels": {"app": "istiod"}},
        "endpoints": [{"port": "http-monitoring", "interval": "15s"}],
    }


def sidecar_monitor_spec() -> dict[str, Any]:
    """PodMonitor for every sidecar's merged Prometheus endpoint in mesh namespaces."""
    return {
        "namespaceSelector": {"any": True},
        "selector": {"matchExpressions": [{"key": "istio-prometheus-ignore", "operator": "DoesNotExist"}]},
        "podMetricsEndpoints": [{"path": "/stats/prometheus", "port": "http-envoy-prom", "interval": "15s"}],
    }


def _selector(target: AppTarget) -> str:
    return f'destination_workload_namespace="{target.namespace}",destination_app="{target.name}",reporter="destination"'


def alert_rules_spec(target: AppTarget, alerts: AlertThresholds) -> dict[str, Any]:
    """PrometheusRule spec with the app's error-rate and p99-latency alerts at the given thresholds."""
    sel = _selector(target)
    error_rate = (
        f'sum(rate(istio_requests_total{{{sel},response_code=~"5.."}}[5m])) '
        f"/ sum(rate(istio_requests_total{{{sel}}}[5m])) * 100 > {alerts.error_rate_percent:g}"
    )
    latency = f"histogram_quantile(0.99, sum(rate(istio_request_duration_milliseconds_bucket{{{sel}}}[5m])) by (le)) > {alerts.latency_p99_ms}"
    common = {"team": target.team, "app": target.name, "namespace": target.namespace}
    return {
        "groups": [
            {
                "name": f"meshinstall-{target.name}",
                "rules": [
                    {
                        "alert": "MeshAppHighErrorRate",
                        "expr": error_rate,
                        "for": "5m",
                        "labels": {**common, "severity": "critical"},
                        "annotations": {
                            "summary": f"{target.team}/{target.name}: more than {alerts.error_rate_percent:g}% of requests fail"
                        },
                    },
                    {
                        "alert": "MeshAppHighLatencyP99",
                        "expr": latency,
                        "for": "5m",
                        "labels": {**common, "severity": "warning"},
                        "annotations": {
                            "summary": f"{target.team}/{target.name}: p99 latency above {alerts.latency_p99_ms} ms"
                        },
                    },
                ],
            }
        ]
    }


def mesh_dashboard(apps: tuple[AppTarget, ...]) -> dict[str, Any]:
    """A Grafana dashboard: request rate, error rate and p99 latency for every app."""
    panels = []
    for i, target in enumerate(apps):
        sel = _selector(target)
        panels.append(
            {
                "id": i + 1,
                "type": "timeseries",
                "title": f"{target.team}/{target.name}",
                "gridPos": {"x": (i % 2) * 12, "y": (i // 2) * 8, "w": 12, "h": 8},
                "targets": [
                    {
                        "refId": "A",
                        "legendFormat": "requests/s",
                        "expr": f"sum(rate(istio_requests_total{{{sel}}}[1m]))",
                    },
                    {
                        "refId": "B",
                        "legendFormat": "5xx/s",
                        "expr": f'sum(rate(istio_requests_total{{{sel},response_code=~"5.."}}[1m]))',
                    },
                    {
                        "refId": "C",
                        "legendFormat": "p99 ms",
                        "expr": f"histogram_quantile(0.99, sum(rate(istio_request_duration_milliseconds_bucket{{{sel}}}[1m])) by (le))",
                    },
                ],
            }
        )
    return {"title": "meshinstall: mesh apps", "uid": "meshinstall-apps", "schemaVersion": 39, "panels": panels}

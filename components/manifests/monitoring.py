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
    mesh: str = "istio"  # whose proxies' metrics measure it


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
    mesh: str = "istio"


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


def scrape_targets(mesh: str) -> dict[tuple[str, str], dict[str, Any]]:
    """What Prometheus scrapes of the mesh, by (kind, name): Istio's istiod and sidecars, or Linkerd's control
    plane and proxies (the PodMonitors Linkerd's chart would write, which meshinstall writes once the CRDs exist)."""
    if mesh == "linkerd":
        return {
            ("PodMonitor", "linkerd-controller"): linkerd_controller_monitor_spec(),
            ("PodMonitor", "linkerd-proxies"): linkerd_proxy_monitor_spec(),
        }
    return {
        ("ServiceMonitor", "istiod"): istiod_monitor_spec(),
        ("PodMonitor", "envoy-sidecars"): sidecar_monitor_spec(),
    }


def linkerd_controller_monitor_spec() -> dict[str, Any]:
    """Linkerd's control plane containers' admin ports (`*-admin`, but not the proxies')."""
    return {
        "namespaceSelector": {"matchNames": ["linkerd"]},
        "selector": {"matchLabels": {}},
        "podMetricsEndpoints": [
            {
                "interval": "15s",
                "relabelings": [
                    {
                        "sourceLabels": ["__meta_kubernetes_pod_container_port_name"],
                        "action": "keep",
                        "regex": ".*-admin$",
                    },
                    {
                        "sourceLabels": ["__meta_kubernetes_pod_container_port_name"],
                        "action": "drop",
                        "regex": "linkerd-admin",
                    },
                    {
                        "sourceLabels": ["__meta_kubernetes_pod_container_name"],
                        "action": "replace",
                        "targetLabel": "component",
                    },
                ],
            }
        ],
    }


def linkerd_proxy_monitor_spec() -> dict[str, Any]:
    """Every Linkerd proxy's admin port, with the pod's namespace and Deployment as labels (what the alerts select)."""
    return {
        "namespaceSelector": {"any": True},
        "selector": {"matchExpressions": [{"key": "linkerd.io/control-plane-ns", "operator": "Exists"}]},
        "podMetricsEndpoints": [
            {
                "interval": "15s",
                "port": "linkerd-admin",
                "path": "/metrics",
                "relabelings": [
                    {"sourceLabels": ["__meta_kubernetes_namespace"], "action": "replace", "targetLabel": "namespace"},
                    {"sourceLabels": ["__meta_kubernetes_pod_name"], "action": "replace", "targetLabel": "pod"},
                    {
                        "sourceLabels": ["__meta_kubernetes_pod_label_linkerd_io_proxy_deployment"],
                        "action": "replace",
                        "targetLabel": "deployment",
                    },
                ],
            }
        ],
    }


def sidecar_monitor_spec() -> dict[str, Any]:
    """PodMonitor for every sidecar's merged Prometheus endpoint in mesh namespaces."""
    return {
        "namespaceSelector": {"any": True},
        "selector": {"matchExpressions": [{"key": "istio-prometheus-ignore", "operator": "DoesNotExist"}]},
        "podMetricsEndpoints": [{"path": "/stats/prometheus", "port": "http-envoy-prom", "interval": "15s"}],
    }


@dataclass(frozen=True)
class Metrics:
    """An app's requests, failures and latency in one mesh's proxy metrics (what its proxies measure inbound)."""

    requests: str  # the request counter
    failed: str  # the label matcher of a failed request
    latency: str  # the latency histogram, in milliseconds

    def of(self, target: AppTarget) -> str:
        if target.mesh == "linkerd":  # both versions' Deployments (`app`, `app-canary`), inbound at their proxies
            return (
                f'namespace="{target.namespace}",deployment=~"{target.name}|{target.name}-canary",direction="inbound"'
            )
        return f'destination_workload_namespace="{target.namespace}",destination_app="{target.name}",reporter="destination"'


METRICS = {
    "istio": Metrics("istio_requests_total", 'response_code=~"5.."', "istio_request_duration_milliseconds_bucket"),
    "linkerd": Metrics("response_total", 'classification="failure"', "response_latency_ms_bucket"),
}


def alert_rules_spec(target: AppTarget, alerts: AlertThresholds) -> dict[str, Any]:
    """PrometheusRule spec with the app's error-rate and p99-latency alerts at the given thresholds."""
    metrics = METRICS[target.mesh]
    sel, total = metrics.of(target), metrics.requests
    error_rate = (
        f"sum(rate({total}{{{sel},{metrics.failed}}}[5m])) "
        f"/ sum(rate({total}{{{sel}}}[5m])) * 100 > {alerts.error_rate_percent:g}"
    )
    latency = f"histogram_quantile(0.99, sum(rate({metrics.latency}{{{sel}}}[5m])) by (le)) > {alerts.latency_p99_ms}"
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
        metrics = METRICS[target.mesh]
        sel, total = metrics.of(target), metrics.requests
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
                        "expr": f"sum(rate({total}{{{sel}}}[1m]))",
                    },
                    {
                        "refId": "B",
                        "legendFormat": "failed/s",
                        "expr": f"sum(rate({total}{{{sel},{metrics.failed}}}[1m]))",
                    },
                    {
                        "refId": "C",
                        "legendFormat": "p99 ms",
                        "expr": f"histogram_quantile(0.99, sum(rate({metrics.latency}{{{sel}}}[1m])) by (le))",
                    },
                ],
            }
        )
    return {"title": "meshinstall: mesh apps", "uid": "meshinstall-apps", "schemaVersion": 39, "panels": panels}

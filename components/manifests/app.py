"""What an onboarded app's objects look like: its Deployments, traffic policy and authorization, as pure functions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .. import INGRESS_GATEWAY_NAME, INGRESS_NAMESPACE, SHARED_GATEWAY, TEAM_LABEL, labels

if TYPE_CHECKING:
    import pulumi


@dataclass(frozen=True)
class Route:
    """The host and path prefix an app is reached at through the ingress gateway."""

    host: str
    path: str


@dataclass(frozen=True)
class Retries:
    """How often, on what, and with what per-try timeout a request to the app is retried."""

    attempts: int
    retry_on: str
    per_try_timeout: str | None = None


@dataclass(frozen=True)
class CircuitBreaker:
    """Outlier detection: eject a pod after this many consecutive 5xx, for this long, at most this share of pods."""

    consecutive_errors: int
    ejection_time: str
    max_ejection_percent: int


@dataclass(frozen=True)
class Canary:
    """A canary version: its image, replicas and share of traffic (percent)."""

    image: str
    replicas: int
    weight: int


@dataclass(frozen=True)
class TrafficPolicy:
    """An app's timeout, retries, circuit breaker and canary; None where the app sets none."""

    timeout: str | None = None
    retries: Retries | None = None
    circuit_breaker: CircuitBreaker | None = None
    canary: Canary | None = None


@dataclass(frozen=True)
class AppArgs:
    """An app's workload and traffic policy, the namespace and team it lives in, and the resolved values of its secret env."""

    name: str
    team: str
    namespace: str
    image: str
    replicas: int
    port: int
    protocol: str
    cpu: str  # requests
    memory: str
    automount_service_account_token: bool = False
    env: Mapping[str, str] = field(default_factory=dict)
    secret_env: tuple[str, ...] = ()  # names of the variables read from the app's Secret
    route: Route | None = None
    allow_from: tuple[str, ...] = ()  # callers: `app` (same team) or `team/app`
    traffic: TrafficPolicy = TrafficPolicy()
    secret_values: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    team_namespaces: Mapping[str, str] = field(default_factory=dict)  # team -> namespace of its apps
    after: tuple[pulumi.Resource, ...] = ()  # istiod and the injection webhook (PaasLayer adds the team's namespaces)


def service_host(app: str, namespace: str) -> str:
    """The in-cluster host name of an app."""
    return f"{app}.{namespace}.svc.cluster.local"


def principal(namespace: str, service_account: str) -> str:
    """The mTLS identity (SPIFFE principal) of a workload."""
    return f"cluster.local/ns/{namespace}/sa/{service_account}"


INGRESS_PRINCIPAL = principal(INGRESS_NAMESPACE, INGRESS_GATEWAY_NAME)


def app_labels(app: AppArgs, version: str) -> dict[str, str]:
    """Pod labels: Istio's `app`/`version` plus team and ownership."""
    return labels(app=app.name, version=version, **{TEAM_LABEL: app.team})


def container(app: AppArgs, image: str) -> dict[str, Any]:
    """The app container, hardened to pass the `restricted` Pod Security Standard."""
    env: list[dict[str, Any]] = [{"name": k, "value": v} for k, v in sorted(app.env.items())]
    env += [
        {"name": k, "valueFrom": {"secretKeyRef": {"name": f"{app.name}-env", "key": k}}}
        for k in sorted(app.secret_env)
    ]
    return {
        "name": app.name,
        "image": image,
        "ports": [{"name": app.protocol, "containerPort": app.port}],
        "env": env,
        "resources": {"requests": {"cpu": app.cpu, "memory": app.memory}},
        "securityContext": {
            "runAsNonRoot": True,
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }


def deployment_spec(app: AppArgs, version: str, image: str, replicas: int) -> dict[str, Any]:
    """Deployment spec of one version (`stable` or `canary`)."""
    pod_labels = app_labels(app, version)
    return {
        "replicas": replicas,
        "selector": {"matchLabels": {"app": app.name, "version": version}},
        "template": {
            "metadata": {"labels": pod_labels},
            "spec": {
                "serviceAccountName": app.name,
                "automountServiceAccountToken": app.automount_service_account_token,
                "containers": [container(app, image)],
            },
        },
    }


def destination_rule_spec(app: AppArgs) -> dict[str, Any]:
    """Subsets per version, mesh mTLS and outlier detection (the circuit breaker)."""
    policy: dict[str, Any] = {"tls": {"mode": "ISTIO_MUTUAL"}}
    breaker = app.traffic.circuit_breaker
    if breaker:
        policy["outlierDetection"] = {
            "consecutive5xxErrors": breaker.consecutive_errors,
            "interval": "10s",
            "baseEjectionTime": breaker.ejection_time,
            "maxEjectionPercent": breaker.max_ejection_percent,
        }
    subsets = [{"name": "stable", "labels": {"version": "stable"}}]
    if app.traffic.canary:
        subsets.append({"name": "canary", "labels": {"version": "canary"}})
    return {"host": service_host(app.name, app.namespace), "trafficPolicy": policy, "subsets": subsets}


def http_route(app: AppArgs) -> dict[str, Any]:
    """Weighted destinations with the app's timeout and retries."""
    host = service_host(app.name, app.namespace)
    canary = app.traffic.canary
    destinations = [
        {
            "destination": {"host": host, "subset": "stable", "port": {"number": app.port}},
            "weight": 100 - (canary.weight if canary else 0),
        }
    ]
    if canary:
        destinations.append(
            {"destination": {"host": host, "subset": "canary", "port": {"number": app.port}}, "weight": canary.weight}
        )
    route: dict[str, Any] = {"route": destinations}
    if app.traffic.timeout:
        route["timeout"] = app.traffic.timeout
    retries = app.traffic.retries
    if retries:
        route["retries"] = {"attempts": retries.attempts, "retryOn": retries.retry_on}
        if retries.per_try_timeout:
            route["retries"]["perTryTimeout"] = retries.per_try_timeout
    return route


def virtual_service_spec(app: AppArgs) -> dict[str, Any]:
    """In-mesh routing, plus the ingress gateway's host and path when the app is routed."""
    spec: dict[str, Any] = {"hosts": [service_host(app.name, app.namespace)], "gateways": ["mesh"]}
    mesh_route = {**http_route(app), "name": "mesh", "match": [{"gateways": ["mesh"]}]}
    if not app.route:
        spec["http"] = [mesh_route]
        return spec
    gateway = f"{INGRESS_NAMESPACE}/{SHARED_GATEWAY}"
    spec["hosts"].append(app.route.host)
    spec["gateways"].append(gateway)
    ingress_route = {
        **http_route(app),
        "name": "ingress",
        "match": [{"gateways": [gateway], "uri": {"prefix": app.route.path}}],
    }
    spec["http"] = [ingress_route, mesh_route]
    return spec


def authorization_spec(app: AppArgs) -> dict[str, Any] | None:
    """ALLOW policy for the app's callers (`allowFrom`) and, when routed, the ingress gateway; None if nobody may call."""
    principals = []
    for ref in app.allow_from:
        team, name = ref.split("/") if "/" in ref else (app.team, ref)
        principals.append(principal(app.team_namespaces.get(team, team), name))
    if app.route:
        principals.append(INGRESS_PRINCIPAL)
    if not principals:
        return None
    return {
        "selector": {"matchLabels": {"app": app.name}},
        "action": "ALLOW",
        "rules": [{"from": [{"source": {"principals": sorted(set(principals))}}]}],
    }

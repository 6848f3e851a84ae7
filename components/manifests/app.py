"""What an onboarded app's objects look like: its Deployments, traffic policy and authorization, as pure functions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping

from ...schemas.model import App
from .. import INGRESS_GATEWAY_NAME, INGRESS_NAMESPACE, SHARED_GATEWAY, TEAM_LABEL, labels

if TYPE_CHECKING:
    import pulumi


@dataclass(frozen=True)
class AppArgs:
    """An app, the namespace and team it lives in, and the resolved values of its secret env."""

    app: App
    team: str
    namespace: str
    secret_values: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    team_namespaces: Mapping[str, str] = field(default_factory=dict)  # team -> namespace of its apps
    after: tuple[pulumi.Resource, ...] = ()  # its namespace, istiod and the injection webhook


def service_host(app: str, namespace: str) -> str:
    """The in-cluster host name of an app."""
    return f"{app}.{namespace}.svc.cluster.local"


def principal(namespace: str, service_account: str) -> str:
    """The mTLS identity (SPIFFE principal) of a workload."""
    return f"cluster.local/ns/{namespace}/sa/{service_account}"


INGRESS_PRINCIPAL = principal(INGRESS_NAMESPACE, INGRESS_GATEWAY_NAME)


def app_labels(args: AppArgs, version: str) -> dict[str, str]:
    """Pod labels: Istio's `app`/`version` plus team and ownership."""
    return labels(app=args.app.name, version=version, **{TEAM_LABEL: args.team})


def container(args: AppArgs, image: str) -> dict[str, Any]:
    """The app container, hardened to pass the `restricted` Pod Security Standard."""
    app = args.app
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
        "resources": {"requests": {"cpu": app.resources.cpu, "memory": app.resources.memory}},
        "securityContext": {
            "runAsNonRoot": True,
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }


def deployment_spec(args: AppArgs, version: str, image: str, replicas: int) -> dict[str, Any]:
    """Deployment spec of one version (`stable` or `canary`)."""
    pod_labels = app_labels(args, version)
    return {
        "replicas": replicas,
        "selector": {"matchLabels": {"app": args.app.name, "version": version}},
        "template": {
            "metadata": {"labels": pod_labels},
            "spec": {
                "serviceAccountName": args.app.name,
                "automountServiceAccountToken": args.app.automount_service_account_token,
                "containers": [container(args, image)],
            },
        },
    }


def destination_rule_spec(args: AppArgs) -> dict[str, Any]:
    """Subsets per version, mesh mTLS and outlier detection (the circuit breaker)."""
    app = args.app
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
    return {"host": service_host(app.name, args.namespace), "trafficPolicy": policy, "subsets": subsets}


def http_route(args: AppArgs) -> dict[str, Any]:
    """Weighted destinations with the app's timeout and retries."""
    app, host = args.app, service_host(args.app.name, args.namespace)
    canary = app.traffic.canary
    destinations = [{"destination": {"host": host, "subset": "stable", "port": {"number": app.port}}, "weight": 100 - (canary.weight if canary else 0)}]
    if canary:
        destinations.append({"destination": {"host": host, "subset": "canary", "port": {"number": app.port}}, "weight": canary.weight})
    route: dict[str, Any] = {"route": destinations}
    if app.traffic.timeout:
        route["timeout"] = app.traffic.timeout
    retries = app.traffic.retries
    if retries:
        route["retries"] = {"attempts": retries.attempts, "retryOn": retries.retry_on}
        if retries.per_try_timeout:
            route["retries"]["perTryTimeout"] = retries.per_try_timeout
    return route


def virtual_service_spec(args: AppArgs) -> dict[str, Any]:
    """In-mesh routing, plus the ingress gateway's host and path when the app is routed."""
    app = args.app
    spec: dict[str, Any] = {"hosts": [service_host(app.name, args.namespace)], "gateways": ["mesh"]}
    mesh_route = {**http_route(args), "name": "mesh", "match": [{"gateways": ["mesh"]}]}
    if not app.route:
        spec["http"] = [mesh_route]
        return spec
    gateway = f"{INGRESS_NAMESPACE}/{SHARED_GATEWAY}"
    spec["hosts"].append(app.route.host)
    spec["gateways"].append(gateway)
    ingress_route = {**http_route(args), "name": "ingress", "match": [{"gateways": [gateway], "uri": {"prefix": app.route.path}}]}
    spec["http"] = [ingress_route, mesh_route]
    return spec


def authorization_spec(args: AppArgs) -> dict[str, Any] | None:
    """ALLOW policy for the app's callers (`allowFrom`) and, when routed, the ingress gateway; None if nobody may call."""
    principals = []
    for ref in args.app.allow_from:
        team, name = ref.split("/") if "/" in ref else (args.team, ref)
        principals.append(principal(args.team_namespaces.get(team, team), name))
    if args.app.route:
        principals.append(INGRESS_PRINCIPAL)
    if not principals:
        return None
    return {
        "selector": {"matchLabels": {"app": args.app.name}},
        "action": "ALLOW",
        "rules": [{"from": [{"source": {"principals": sorted(set(principals))}}]}],
    }

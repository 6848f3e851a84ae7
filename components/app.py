"""One app onboarded into the mesh: ServiceAccount, Deployments (stable and canary), Service, traffic policy."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import pulumi
import pulumi_kubernetes as k8s

from ..schemas.model import App
from . import INGRESS_GATEWAY_NAME, INGRESS_NAMESPACE, SHARED_GATEWAY, SKIP_AWAIT, TEAM_LABEL, labels, metadata


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


class AppDeployment(pulumi.ComponentResource):
    """Everything one app needs to run in the mesh."""

    def __init__(self, name: str, args: AppArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("meshinstall:components:App", name, None, opts)
        app, ns = args.app, args.namespace
        child = pulumi.ResourceOptions(parent=self, depends_on=list(args.after))

        def meta(object_name: str, **extra: str) -> k8s.meta.v1.ObjectMetaArgs:
            return metadata(object_name, ns, labels(app=app.name, **{TEAM_LABEL: args.team}, **extra))

        self.service_account = k8s.core.v1.ServiceAccount(
            f"{name}-sa", metadata=meta(app.name), automount_service_account_token=app.automount_service_account_token, opts=child
        )
        after = [*args.after, self.service_account]
        if app.secret_env:
            secret = k8s.core.v1.Secret(
                f"{name}-env",
                metadata=meta(f"{app.name}-env"),
                string_data={k: pulumi.Output.secret(v) for k, v in args.secret_values.items()},
                opts=child,
            )
            after.append(secret)
        deps = pulumi.ResourceOptions(parent=self, depends_on=after)
        self.deployments = [
            k8s.apps.v1.Deployment(f"{name}-stable", metadata=meta(app.name, version="stable"), spec=deployment_spec(args, "stable", app.image, app.replicas), opts=deps)
        ]
        if app.traffic.canary:
            canary = app.traffic.canary
            self.deployments.append(
                k8s.apps.v1.Deployment(f"{name}-canary", metadata=meta(f"{app.name}-canary", version="canary"), spec=deployment_spec(args, "canary", canary.image, canary.replicas), opts=deps)
            )
        # Not awaited: the engine's Service awaiter holds a slot for 10 s after each change of the Endpoints ("to
        # settle"), so at 100 apps the Services filled the engine's window and held the Deployments back. The
        # Service is ready when its Deployment's pods are, and the Deployment is awaited.
        self.service = k8s.core.v1.Service(
            f"{name}-svc",
            metadata=metadata(app.name, ns, labels(app=app.name, **{TEAM_LABEL: args.team}), SKIP_AWAIT),
            spec={
                "selector": {"app": app.name},
                "ports": [{"name": f"{app.protocol}-{app.port}", "port": app.port, "targetPort": app.port, "appProtocol": app.protocol}],
            },
            opts=child,
        )
        self.destination_rule = self._istio(name, "DestinationRule", "networking.istio.io/v1", meta(app.name), destination_rule_spec(args), child)
        self.virtual_service = self._istio(name, "VirtualService", "networking.istio.io/v1", meta(app.name), virtual_service_spec(args), child)
        policy = authorization_spec(args)
        if policy:
            self._istio(name, "AuthorizationPolicy", "security.istio.io/v1", meta(f"allow-{app.name}"), policy, child)
        self.register_outputs({})

    @staticmethod
    def _istio(
        name: str, kind: str, api_version: str, metadata: k8s.meta.v1.ObjectMetaArgs, spec: dict[str, Any], opts: pulumi.ResourceOptions
    ) -> k8s.apiextensions.CustomResource:
        return k8s.apiextensions.CustomResource(
            f"{name}-{kind.lower()}", api_version=api_version, kind=kind, metadata=metadata, spec=spec, opts=opts
        )

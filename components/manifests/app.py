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
    """The host and path prefix an app is reached at through the ingress gateway (and, for a workload with several
    service ports, the one it reaches)."""

    host: str
    path: str
    port: int | None = None


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
class Probe:
    """A liveness or readiness probe: an HTTP GET (`path`, `port`) or a command."""

    path: str | None = None
    port: int | None = None
    scheme: str = "HTTP"
    host: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    command: tuple[str, ...] = ()


@dataclass(frozen=True)
class Container:
    """One container of a workload declared in a team's Score file."""

    name: str
    image: str
    cpu: str  # requests
    memory: str
    command: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    secret_env: tuple[str, ...] = ()  # variables read from the app's Secret
    cpu_limit: str | None = None
    memory_limit: str | None = None
    liveness: Probe | None = None
    readiness: Probe | None = None


@dataclass(frozen=True)
class ServicePort:
    """A named port of the app's Service."""

    name: str
    port: int
    target_port: int
    protocol: str = "TCP"


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
    # A workload from a team's Score file: its containers and Service ports (an inline app has neither: one container
    # and one port, from the fields above), pod annotations, and what Pod Security must admit.
    containers: tuple[Container, ...] = ()
    ports: tuple[ServicePort, ...] = ()
    annotations: Mapping[str, str] = field(default_factory=dict)
    run_as_root: bool = False
    capabilities: tuple[str, ...] = ()
    mesh: str = "istio"  # the provider whose objects carry its traffic policy
    gateway_https: bool = False  # Linkerd: the shared Gateway has TLS, and the route attaches to HTTPS only
    pull_secrets: tuple[str, ...] = ()  # its images come from the private registry (`images.apps`)

    @property
    def service_ports(self) -> tuple[ServicePort, ...]:
        """The Service's ports: the Score file's, or the inline app's one port (named as it always was)."""
        if self.containers:
            return self.ports
        return (ServicePort(f"{self.protocol}-{self.port}", self.port, self.port),)


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


def service_ports(app: AppArgs) -> list[dict[str, Any]]:
    """The Service's ports, each with its application protocol (Istio's protocol selection)."""
    return [
        {
            "name": p.name,
            "port": p.port,
            "targetPort": p.target_port,
            "protocol": p.protocol,
            "appProtocol": app.protocol,
        }
        if p.protocol != "TCP"
        else {"name": p.name, "port": p.port, "targetPort": p.target_port, "appProtocol": app.protocol}
        for p in app.service_ports
    ]


def security_context(app: AppArgs) -> dict[str, Any]:
    """Hardened to pass the `restricted` Pod Security Standard, unless the workload asks for root or capabilities
    (validation has checked that the team's Pod Security level admits them)."""
    context: dict[str, Any] = {
        "runAsNonRoot": not app.run_as_root,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    if app.run_as_root:
        context["runAsUser"] = 0
    if app.capabilities:
        context["capabilities"]["add"] = list(app.capabilities)
    return context


def _env(app: AppArgs, plain: Mapping[str, str], secret: tuple[str, ...]) -> list[dict[str, Any]]:
    env: list[dict[str, Any]] = [{"name": k, "value": v} for k, v in sorted(plain.items())]
    return env + [
        {"name": k, "valueFrom": {"secretKeyRef": {"name": f"{app.name}-env", "key": k}}} for k in sorted(secret)
    ]


def container(app: AppArgs, image: str) -> dict[str, Any]:
    """An inline app's one container."""
    return {
        "name": app.name,
        "image": image,
        "ports": [{"name": app.protocol, "containerPort": app.port}],
        "env": _env(app, app.env, app.secret_env),
        "resources": {"requests": {"cpu": app.cpu, "memory": app.memory}},
        "securityContext": security_context(app),
    }


def probe(spec: Probe) -> dict[str, Any]:
    """A probe as the pod spec writes it."""
    if spec.command:
        return {"exec": {"command": list(spec.command)}}
    http: dict[str, Any] = {"path": spec.path or "/", "port": spec.port, "scheme": spec.scheme}
    if spec.host:
        http["host"] = spec.host
    if spec.headers:
        http["httpHeaders"] = [{"name": n, "value": v} for n, v in spec.headers]
    return {"httpGet": http}


def workload_container(app: AppArgs, spec: Container, image: str) -> dict[str, Any]:
    """One container of a Score workload."""
    resources: dict[str, Any] = {"requests": {"cpu": spec.cpu, "memory": spec.memory}}
    limits = {k: v for k, v in (("cpu", spec.cpu_limit), ("memory", spec.memory_limit)) if v}
    if limits:
        resources["limits"] = limits
    out: dict[str, Any] = {"name": spec.name, "image": image}
    if spec.command:
        out["command"] = list(spec.command)
    if spec.args:
        out["args"] = list(spec.args)
    # Container port names are at most 15 characters, Score's port names need not be: the Service targets numbers.
    if spec is app.containers[0]:
        out["ports"] = [
            {"containerPort": port, "protocol": protocol}
            for port, protocol in dict.fromkeys((p.target_port, p.protocol) for p in app.ports)
        ]
    out["env"] = _env(app, spec.env, spec.secret_env)
    out["resources"] = resources
    if spec.liveness:
        out["livenessProbe"] = probe(spec.liveness)
    if spec.readiness:
        out["readinessProbe"] = probe(spec.readiness)
    out["securityContext"] = security_context(app)
    return out


def containers(app: AppArgs, image: str) -> list[dict[str, Any]]:
    """The pod's containers: `image` replaces the first one's (the canary's image)."""
    if not app.containers:
        return [container(app, image)]
    first, *rest = app.containers
    return [workload_container(app, first, image), *(workload_container(app, c, c.image) for c in rest)]


def deployment_spec(app: AppArgs, version: str, image: str, replicas: int) -> dict[str, Any]:
    """Deployment spec of one version (`stable` or `canary`)."""
    pod_labels = app_labels(app, version)
    return {
        "replicas": replicas,
        "selector": {"matchLabels": {"app": app.name, "version": version}},
        "template": {
            "metadata": {"labels": pod_labels, **({"annotations": dict(app.annotations)} if app.annotations else {})},
            "spec": {
                "serviceAccountName": app.name,
                "automountServiceAccountToken": app.automount_service_account_token,
                "containers": containers(app, image),
                **({"imagePullSecrets": [{"name": n} for n in app.pull_secrets]} if app.pull_secrets else {}),
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


def http_route(app: AppArgs, port: int | None) -> dict[str, Any]:
    """Weighted destinations with the app's timeout and retries; `port` None: the port the request came to."""
    host = service_host(app.name, app.namespace)
    canary = app.traffic.canary
    at = {"port": {"number": port}} if port else {}
    destinations = [
        {"destination": {"host": host, "subset": "stable", **at}, "weight": 100 - (canary.weight if canary else 0)}
    ]
    if canary:
        destinations.append({"destination": {"host": host, "subset": "canary", **at}, "weight": canary.weight})
    route: dict[str, Any] = {"route": destinations}
    if app.traffic.timeout:
        route["timeout"] = app.traffic.timeout
    retries = app.traffic.retries
    if retries:
        route["retries"] = {"attempts": retries.attempts, "retryOn": retries.retry_on}
        if retries.per_try_timeout:
            route["retries"]["perTryTimeout"] = retries.per_try_timeout
    return route


def _mesh_port(app: AppArgs) -> int | None:
    """The port in-mesh routes name: the app's one port; none for a workload with several (each request keeps its)."""
    ports = app.service_ports
    return ports[0].port if len(ports) == 1 else None


def virtual_service_spec(app: AppArgs) -> dict[str, Any]:
    """In-mesh routing, plus the ingress gateway's host and path when the app is routed."""
    spec: dict[str, Any] = {"hosts": [service_host(app.name, app.namespace)], "gateways": ["mesh"]}
    mesh_route = {**http_route(app, _mesh_port(app)), "name": "mesh", "match": [{"gateways": ["mesh"]}]}
    if not app.route:
        spec["http"] = [mesh_route]
        return spec
    gateway = f"{INGRESS_NAMESPACE}/{SHARED_GATEWAY}"
    spec["hosts"].append(app.route.host)
    spec["gateways"].append(gateway)
    ingress_route = {
        **http_route(app, app.route.port or _mesh_port(app) or app.port),
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

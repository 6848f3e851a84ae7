"""Linkerd's side of the platform as pure functions: its charts' values, the namespaces it needs, and the spec's
traffic policy in Linkerd's terms (policy.linkerd.io authorization, Gateway API routes with Linkerd's annotations,
failure accrual), and the north-south Gateway of Envoy Gateway."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import MESH_MEMBER_LABEL, MONITORING_NAMESPACE, labels
from ..charts import HelmRelease
from .app import AppArgs
from .control_plane import ProxyResources
from .monitoring import PROMETHEUS_STACK_RELEASE
from .registry import Registry

if TYPE_CHECKING:
    import pulumi

LINKERD_NAMESPACE = "linkerd"
LINKERD_CNI_NAMESPACE = "linkerd-cni"
LINKERD_VIZ_NAMESPACE = "linkerd-viz"
ENVOY_GATEWAY_NAMESPACE = "envoy-gateway-system"
GATEWAY_CLASS = "meshinstall"
# The Envoy that Envoy Gateway v1.9 runs for a Gateway (its built-in default, Envoy 1.39), named here so that
# `meshinstall images` lists it and a private registry can serve it
ENVOY_IMAGE = "docker.io/envoyproxy/envoy:distroless-v1.39.0"  # Envoy Gateway's GatewayClass, with the EnvoyProxy that meshes its pods
INJECT = "linkerd.io/inject"
DEFAULT_INBOUND_POLICY = "config.linkerd.io/default-inbound-policy"
IDENTITY_SUFFIX = "serviceaccount.identity.linkerd.cluster.local"
# Envoy Gateway names the proxies' ServiceAccounts after the Gateway with a hash: the ingress is every identity of
# its namespace
INGRESS_IDENTITY = f"*.{ENVOY_GATEWAY_NAMESPACE}.{IDENTITY_SUFFIX}"
ISSUER_SECRET = "linkerd-identity-issuer"  # kubernetes.io/tls, read by linkerd-identity (external-CA mode)
TRUST_ROOTS = "linkerd-identity-trust-roots"  # the ConfigMap of the anchors the proxies trust
CONTROL_PLANE_DEPLOYMENTS = ("linkerd-destination", "linkerd-identity", "linkerd-proxy-injector")
INJECTOR_WEBHOOK = "linkerd-proxy-injector-webhook-config"


@dataclass(frozen=True)
class LinkerdSettings:
    """What the control plane's values say: CNI, the proxies' resources and start, the default inbound policy."""

    cni: bool
    proxy: ProxyResources
    hold_application_until_proxy_starts: bool
    mtls: str  # strict: only meshed (mTLS) clients where no policy says otherwise; permissive: any client


@dataclass(frozen=True)
class LinkerdArgs:
    """The Linkerd control plane's releases in install order (None: left out), and its identity."""

    crds: HelmRelease
    control_plane: HelmRelease
    cni: HelmRelease | None
    viz: HelmRelease | None
    gateway: HelmRelease | None  # Envoy Gateway, for the routes
    trust_bundle: str  # the anchors' PEM bundle
    issuer: tuple[pulumi.Input[str], pulumi.Input[str]] | None  # certificate and key; None: cert-manager writes it
    ingress_replicas: int = 1
    ingress_service_type: str = "LoadBalancer"
    after: tuple[pulumi.Resource, ...] = ()  # the Gateway API CRDs
    registry: Registry | None = None  # where Envoy Gateway's proxies pull their image


def chart_version(mesh_version: str) -> str:
    """The chart version of a Linkerd edge release: `edge-26.8.3` is 2026.8.3."""
    year, month, patch = mesh_version.removeprefix("edge-").split(".")
    return f"20{year}.{month}.{patch}"


def crds_values() -> dict[str, Any]:
    """`linkerd-crds`: its CRDs, without the Gateway API's (meshinstall installs those, at its pinned version)."""
    return {"installGatewayAPI": False}


def cni_values() -> dict[str, Any]:
    """`linkerd2-cni`: the chart's defaults."""
    return {}


def control_plane_values(settings: LinkerdSettings) -> dict[str, Any]:
    """`linkerd-control-plane` in external-CA mode: meshinstall writes the trust roots ConfigMap and the issuer's
    Secret itself, so no private key is ever a value of a Helm release."""
    return {
        "identity": {"externalCA": True, "issuer": {"scheme": "kubernetes.io/tls"}},
        "cniEnabled": settings.cni,
        "disableHeartBeat": True,  # it calls versioncheck.linkerd.io every day
        "proxy": {
            "await": settings.hold_application_until_proxy_starts,
            "defaultInboundPolicy": "all-authenticated" if settings.mtls == "strict" else "all-unauthenticated",
            "resources": {
                "cpu": {"request": settings.proxy.cpu, "limit": settings.proxy.cpu_limit},
                "memory": {"request": settings.proxy.memory, "limit": settings.proxy.memory_limit},
            },
        },
        # the chart's PodMonitors need prometheus-operator's CRDs, which come later: the monitoring component writes
        # the same ones (components/manifests/monitoring.py `scrape_targets`)
        "podMonitor": {"enabled": False},
    }


# The webhooks of Linkerd's charts and the TLS Secrets their servers read (`<namespace>/<Secret>`): the charts draw a
# key pair for each as they render; a GitOps render leaves them to cert-manager (`gitops_webhook_values`).
WEBHOOK_SECRETS = {
    "linkerd-control-plane": {
        "proxyInjector": "linkerd/linkerd-proxy-injector-k8s-tls",
        "profileValidator": "linkerd/linkerd-sp-validator-k8s-tls",
        "policyValidator": "linkerd/linkerd-policy-validator-k8s-tls",
    },
    "linkerd-viz": {"tap": "linkerd-viz/tap-k8s-tls", "tapInjector": "linkerd-viz/tap-injector-k8s-tls"},
}


def gitops_webhook_values(chart: str) -> dict[str, Any]:
    """For a render: no key pair drawn by the chart; cert-manager issues each webhook's Secret, and its CA injector
    copies the Secret's `ca.crt` into the webhook (Linkerd's documented `externalSecret` and `injectCaFromSecret`)."""
    return {
        component: {"externalSecret": True, "injectCaFromSecret": secret}
        for component, secret in WEBHOOK_SECRETS.get(chart, {}).items()
    }


def prometheus_url() -> str:
    """kube-prometheus-stack's Prometheus, which linkerd-viz reads instead of running its own."""
    return f"http://{PROMETHEUS_STACK_RELEASE}-prometheus.{MONITORING_NAMESPACE}.svc.cluster.local:9090"


def viz_values() -> dict[str, Any]:
    """`linkerd-viz` without its own Prometheus ("bring your own Prometheus"); meshinstall labels its namespace."""
    return {"prometheus": {"enabled": False}, "prometheusUrl": prometheus_url(), "createNamespaceMetadataJob": False}


def gateway_values() -> dict[str, Any]:
    """`gateway-helm` (Envoy Gateway): the chart's defaults but for two Helm hooks that `helm uninstall` leaves
    behind, cluster-wide: its certificate Job's roles are deleted once the Job has succeeded, and its topology
    injector (a webhook that labels the Envoy pods with their node's zone, for topology-aware routing) is off."""
    return {
        "certgen": {"rbac": {"annotations": {"helm.sh/hook-delete-policy": "before-hook-creation,hook-succeeded"}}},
        "topologyInjector": {"enabled": False},
    }


def namespace_labels(name: str, cni: bool) -> dict[str, str]:
    """Labels of Linkerd's own namespaces, as `linkerd install` writes them (the charts create none)."""
    if name == LINKERD_NAMESPACE:
        return labels(
            **{
                "linkerd.io/is-control-plane": "true",
                "config.linkerd.io/admission-webhooks": "disabled",
                "linkerd.io/control-plane-ns": LINKERD_NAMESPACE,
                # linkerd-init needs NET_ADMIN unless the CNI plugin does its work
                "pod-security.kubernetes.io/enforce": "restricted" if cni else "privileged",
                MESH_MEMBER_LABEL: "true",
            }
        )
    if name == LINKERD_CNI_NAMESPACE:
        return labels(**{"config.linkerd.io/admission-webhooks": "disabled", "linkerd.io/cni-resource": "true"})
    if name == LINKERD_VIZ_NAMESPACE:
        return labels(**{"linkerd.io/extension": "viz", MESH_MEMBER_LABEL: "true"})
    return labels(**{MESH_MEMBER_LABEL: "true"})


def namespace_annotations(name: str) -> dict[str, str]:
    """Annotations of Linkerd's own namespaces: the control plane's is not injected, viz's is."""
    if name == LINKERD_NAMESPACE:
        return {INJECT: "disabled"}
    if name == LINKERD_VIZ_NAMESPACE:
        return {INJECT: "enabled", "viz.linkerd.io/external-prometheus": prometheus_url()}
    return {}


def team_namespace_annotations(mtls: str) -> dict[str, str]:
    """A team namespace is meshed, and denies what no policy allows (Istio's default-deny AuthorizationPolicy)."""
    del mtls  # meshed traffic is always mTLS; the default for namespaces that are not teams' follows `mtls`
    return {INJECT: "enabled", DEFAULT_INBOUND_POLICY: "deny"}


def envoy_proxy_spec(replicas: int, service_type: str, registry: Registry | None = None) -> dict[str, Any]:
    """Envoy Gateway's proxies: meshed (so that the teams' policies admit them), with the spec's replicas and Service,
    their image from the private registry if there is one."""
    pod: dict[str, Any] = {"annotations": {INJECT: "enabled"}}
    if registry and registry.pull_secrets:
        pod["imagePullSecrets"] = [{"name": n} for n in registry.pull_secrets]
    return {
        "provider": {
            "type": "Kubernetes",
            "kubernetes": {
                "envoyDeployment": {
                    "replicas": replicas,
                    "pod": pod,
                    "container": {"image": registry.mirrored(ENVOY_IMAGE) if registry else ENVOY_IMAGE},
                },
                "envoyService": {"type": service_type},
            },
        }
    }


def gateway_class_spec() -> dict[str, Any]:
    """The GatewayClass of Envoy Gateway's controller, configured by meshinstall's EnvoyProxy."""
    return {
        "controllerName": "gateway.envoyproxy.io/gatewayclass-controller",
        "parametersRef": {
            "group": "gateway.envoyproxy.io",
            "kind": "EnvoyProxy",
            "name": GATEWAY_CLASS,
            "namespace": ENVOY_GATEWAY_NAMESPACE,
        },
    }


def gateway_spec(hosts: tuple[str, ...], tls_secret: str | None) -> dict[str, Any]:
    """The shared Gateway: HTTP for the hosts, and HTTPS with the spec's certificate when TLS is set; routes from
    every namespace (the teams') may attach."""
    listeners: list[dict[str, Any]] = []
    for i, host in enumerate(hosts):
        common = {"hostname": host, "allowedRoutes": {"namespaces": {"from": "All"}}}
        listeners.append({"name": f"http-{i}", "protocol": "HTTP", "port": 80, **common})
        if tls_secret:
            listeners.append(
                {
                    "name": f"https-{i}",
                    "protocol": "HTTPS",
                    "port": 443,
                    "tls": {"mode": "Terminate", "certificateRefs": [{"kind": "Secret", "name": tls_secret}]},
                    **common,
                }
            )
    return {"gatewayClassName": GATEWAY_CLASS, "listeners": listeners}


def redirect_route_spec(gateway_name: str) -> dict[str, Any]:
    """With TLS, every HTTP request to the shared Gateway is redirected to HTTPS (as Istio's `httpsRedirect`)."""
    return {
        "parentRefs": [{"name": gateway_name, "port": 80}],
        "rules": [
            {"filters": [{"type": "RequestRedirect", "requestRedirect": {"scheme": "https", "statusCode": 301}}]}
        ],
    }


def identity(namespace: str, service_account: str) -> str:
    """A workload's Linkerd (mTLS) identity."""
    return f"{service_account}.{namespace}.{IDENTITY_SUFFIX}"


def callers(app: AppArgs) -> list[str]:
    """The identities of the apps `allowFrom` names (each app runs as its own ServiceAccount)."""
    out = []
    for ref in app.allow_from:
        team, name = ref.split("/") if "/" in ref else (app.team, ref)
        out.append(identity(app.team_namespaces.get(team, team), name))
    return out


def server_spec(app: AppArgs) -> dict[str, Any]:
    """The app's pods and port as a policy target (`Server`): once it exists, only what an AuthorizationPolicy
    admits reaches it."""
    port = app.service_ports[0].target_port if len(app.service_ports) == 1 else app.port
    return {
        "podSelector": {"matchLabels": {"app": app.name}},
        "port": port,
        "proxyProtocol": "gRPC" if app.protocol == "grpc" else "HTTP/2" if app.protocol == "http2" else "HTTP/1",
    }


def authentication_spec(app: AppArgs) -> dict[str, Any] | None:
    """The app's callers as a MeshTLSAuthentication (mTLS identities), or None when nobody may call it: the
    namespace's `deny` default then refuses every request, as Istio's default-deny does."""
    identities = callers(app) + ([INGRESS_IDENTITY] if app.route else [])
    return {"identities": sorted(set(identities))} if identities else None


def authorization_policy_spec(app: AppArgs) -> dict[str, Any]:
    """Authorizes the app's MeshTLSAuthentication on its Server."""
    return {
        "targetRef": {"group": "policy.linkerd.io", "kind": "Server", "name": app.name},
        "requiredAuthenticationRefs": [
            {"group": "policy.linkerd.io", "kind": "MeshTLSAuthentication", "name": f"{app.name}-callers"}
        ],
    }


def _backends(app: AppArgs, port: int) -> list[dict[str, Any]]:
    """The app's Service; with a canary, the Services of each version (`version_service_spec`) by weight."""
    canary = app.traffic.canary
    if not canary:
        return [{"name": app.name, "port": port}]
    return [
        {"name": f"{app.name}-stable", "port": port, "weight": 100 - canary.weight},
        {"name": f"{app.name}-canary", "port": port, "weight": canary.weight},
    ]


def route_annotations(app: AppArgs) -> dict[str, str]:
    """Retries as Linkerd's annotations on the route (Gateway API's retry field is not in the standard channel)."""
    retries = app.traffic.retries
    if not retries:
        return {}
    out = {"retry.linkerd.io/http": "5xx", "retry.linkerd.io/limit": str(retries.attempts)}
    if retries.per_try_timeout:
        out["retry.linkerd.io/timeout"] = retries.per_try_timeout
    return out


def _rule(app: AppArgs, port: int, path: str = "/") -> dict[str, Any]:
    rule: dict[str, Any] = {
        "matches": [{"path": {"type": "PathPrefix", "value": path}}],
        "backendRefs": _backends(app, port),
    }
    if app.traffic.timeout:
        rule["timeouts"] = {"request": app.traffic.timeout}
    return rule


def mesh_route_spec(app: AppArgs) -> dict[str, Any]:
    """In-mesh routing (GAMMA): an HTTPRoute whose parent is the app's Service, with the canary's weight and the
    timeout."""
    port = app.service_ports[0].port
    return {
        "parentRefs": [{"group": "", "kind": "Service", "name": app.name, "port": port}],
        "rules": [_rule(app, port)],
    }


def ingress_route_spec(app: AppArgs, gateway_namespace: str, gateway_name: str) -> dict[str, Any]:
    """The app's host and path on the shared Gateway."""
    assert app.route is not None
    port = app.route.port or app.service_ports[0].port
    parent: dict[str, Any] = {"name": gateway_name, "namespace": gateway_namespace}
    if app.gateway_https:  # HTTPS only: the HTTP listeners redirect (`redirect_route_spec`)
        parent["port"] = 443
    return {
        "parentRefs": [parent],
        "hostnames": [app.route.host],
        "rules": [_rule(app, port, app.route.path)],
    }


def version_service_spec(app: AppArgs, version: str) -> dict[str, Any]:
    """The Service of one version (`stable`, `canary`): a route's weighted backend is a Service, and the app's own
    selects both."""
    return {
        "selector": {"app": app.name, "version": version},
        "ports": [{"name": p.name, "port": p.port, "targetPort": p.target_port} for p in app.service_ports],
    }


def failure_accrual_annotations(app: AppArgs) -> dict[str, str]:
    """Circuit breaking as Linkerd's consecutive-failures accrual on the Service."""
    breaker = app.traffic.circuit_breaker
    if not breaker:
        return {}
    return {
        "balancer.linkerd.io/failure-accrual": "consecutive",
        "balancer.linkerd.io/failure-accrual-consecutive-max-failures": str(breaker.consecutive_errors),
        "balancer.linkerd.io/failure-accrual-consecutive-min-penalty": "1s",
        "balancer.linkerd.io/failure-accrual-consecutive-max-penalty": breaker.ejection_time,
    }

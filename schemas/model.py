"""The validated, immutable model of a mesh spec (what every later step reads)."""

from __future__ import annotations

import collections.abc
import dataclasses
import functools
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class SecretRef:
    """A secret held outside the spec: an environment variable or a file."""

    from_env: str | None = None
    from_file: str | None = None

    def describe(self) -> str:
        """Where the secret comes from, safe to print."""
        return f"env:{self.from_env}" if self.from_env else f"file:{self.from_file}"


@dataclass(frozen=True)
class Metadata:
    """Identity of the environment."""

    name: str
    production: bool = False
    description: str = ""


@dataclass(frozen=True)
class NodeCapacity:
    """Allocatable capacity of one simulated node."""

    cpu: str = "16"
    memory: str = "64Gi"
    pods: int = 110


@dataclass(frozen=True)
class Cluster:
    """The cluster the platform runs on."""

    provider: str
    kubeconfig: str | None = None
    context: str | None = None
    kubernetes_version: str = "1.34"
    nodes: int = 3
    node_capacity: NodeCapacity = NodeCapacity()

    @property
    def simulated(self) -> bool:
        """A local simulated control plane that meshinstall starts, not an existing cluster reached by kubeconfig."""
        return self.provider == "simulated"


@dataclass(frozen=True)
class Requests:
    """CPU and memory requests."""

    cpu: str = "100m"
    memory: str = "128Mi"


@dataclass(frozen=True)
class GatewaySettings:
    """An ingress or egress gateway deployment."""

    enabled: bool = True
    replicas: int = 2
    service_type: str = "LoadBalancer"


@dataclass(frozen=True)
class MeshTracing:
    """Sidecar trace sampling."""

    sampling_percent: float = 1.0


@dataclass(frozen=True)
class MeshResources:
    """Control-plane requests."""

    istiod: Requests = Requests("500m", "2Gi")


# Pod Security levels that refuse the `istio-init` container (NET_ADMIN, NET_RAW): injected pods need the CNI agent.
RESTRICTED_POD_SECURITY = ("baseline", "restricted")


@dataclass(frozen=True)
class MeshCni:
    """Istio's CNI agent: None means "as Pod Security needs"."""

    enabled: bool | None = None


@dataclass(frozen=True)
class GatewayApi:
    """The Gateway API CRDs."""

    install: bool = True


@dataclass(frozen=True)
class Upgrade:
    """How a change of the mesh version is carried out (stacks/program/upgrade.py)."""

    strategy: str = "canary"
    waves: tuple[tuple[str, ...], ...] = ()
    teams_per_wave: int = 1
    pause_seconds: int = 0


@dataclass(frozen=True)
class TrustAnchor:
    """Linkerd's trust anchor: given by reference, or made by meshinstall (`certificate` None)."""

    certificate: SecretRef | None = None
    key: SecretRef | None = None
    validity_days: int = 3650


@dataclass(frozen=True)
class Issuer:
    """Linkerd's identity issuer: given by reference, owned by cert-manager, or made by meshinstall."""

    certificate: SecretRef | None = None
    key: SecretRef | None = None
    cert_manager: bool = False
    validity_days: int = 365


@dataclass(frozen=True)
class Identity:
    """Linkerd's identity certificates (mesh.identity)."""

    trust_anchor: TrustAnchor = TrustAnchor()
    issuer: Issuer = Issuer()
    warn_days: int = 30


@dataclass(frozen=True)
class Mesh:
    """The mesh control plane."""

    provider: str
    version: str
    profile: str = "default"
    revision: str | None = None
    mtls: str = "strict"
    outbound_traffic_policy: str = "ALLOW_ANY"
    ingress_gateway: GatewaySettings = GatewaySettings()
    egress_gateway: GatewaySettings = GatewaySettings(enabled=False, replicas=1)
    tracing: MeshTracing = MeshTracing()
    resources: MeshResources = MeshResources()
    cni: MeshCni = MeshCni()
    gateway_api: GatewayApi = GatewayApi()
    upgrade: Upgrade = Upgrade()
    identity: Identity = Identity()

    @property
    def linkerd(self) -> bool:
        """Linkerd rather than Istio."""
        return self.provider == "linkerd"


@dataclass(frozen=True)
class ProxyResources:
    """Resources of each sidecar proxy."""

    cpu: str = "100m"
    memory: str = "128Mi"
    cpu_limit: str = "1"
    memory_limit: str = "512Mi"


@dataclass(frozen=True)
class Sidecars:
    """Sidecar defaults."""

    proxy: ProxyResources = ProxyResources()
    hold_application_until_proxy_starts: bool = True


@dataclass(frozen=True)
class Toggle:
    """A monitoring piece that is on or off."""

    enabled: bool = True


@dataclass(frozen=True)
class Prometheus:
    """Prometheus settings."""

    enabled: bool = True
    retention: str = "15d"
    storage: str = "50Gi"


@dataclass(frozen=True)
class Grafana:
    """Grafana settings."""

    enabled: bool = True
    admin_password: SecretRef | None = None


@dataclass(frozen=True)
class Tracing:
    """Tracing backend settings."""

    enabled: bool = True
    backend: str = "jaeger"


@dataclass(frozen=True)
class Alerts:
    """Per-app alert thresholds."""

    enabled: bool = True
    error_rate_percent: float = 5
    latency_p99_ms: int = 1000


@dataclass(frozen=True)
class Monitoring:
    """Monitoring stack."""

    prometheus: Prometheus = Prometheus()
    grafana: Grafana = Grafana()
    kiali: Toggle = Toggle()
    tracing: Tracing = Tracing()
    alerts: Alerts = Alerts()


@dataclass(frozen=True)
class Route:
    """How an app is exposed through the ingress gateway."""

    host: str
    path: str = "/"
    port: int | None = None  # a Score `route` resource's port: which service port the gateway reaches


@dataclass(frozen=True)
class Retries:
    """Retry policy."""

    attempts: int
    per_try_timeout: str | None = None
    retry_on: str = "5xx,reset,connect-failure,retriable-4xx"


@dataclass(frozen=True)
class CircuitBreaker:
    """Outlier detection."""

    consecutive_errors: int
    ejection_time: str = "30s"
    max_ejection_percent: int = 50


@dataclass(frozen=True)
class Canary:
    """A canary version and its share of traffic."""

    image: str
    weight: int
    replicas: int = 1


@dataclass(frozen=True)
class TrafficPolicy:
    """Timeouts, retries, circuit breaking and canary for one app."""

    timeout: str | None = None
    retries: Retries | None = None
    circuit_breaker: CircuitBreaker | None = None
    canary: Canary | None = None


@dataclass(frozen=True)
class Probe:
    """A liveness or readiness probe (from a Score file): an HTTP GET, or a command run in the container."""

    path: str | None = None  # httpGet
    port: int | None = None
    scheme: str = "HTTP"
    host: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    command: tuple[str, ...] = ()  # exec


@dataclass(frozen=True)
class Container:
    """One container of a workload from a Score file (an inline app has one, built from its own fields)."""

    name: str
    image: str
    command: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)  # placeholders resolved
    secret_env: tuple[str, ...] = ()  # variables read from the app's Secret (their sources: App.secret_env)
    resources: Requests = Requests()  # requests
    cpu_limit: str | None = None
    memory_limit: str | None = None
    liveness: Probe | None = None
    readiness: Probe | None = None


@dataclass(frozen=True)
class ServicePort:
    """A named port of a workload's Service (Score `service.ports`)."""

    name: str
    port: int
    target_port: int
    protocol: str = "TCP"  # the transport (TCP or UDP); the application protocol is App.protocol


@dataclass(frozen=True)
class App:
    """An app onboarded into the mesh: inline in the environment spec, or a workload from a team's Score file
    (`containers`, `ports` and `source` set; `port` is then its first service port, 0 when it has none)."""

    name: str
    image: str
    port: int
    protocol: str = "http"
    replicas: int = 1
    resources: Requests = Requests()
    env: Mapping[str, str] = field(default_factory=dict)
    secret_env: Mapping[str, SecretRef] = field(default_factory=dict)
    automount_service_account_token: bool = False
    route: Route | None = None
    allow_from: tuple[str, ...] = ()
    traffic: TrafficPolicy = TrafficPolicy()
    containers: tuple[Container, ...] = ()  # Score: every container (resources then holds their summed requests)
    ports: tuple[ServicePort, ...] = ()  # Score: the Service's ports
    annotations: Mapping[str, str] = field(default_factory=dict)  # Score metadata.annotations, on the pods
    run_as_root: bool = False  # Score extension: metadata.meshinstall.runAsRoot
    capabilities: tuple[str, ...] = ()  # Score extension: Linux capabilities added to every container
    source: str = ""  # the Score file it was read from ("" for an inline app)

    @property
    def has_service(self) -> bool:
        """Whether the app has a Service (and traffic policy): every inline app; a workload with service ports."""
        return bool(self.ports) or not self.containers


@dataclass(frozen=True)
class Quota:
    """A team's ResourceQuota (per namespace)."""

    cpu: str = "4"
    memory: str = "8Gi"
    pods: int = 50


@dataclass(frozen=True)
class Team:
    """A team, its namespaces, access and apps."""

    name: str
    groups: tuple[str, ...] = ()
    namespaces: tuple[str, ...] = ()
    quota: Quota = Quota()
    apps: tuple[App, ...] = ()  # inline apps, or the workloads read from the `workloads` folder
    workloads: str | None = None  # the team's folder of Score files, relative to the spec file that declares it
    hosts: tuple[str, ...] = ()  # route hosts the team may claim (empty: the gateway's hosts)

    @property
    def owns_workloads(self) -> bool:
        """The team's apps come from its own Score files and are applied by its own stack (`up --team`)."""
        return self.workloads is not None

    @property
    def app_namespace(self) -> str:
        """The namespace the team's apps are deployed to."""
        return self.namespaces[0]


@dataclass(frozen=True)
class GatewayTls:
    """TLS of the shared gateway."""

    secret_name: str


@dataclass(frozen=True)
class PaasGateway:
    """The shared ingress Gateway."""

    hosts: tuple[str, ...]
    tls: GatewayTls | None = None


@dataclass(frozen=True)
class Paas:
    """The platform layer."""

    domain: str | None = None
    gateway: PaasGateway | None = None
    pod_security: str = "baseline"
    teams: tuple[Team, ...] = ()
    platform_groups: tuple[str, ...] = ()  # who owns the environment specs (CODEOWNERS)


@dataclass(frozen=True)
class State:
    """Where state lives."""

    backend: str = "file://.meshinstall/state"
    password: SecretRef | None = None

    @property
    def postgres(self) -> bool:
        return self.backend.startswith(("postgres://", "postgresql://"))


@dataclass(frozen=True)
class Images:
    """Where the platform's images come from (a private registry, or their public ones)."""

    registry: str | None = None
    pull_secrets: tuple[str, ...] = ()
    apps: bool = False


@dataclass(frozen=True)
class Charts:
    """Where charts come from."""

    mirror: str | None = None


@dataclass(frozen=True)
class Spec:
    """A whole validated environment spec."""

    api_version: str
    kind: str
    metadata: Metadata
    cluster: Cluster
    mesh: Mesh
    sidecars: Sidecars = Sidecars()
    monitoring: Monitoring = Monitoring()
    paas: Paas = Paas()
    state: State = State()
    charts: Charts = Charts()
    images: Images = Images()
    source: Path = Path(".")
    content_hash: str = ""
    given_as: str = ""  # how the command named the environment (its name or its spec's path): hints repeat it

    @property
    def name(self) -> str:
        """The environment (and stack) name."""
        return self.metadata.name

    @property
    def named(self) -> str:
        """The environment as a hint's command names it: as the user's command did (a name or a spec's path), else
        by its name. `metadata.name` alone fails as a command's argument when the file is named otherwise."""
        return self.given_as or self.name

    @property
    def cni_enabled(self) -> bool:
        """Whether Istio's CNI agent is installed: as the spec says, else whenever Pod Security forbids `istio-init`."""
        if self.mesh.cni.enabled is not None:
            return self.mesh.cni.enabled
        return self.paas.pod_security in RESTRICTED_POD_SECURITY

    @property
    def base_dir(self) -> Path:
        """The folder relative paths in the spec are resolved from."""
        return self.source.parent

    def resolve_path(self, value: str) -> Path:
        """A path from the spec: `~` expanded, relative to the spec's folder."""
        path = Path(value).expanduser()
        return path if path.is_absolute() else (self.base_dir / path)


@functools.cache
def snake(name: str) -> str:
    """`nodeCapacity` -> `node_capacity`."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)  # evaluates every annotation: once per class, not once per app


def build(cls: type, data: Mapping[str, Any]) -> Any:
    """Build dataclass `cls` from schema-valid camelCase data (unknown keys were rejected before)."""
    hints = _hints(cls)
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        name = snake(key)
        if name in hints:
            kwargs[name] = _convert(hints[name], value)
    return cls(**kwargs)


def _convert(hint: Any, value: Any) -> Any:
    origin = typing.get_origin(hint)
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if value is None:
        return None
    if origin in (typing.Union, types.UnionType) and args:
        return _convert(args[0], value)
    if dataclasses.is_dataclass(hint):
        return build(hint, value)
    if origin is tuple:
        return tuple(_convert(args[0], item) for item in value)
    if origin in (collections.abc.Mapping, dict):
        return {k: _convert(args[1], v) for k, v in value.items()}
    return value

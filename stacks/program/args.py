"""The validated model mapped to the components' plain arguments: pure functions the program, releases and checks share."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from ...components.manifests.app import (
    AppArgs,
    Canary,
    CircuitBreaker,
    Container,
    Probe,
    Retries,
    Route,
    ServicePort,
    TrafficPolicy,
)
from ...components.manifests.control_plane import ControlPlaneArgs
from ...components.manifests.linkerd import LinkerdArgs, team_namespace_annotations
from ...components.manifests.monitoring import AlertThresholds, AppTarget, MonitoringArgs
from ...components.manifests.paas import PaasArgs, SharedGateway
from ...components.manifests.sidecars import SidecarsArgs, injection_labels
from ...components.manifests.team import Quota, TeamArgs
from ...components.manifests.team_workloads import TeamWorkloadsArgs
from ...schemas import model
from .chart_settings import registry_of

if TYPE_CHECKING:
    import pulumi

    from .identity import LinkerdIdentity
    from .releases import Releases
    from .upgrade import MeshLayout


# --- control plane and sidecars ---------------------------------------------------------------------------------


def control_plane_args(charts: Releases, after: tuple[pulumi.Resource, ...]) -> ControlPlaneArgs:
    """The control plane's releases; `after` is what istiod waits for besides `base` (the Gateway API CRDs)."""
    return ControlPlaneArgs(
        charts.base,
        charts.istiod,
        charts.cni,
        charts.ingress_gateway,
        charts.egress_gateway,
        after,
        charts.more_istiods,
    )


def linkerd_args(
    spec: model.Spec, charts: Releases, identity: LinkerdIdentity, after: tuple[pulumi.Resource, ...]
) -> LinkerdArgs:
    """Linkerd's releases, the identity it is given (the issuer's key as a secret) and Envoy Gateway's settings."""
    import pulumi

    assert charts.linkerd is not None
    chosen, ingress = charts.linkerd, spec.mesh.ingress_gateway
    issuer = (
        (identity.issuer_certificate, pulumi.Output.secret(identity.issuer_key))
        if identity.issuer_certificate and identity.issuer_key
        else None
    )
    return LinkerdArgs(
        chosen.crds,
        chosen.control_plane,
        chosen.cni,
        chosen.viz,
        chosen.gateway,
        identity.bundle,
        issuer,
        ingress.replicas,
        ingress.service_type,
        after,
        registry_of(spec),
    )


def sidecars_args(spec: model.Spec, after: tuple[pulumi.Resource, ...]) -> SidecarsArgs:
    """Mesh-wide mTLS and outbound policy; the mesh is every team's namespaces."""
    namespaces = tuple(ns for team in spec.paas.teams for ns in team.namespaces)
    return SidecarsArgs(spec.mesh.mtls, spec.mesh.outbound_traffic_policy, namespaces, after)


# --- PaaS: teams and apps ---------------------------------------------------------------------------------------


def quota(spec_quota: model.Quota) -> Quota:
    """A team's quota per namespace."""
    return Quota(spec_quota.cpu, spec_quota.memory, spec_quota.pods)


def team_args(
    team: model.Team, spec: model.Spec, layout: MeshLayout, after: tuple[pulumi.Resource, ...] = ()
) -> TeamArgs:
    """A team's space: its namespaces inject the sidecars of the revision `layout` gives the team, and a container
    that states no requests gets the proxy's."""
    proxy = spec.sidecars.proxy
    linkerd = spec.mesh.linkerd
    labels = {} if linkerd else injection_labels(layout.team_revision(team.name).value or None)
    return TeamArgs(
        team.name,
        team.namespaces,
        team.groups,
        quota(team.quota),
        spec.paas.pod_security,
        labels,
        {"cpu": proxy.cpu, "memory": proxy.memory},
        after,
        team_namespace_annotations(spec.mesh.mtls) if linkerd else {},
        spec.mesh.provider,
    )


def traffic_policy(traffic: model.TrafficPolicy, image: Callable[[str], str] = str) -> TrafficPolicy:
    """An app's timeout, retries, circuit breaker and canary (`image`: where the canary's image is pulled)."""
    retries, breaker, canary = traffic.retries, traffic.circuit_breaker, traffic.canary
    return TrafficPolicy(
        timeout=traffic.timeout,
        retries=Retries(retries.attempts, retries.retry_on, retries.per_try_timeout) if retries else None,
        circuit_breaker=CircuitBreaker(breaker.consecutive_errors, breaker.ejection_time, breaker.max_ejection_percent)
        if breaker
        else None,
        canary=Canary(image(canary.image), canary.replicas, canary.weight) if canary else None,
    )


def app_namespaces(paas: model.Paas) -> dict[str, str]:
    """Each team's app namespace, by team name (where `allowFrom: team/app` callers run)."""
    return {team.name: team.app_namespace for team in paas.teams}


def app_args(
    app: model.App,
    team: model.Team,
    team_namespaces: Mapping[str, str],
    secret_values: Mapping[str, pulumi.Input[str]] | None = None,
    after: tuple[pulumi.Resource, ...] = (),
    spec: model.Spec | None = None,
) -> AppArgs:
    """One app of `team`, in the team's app namespace; `team_namespaces` resolves its callers (`app_namespaces`);
    `spec` says which mesh carries its policy and whether the shared Gateway has TLS."""
    registry = registry_of(spec) if spec and spec.images.apps else None
    image = registry.mirrored if registry else str
    return AppArgs(
        name=app.name,
        team=team.name,
        namespace=team.app_namespace,
        image=image(app.image),
        replicas=app.replicas,
        port=app.port,
        protocol=app.protocol,
        cpu=app.resources.cpu,
        memory=app.resources.memory,
        automount_service_account_token=app.automount_service_account_token,
        env=dict(app.env),
        secret_env=tuple(app.secret_env),
        route=Route(app.route.host, app.route.path, app.route.port) if app.route else None,
        allow_from=app.allow_from,
        traffic=traffic_policy(app.traffic, image),
        secret_values=secret_values or {},
        team_namespaces=team_namespaces,
        after=after,
        containers=tuple(container(c, image) for c in app.containers),
        ports=tuple(ServicePort(p.name, p.port, p.target_port, p.protocol) for p in app.ports),
        annotations=dict(app.annotations),
        run_as_root=app.run_as_root,
        capabilities=app.capabilities,
        mesh=spec.mesh.provider if spec else "istio",
        gateway_https=bool(spec and spec.paas.gateway and spec.paas.gateway.tls),
        pull_secrets=registry.pull_secrets if registry else (),
    )


def probe(spec_probe: model.Probe | None) -> Probe | None:
    """A workload's liveness or readiness probe."""
    if spec_probe is None:
        return None
    return Probe(
        spec_probe.path, spec_probe.port, spec_probe.scheme, spec_probe.host, spec_probe.headers, spec_probe.command
    )


def container(spec_container: model.Container, image: Callable[[str], str] = str) -> Container:
    """One container of a workload from a team's Score file (`image`: where its image is pulled)."""
    c = spec_container
    return Container(
        name=c.name,
        image=image(c.image),
        cpu=c.resources.cpu,
        memory=c.resources.memory,
        command=c.command,
        args=c.args,
        env=dict(c.env),
        secret_env=c.secret_env,
        cpu_limit=c.cpu_limit,
        memory_limit=c.memory_limit,
        liveness=probe(c.liveness),
        readiness=probe(c.readiness),
    )


def shared_gateway(gateway: model.PaasGateway) -> SharedGateway:
    """The shared ingress Gateway's hosts and TLS Secret."""
    return SharedGateway(gateway.hosts, gateway.tls.secret_name if gateway.tls else None)


def paas_args(
    spec: model.Spec,
    layout: MeshLayout,
    app_env: Mapping[tuple[str, str], Mapping[str, pulumi.Input[str]]],
    after: tuple[pulumi.Resource, ...],
) -> PaasArgs:
    """Every team and the platform's apps (`app_env`: each app's secret env by (team, app)); all wait for `after`.
    The apps of a team that owns its workloads are its own stack's (`team_workloads_args`)."""
    paas = spec.paas
    namespaces = app_namespaces(paas)
    apps = tuple(
        app_args(app, team, namespaces, app_env.get((team.name, app.name), {}), after, spec)
        for team in paas.teams
        if not team.owns_workloads
        for app in team.apps
    )
    teams = tuple(team_args(team, spec, layout, after) for team in paas.teams)
    return PaasArgs(teams, apps, shared_gateway(paas.gateway) if paas.gateway else None, after, spec.mesh.provider)


def team_workloads_args(
    spec: model.Spec, team: model.Team, app_env: Mapping[tuple[str, str], Mapping[str, pulumi.Input[str]]]
) -> TeamWorkloadsArgs:
    """What a team that owns its workloads applies itself: its apps, their alerts and its dashboard, as the platform
    would watch them."""
    namespaces = app_namespaces(spec.paas)
    monitoring = spec.monitoring
    alerting = monitoring.alerts.enabled and monitoring.prometheus.enabled
    return TeamWorkloadsArgs(
        team.name,
        team.app_namespace,
        tuple(app_args(app, team, namespaces, app_env.get((team.name, app.name), {}), spec=spec) for app in team.apps),
        alert_thresholds(monitoring.alerts) if alerting else None,
        monitoring.grafana.enabled and monitoring.prometheus.enabled,
    )


# --- monitoring -------------------------------------------------------------------------------------------------


def app_target(team: model.Team, app: model.App, mesh: str = "istio") -> AppTarget:
    """An app whose traffic is watched, in its team's app namespace."""
    return AppTarget(team.name, team.app_namespace, app.name, mesh)


def alert_thresholds(alerts: model.Alerts) -> AlertThresholds:
    """The thresholds of every app's alerts."""
    return AlertThresholds(alerts.error_rate_percent, alerts.latency_p99_ms)


def monitoring_args(
    spec: model.Spec,
    charts: Releases,
    grafana_password: pulumi.Input[str] | None,
    after: tuple[pulumi.Resource, ...],
    namespaces: Mapping[str, pulumi.Resource],
) -> MonitoringArgs:
    """Every app of the spec watched, with its alerts when the spec turns them on; `namespaces` are the teams' by name."""
    monitoring = spec.monitoring
    return MonitoringArgs(
        apps=tuple(
            app_target(team, app, spec.mesh.provider)
            for team in spec.paas.teams
            if not team.owns_workloads
            for app in team.apps
        ),
        grafana=monitoring.grafana.enabled,
        alerts=alert_thresholds(monitoring.alerts) if monitoring.alerts.enabled else None,
        prometheus=charts.prometheus,
        kiali=charts.kiali,
        jaeger=charts.jaeger,
        grafana_password=grafana_password,
        after=after,
        namespaces=namespaces,
        mesh=spec.mesh.provider,
    )

"""Semantic rules a JSON Schema cannot express; each rule yields located problems."""

from __future__ import annotations

import fnmatch
import re
import urllib.parse
from collections.abc import Callable, Iterable, Iterator

from ..errors import SpecProblem
from . import versions
from .footprint import platform_footprint, quota_footprint
from .loader import Document
from .model import RESTRICTED_POD_SECURITY, App, Spec, Team
from .quantity import bytes_of, format_cpu, format_memory, millicores

Rule = Callable[[Spec, Document], Iterable[SpecProblem]]
RULES: list[Rule] = []

PLATFORM_NAMESPACES = {
    "default",
    "kube-system",
    "kube-public",
    "kube-node-lease",
    "istio-system",
    "monitoring",
    "meshinstall-system",
    "linkerd",
    "linkerd-cni",
    "linkerd-viz",
    "envoy-gateway-system",
}
SECRET_LOOKING = re.compile(r"(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIALS?)", re.IGNORECASE)


def rule(fn: Rule) -> Rule:
    """Register a semantic rule."""
    RULES.append(fn)
    return fn


def team_path(i: int) -> tuple[str | int, ...]:
    return ("paas", "teams", i)


def app_path(i: int, j: int) -> tuple[str | int, ...]:
    return ("paas", "teams", i, "apps", j)


def all_apps(spec: Spec) -> Iterator[tuple[int, int, Team, App]]:
    """Every inline app as (team index, app index, team, app); a workload team's apps come from its Score files, whose
    own rules (score_rules.py) report them at their lines."""
    for i, team in enumerate(spec.paas.teams):
        for j, app in enumerate(() if team.owns_workloads else team.apps):
            yield i, j, team, app


@rule
def unique_names(spec: Spec, doc: Document) -> Iterator[SpecProblem]:
    """Team names are unique; app names are unique within a team."""
    seen: dict[str, int] = {}
    for i, team in enumerate(spec.paas.teams):
        if team.name in seen:
            yield doc.problem(
                team_path(i) + ("name",),
                f"team {team.name!r} is already defined at $.paas.teams[{seen[team.name]}]",
                "give each team a unique name",
            )
        seen.setdefault(team.name, i)
        apps: dict[str, int] = {}
        for j, app in enumerate(() if team.owns_workloads else team.apps):
            if app.name in apps:
                yield doc.problem(
                    app_path(i, j) + ("name",),
                    f"app {app.name!r} is already defined in team {team.name!r}",
                    "give each app of a team a unique name",
                )
            apps.setdefault(app.name, j)


@rule
def namespace_owners(spec: Spec, doc: Document) -> Iterator[SpecProblem]:
    """Each namespace belongs to one team and is not a platform namespace."""
    owners: dict[str, str] = {}
    for i, team in enumerate(spec.paas.teams):
        for k, namespace in enumerate(team.namespaces):
            path = (
                team_path(i) + ("namespaces", k)
                if "namespaces" in _raw(doc, team_path(i))
                else team_path(i) + ("name",)
            )
            if namespace in PLATFORM_NAMESPACES:
                yield doc.problem(
                    path, f"namespace {namespace!r} is reserved for the platform", "choose another namespace name"
                )
            elif namespace in owners:
                yield doc.problem(
                    path,
                    f"namespace {namespace!r} is already owned by team {owners[namespace]!r}",
                    "a namespace belongs to exactly one team",
                )
            owners.setdefault(namespace, team.name)


def _raw(doc: Document, path: tuple[str | int, ...]) -> dict:
    node = doc.data
    for part in path:
        node = node[part]
    return node


@rule
def references_resolve(spec: Spec, doc: Document) -> Iterator[SpecProblem]:
    """`allowFrom` entries name existing apps; a canary runs a different image than the stable version."""
    known = {f"{team.name}/{app.name}" for team in spec.paas.teams for app in team.apps}
    for i, j, team, app in all_apps(spec):
        for k, ref in enumerate(app.allow_from):
            full = ref if "/" in ref else f"{team.name}/{ref}"
            if full not in known:
                yield doc.problem(
                    app_path(i, j) + ("allowFrom", k),
                    f"{ref!r} does not name an app (looked for {full!r})",
                    "write `team/app`, or `app` for an app of the same team; known: " + ", ".join(sorted(known)),
                )
        canary = app.traffic.canary
        if canary and canary.image == app.image:
            yield doc.problem(
                app_path(i, j) + ("traffic", "canary", "image"),
                "the canary image is the stable image",
                "set the new version's image, or remove the canary",
            )


@rule
def routes(spec: Spec, doc: Document) -> Iterator[SpecProblem]:
    """Routes match a gateway host, need the ingress gateway, and do not collide."""
    taken: dict[tuple[str, str], str] = {}
    hosts = spec.paas.gateway.hosts if spec.paas.gateway else ()
    for i, j, team, app in all_apps(spec):
        if not app.route:
            continue
        path = app_path(i, j) + ("route",)
        key = (app.route.host, app.route.path.rstrip("/") or "/")
        if key in taken:
            yield doc.problem(
                path + ("host",),
                f"route {app.route.host}{app.route.path} is already used by {taken[key]}",
                "use another host or path",
            )
        taken.setdefault(key, f"{team.name}/{app.name}")
        if not spec.mesh.ingress_gateway.enabled:
            yield doc.problem(
                path,
                "the app is routed but the ingress gateway is disabled",
                "set mesh.ingressGateway.enabled: true or remove the route",
            )
        elif not hosts:
            yield doc.problem(
                path, "the app is routed but paas.gateway.hosts is not set", "add paas.gateway.hosts covering this host"
            )
        elif not any(fnmatch.fnmatchcase(app.route.host, h) for h in hosts):
            yield doc.problem(
                path + ("host",),
                f"{app.route.host!r} matches none of paas.gateway.hosts ({', '.join(hosts)})",
                "add a matching host to paas.gateway.hosts",
            )
        elif team.hosts and not any(fnmatch.fnmatchcase(app.route.host, h) for h in team.hosts):
            yield doc.problem(
                path + ("host",),
                f"{app.route.host!r} matches none of the hosts of team {team.name!r} ({', '.join(team.hosts)})",
                f"use a host within the team's hosts, or add one to $.paas.teams[{i}].hosts",
            )


@rule
def team_hosts_within_gateway(spec: Spec, doc: Document) -> Iterator[SpecProblem]:
    """Each host a team may claim lies within the gateway's hosts."""
    gateway = spec.paas.gateway.hosts if spec.paas.gateway else ()
    for i, team in enumerate(spec.paas.teams):
        for k, host in enumerate(team.hosts):
            if not any(fnmatch.fnmatchcase(host, h) for h in gateway):
                yield doc.problem(
                    team_path(i) + ("hosts", k),
                    f"the host {host!r} of team {team.name!r} lies within none of paas.gateway.hosts ({', '.join(gateway) or 'none set'})",
                    "use a host within the gateway's hosts, or add one to paas.gateway.hosts",
                )


def app_usage(team: Team, spec: Spec) -> tuple[int, int, int]:
    """CPU (millicores), memory (bytes) and pods the team's apps request, sidecars and canaries included."""
    proxy = spec.sidecars.proxy
    cpu = memory = pods = 0
    for app in team.apps:
        count = app.replicas + (app.traffic.canary.replicas if app.traffic.canary else 0)
        cpu += count * (millicores(app.resources.cpu) + millicores(proxy.cpu))
        memory += count * (bytes_of(app.resources.memory) + bytes_of(proxy.memory))
        pods += count
    return cpu, memory, pods


@rule
def quotas_hold_apps(spec: Spec, doc: Document) -> Iterator[SpecProblem]:
    """Each team's quota can hold its apps' requests (replicas x (app + sidecar), canaries included)."""
    for i, team in enumerate(spec.paas.teams):
        if team.owns_workloads:  # score_rules.quotas_hold_workloads, at the workload that goes past the quota
            continue
        cpu, memory, pods = app_usage(team, spec)
        quota = team.quota
        path = team_path(i) + ("quota",)
        if cpu > millicores(quota.cpu):
            yield doc.problem(
                path + ("cpu",),
                f"apps request {format_cpu(cpu)} CPU (sidecars and canaries included) but the quota is {quota.cpu}",
                f"raise quota.cpu to at least {format_cpu(cpu)} or lower replicas/requests",
            )
        if memory > bytes_of(quota.memory):
            yield doc.problem(
                path + ("memory",),
                f"apps request {format_memory(memory)} memory (sidecars and canaries included) but the quota is {quota.memory}",
                f"raise quota.memory to at least {format_memory(memory)} or lower replicas/requests",
            )
        if pods > quota.pods:
            yield doc.problem(
                path + ("pods",),
                f"apps run {pods} pods but the quota allows {quota.pods}",
                f"raise quota.pods to at least {pods}",
            )


@rule
def cluster_capacity(spec: Spec, doc: Document) -> Iterator[SpecProblem]:
    """On a simulated cluster, the platform (as its charts request it) plus the sum of team quotas fits the nodes."""
    if not spec.cluster.simulated:
        return
    nodes, capacity = spec.cluster.nodes, spec.cluster.node_capacity
    platform, quotas = platform_footprint(spec, nodes), quota_footprint(spec)
    wanted = {
        "cpu": (platform.cpu, quotas.cpu, nodes * millicores(capacity.cpu), format_cpu),
        "memory": (platform.memory, quotas.memory, nodes * bytes_of(capacity.memory), format_memory),
        "pods": (platform.pods, quotas.pods, nodes * capacity.pods, str),
    }
    for resource, (own, teams, available, show) in wanted.items():
        if own + teams > available:
            yield doc.problem(
                ("cluster", "nodes"),
                f"team quotas ({show(teams)}) and the platform's control plane and monitoring ({show(own)}) add up to {show(own + teams)} {resource} but {nodes} node{'s' if nodes != 1 else ''} hold {show(available)}",
                "add nodes, raise cluster.nodeCapacity, or lower team quotas",
            )


@rule
def production_guards(spec: Spec, doc: Document) -> Iterator[SpecProblem]:
    """Production environments use strict mTLS and state their Pod Security level explicitly."""
    if not spec.metadata.production:
        return
    if spec.mesh.mtls != "strict":
        yield doc.problem(("mesh", "mtls"), "production environments need strict mTLS", "set mesh.mtls: strict")
    if "podSecurity" not in (doc.data.get("paas") or {}):
        yield doc.problem(
            ("metadata", "production"),
            "production environments must set paas.podSecurity explicitly",
            "add paas.podSecurity: restricted (or baseline)",
        )


@rule
def mesh_version_supported(spec: Spec, doc: Document) -> Iterator[SpecProblem]:
    """The mesh version is installable and supports the cluster's Kubernetes version."""
    found = versions.release(spec.mesh.provider, spec.mesh.version)
    if not found:
        yield doc.problem(
            ("mesh", "version"),
            f"{spec.mesh.provider} {spec.mesh.version} is not a version meshinstall can install",
            "use one of: " + ", ".join(versions.supported_versions(spec.mesh.provider)),
        )
        return
    if not found.supports(spec.cluster.kubernetes_version):
        yield doc.problem(
            ("cluster", "kubernetesVersion"),
            f"{spec.mesh.provider} {spec.mesh.version} does not support Kubernetes {spec.cluster.kubernetes_version}",
            f"it supports Kubernetes {found.kubernetes_range}",
        )


@rule
def upgrade_waves(spec: Spec, doc: Document) -> Iterator[SpecProblem]:
    """Each wave names teams of the spec, each team once; an in-place upgrade has no waves."""
    upgrade, teams = spec.mesh.upgrade, {t.name for t in spec.paas.teams}
    if upgrade.strategy == "in-place" and upgrade.waves:
        yield doc.problem(
            ("mesh", "upgrade", "waves"),
            "an in-place upgrade moves every namespace at once and has no waves",
            "remove mesh.upgrade.waves, or use strategy: canary",
        )
    seen: set[str] = set()
    for i, wave in enumerate(upgrade.waves):
        for j, name in enumerate(wave):
            if name not in teams:
                yield doc.problem(
                    ("mesh", "upgrade", "waves", i, j),
                    f"team {name!r} is not a team of this spec",
                    "name teams of paas.teams: " + ", ".join(sorted(teams)),
                )
            elif name in seen:
                yield doc.problem(
                    ("mesh", "upgrade", "waves", i, j),
                    f"team {name!r} is already in an earlier wave",
                    "name each team in one wave only",
                )
            seen.add(name)


@rule
def sidecars_admitted(spec: Spec, doc: Document) -> Iterator[SpecProblem]:
    """Without Istio's CNI agent, injected pods carry `istio-init` (NET_ADMIN, NET_RAW), which baseline and restricted refuse."""
    if spec.mesh.cni.enabled is False and spec.paas.pod_security in RESTRICTED_POD_SECURITY:
        yield doc.problem(
            ("mesh", "cni", "enabled"),
            f"paas.podSecurity {spec.paas.pod_security!r} refuses the {'linkerd-init' if spec.mesh.linkerd else 'istio-init'} container (NET_ADMIN, NET_RAW) that sidecar injection adds without the CNI agent, so every app pod would be rejected",
            "remove mesh.cni.enabled (the CNI agent is then installed) or set paas.podSecurity: privileged",
        )


@rule
def monitoring_dependencies(spec: Spec, doc: Document) -> Iterator[SpecProblem]:
    """Kiali and alerts read Prometheus."""
    monitoring = spec.monitoring
    if monitoring.prometheus.enabled:
        return
    if monitoring.kiali.enabled:
        yield doc.problem(
            ("monitoring", "kiali", "enabled"),
            "Kiali needs Prometheus",
            "enable monitoring.prometheus or disable Kiali",
        )
    if monitoring.alerts.enabled:
        yield doc.problem(
            ("monitoring", "alerts", "enabled"),
            "alerts need Prometheus",
            "enable monitoring.prometheus or disable alerts",
        )


@rule
def no_plaintext_secrets(spec: Spec, doc: Document) -> Iterator[SpecProblem]:
    """Plain `env` does not carry values that look like secrets, nor repeat a `secretEnv` name."""
    for i, j, _, app in all_apps(spec):
        for name in app.env:
            path = app_path(i, j) + ("env", name)
            if SECRET_LOOKING.search(name):
                yield doc.problem(
                    path,
                    f"{name} looks like a secret but is given in plaintext",
                    f"move it to secretEnv as {name}: {{fromEnv: VARIABLE}}",
                )
            elif name in app.secret_env:
                yield doc.problem(path, f"{name} is set in both env and secretEnv", "keep one")


@rule
def images_registry(spec: Spec, doc: Document) -> Iterator[SpecProblem]:
    """Pull Secrets and the apps' rewrite need a registry."""
    images = spec.images
    if images.registry:
        return
    for key, given in (("pullSecrets", bool(images.pull_secrets)), ("apps", images.apps)):
        if given:
            yield doc.problem(
                ("images", key), f"images.{key} needs images.registry", "add images.registry, or remove it"
            )


@rule
def state_credentials(spec: Spec, doc: Document) -> Iterator[SpecProblem]:
    """The state backend's URL holds no password (the spec is in Git); `password` goes with PostgreSQL only."""
    if password_in(spec.state.backend):
        yield doc.problem(
            ("state", "backend"),
            "the backend URL holds a password, which everyone who reads the spec can read",
            "remove it from the URL and set state.password: {fromEnv: VARIABLE}, or use libpq's PGPASSWORD or PGPASSFILE",
        )
    if spec.state.password and not spec.state.postgres:
        yield doc.problem(
            ("state", "password"),
            "only a postgres:// backend takes a password",
            "remove state.password, or use a postgres:// backend",
        )


def password_in(url: str) -> bool:
    """Whether a backend URL carries a password (`user:PASSWORD@` or `?password=`)."""
    parts = urllib.parse.urlsplit(url)
    return parts.password is not None or "password" in urllib.parse.parse_qs(parts.query)


# Fields with no meaning for Linkerd, and why: each one written in a Linkerd spec is an error at its line. A value in
# `only_if` makes the field an error only with that value (`egressGateway.enabled: false` says what Linkerd does).
NOT_LINKERD: dict[tuple[str, ...], tuple[str, object]] = {
    ("mesh", "profile"): ("istiod's profile; Linkerd's control plane has one shape", None),
    ("mesh", "revision"): ("Istio's revisions; Linkerd runs one control plane", None),
    ("mesh", "outboundTrafficPolicy"): (
        "Linkerd's proxies pass every outbound connection; it has no registry-only mode",
        None,
    ),
    ("mesh", "egressGateway", "enabled"): ("Linkerd ships no egress gateway", True),
    ("mesh", "egressGateway", "replicas"): ("Linkerd ships no egress gateway", None),
    ("mesh", "resources"): ("istiod's requests; Linkerd's control plane keeps its charts' requests", None),
    ("mesh", "tracing"): (
        "Istio's sidecar trace sampling; Linkerd traces only through its linkerd-jaeger extension",
        None,
    ),
    ("mesh", "upgrade", "strategy"): ("Linkerd has no revisions: its upgrade is in place", "canary"),
    ("mesh", "upgrade", "waves"): ("Linkerd has no revisions: its upgrade is in place, without waves", None),
    ("mesh", "upgrade", "teamsPerWave"): ("Linkerd has no revisions: its upgrade is in place, without waves", None),
    ("mesh", "upgrade", "pauseSeconds"): ("Linkerd has no revisions: its upgrade is in place, without waves", None),
    ("monitoring", "kiali", "enabled"): (
        "Kiali does not support Linkerd (linkerd-viz is its dashboard, and meshinstall installs it)",
        True,
    ),
    ("monitoring", "tracing", "enabled"): (
        "Linkerd's proxies send spans only through its linkerd-jaeger extension, which meshinstall does not install",
        True,
    ),
}


@rule
def provider_fields(spec: Spec, doc: Document) -> Iterator[SpecProblem]:
    """A field the chosen mesh gives no meaning is refused at its line, never dropped."""
    provider = spec.mesh.provider
    if provider == "istio" and ("mesh", "identity") in doc.positions:
        yield doc.problem(
            ("mesh", "identity"),
            "mesh.identity has no meaning with provider istio: istiod makes its own CA",
            "remove mesh.identity, or set mesh.provider: linkerd",
            at_key=True,
        )
    if provider != "linkerd":
        return
    for path, (why, only_if) in NOT_LINKERD.items():
        if path not in doc.positions or (only_if is not None and _value(doc.data, path) != only_if):
            continue
        yield doc.problem(
            path,
            f"{'.'.join(path)} has no meaning with provider linkerd: {why}",
            f"remove {'.'.join(path)}"
            + {True: ", or set it to false", "canary": ", or set it to in-place"}.get(only_if, ""),
            at_key=True,
        )


def _value(data: object, path: tuple[str, ...]) -> object:
    for part in path:
        data = data.get(part) if isinstance(data, dict) else None
    return data


@rule
def identity_complete(spec: Spec, doc: Document) -> Iterator[SpecProblem]:
    """Linkerd's identity is made by meshinstall, given whole, or left to cert-manager with its trust anchor."""
    if not spec.mesh.linkerd:
        return
    anchor, issuer, at = spec.mesh.identity.trust_anchor, spec.mesh.identity.issuer, ("mesh", "identity")
    if anchor.key and not anchor.certificate:
        yield doc.problem(
            (*at, "trustAnchor", "key"),
            "a trust anchor key without its certificate",
            "add trustAnchor.certificate, or remove trustAnchor.key to let meshinstall make the trust anchor",
        )
    if issuer.cert_manager:
        if issuer.certificate or issuer.key:
            yield doc.problem(
                (*at, "issuer", "certManager"),
                "cert-manager owns the issuer, so its certificate and key are not given here",
                "remove issuer.certificate and issuer.key, or set certManager: false",
            )
        if not anchor.certificate:
            yield doc.problem(
                (*at, "issuer", "certManager"),
                "with cert-manager as the issuer, the trust anchor it signs with must be given",
                "add trustAnchor.certificate: {fromFile: ca.crt} (the certificate of cert-manager's CA issuer)",
            )
        return
    if bool(issuer.certificate) != bool(issuer.key):
        given, missing = ("certificate", "key") if issuer.certificate else ("key", "certificate")
        yield doc.problem(
            (*at, "issuer", given),
            f"the issuer's {given} is given without its {missing}",
            f"add issuer.{missing}, or remove issuer.{given} to let meshinstall make the issuer",
        )
    if issuer.certificate and not anchor.certificate:
        yield doc.problem(
            (*at, "issuer", "certificate"),
            "an issuer given without the trust anchor that signed it",
            "add trustAnchor.certificate",
        )
    if anchor.certificate and not anchor.key and not issuer.certificate:
        yield doc.problem(
            (*at, "trustAnchor", "certificate"),
            "meshinstall cannot sign an issuer with a trust anchor whose key it is not given",
            "add trustAnchor.key, or give issuer.certificate and issuer.key, or set issuer.certManager: true",
        )
    if not anchor.certificate and issuer.validity_days >= anchor.validity_days:
        yield doc.problem(
            (*at, "issuer", "validityDays"),
            f"the issuer would outlive the trust anchor that signs it ({issuer.validity_days} >= {anchor.validity_days} days)",
            "make issuer.validityDays shorter than trustAnchor.validityDays",
        )

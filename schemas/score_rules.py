"""The boundary a team's Score files stay within: its hosts, its quota, its Pod Security level, workloads that exist;
each problem at the Score file's line and JSON path, naming the team."""

from __future__ import annotations

import dataclasses
import fnmatch
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass

from ..errors import SpecProblem
from .loader import Document, Position
from .model import App, Spec, Team
from .quantity import bytes_of, format_cpu, format_memory, millicores
from .rules import app_usage
from .score_map import Callee, ScoreFile, dependencies, routes

# What Pod Security admits (https://kubernetes.io/docs/concepts/security/pod-security-standards/).
BASELINE_CAPABILITIES = frozenset(
    "AUDIT_WRITE CHOWN DAC_OVERRIDE FOWNER FSETID KILL MKNOD NET_BIND_SERVICE SETFCAP SETGID SETPCAP SETUID SYS_CHROOT".split()
)
ALLOWED_CAPABILITIES = {"baseline": BASELINE_CAPABILITIES, "restricted": frozenset({"NET_BIND_SERVICE"})}


@dataclass(frozen=True)
class Workloads:
    """What the Score rules read: the spec with its workloads attached, the environment spec's document, every Score
    file read, and each valid one with the app it maps to."""

    spec: Spec
    doc: Document
    files: tuple[ScoreFile, ...]
    apps: tuple[tuple[ScoreFile, App], ...]
    callees: Mapping[str, Callee]

    def team(self, file: ScoreFile) -> Team:
        """The team a Score file belongs to."""
        return self.spec.paas.teams[file.team]


Rule = Callable[[Workloads], Iterable[SpecProblem]]
RULES: list[Rule] = []


def rule(fn: Rule) -> Rule:
    """Register a rule of the teams' Score files."""
    RULES.append(fn)
    return fn


@rule
def unique_workloads(found: Workloads) -> Iterator[SpecProblem]:
    """A team's workloads have distinct names."""
    first: dict[tuple[int, str], ScoreFile] = {}
    for file in found.files:
        if file.name is None:
            continue
        earlier = first.setdefault((file.team, file.name), file)
        if earlier is not file:
            yield file.doc.problem(
                ("metadata", "name"),
                f"team {found.team(file).name!r} has two workloads named {file.name!r}: {earlier.doc.files[0]} and {file.doc.files[0]}",
                "give each workload of a team its own metadata.name",
            )


@rule
def callees_exist(found: Workloads) -> Iterator[SpecProblem]:
    """Each `service-port` resource names a workload or inline app that exists, and one of its ports."""
    for file, _ in found.apps:
        team = found.team(file)
        for dependency in dependencies(file, team):
            where = ("resources", dependency.resource, "params")
            callee = found.callees.get(dependency.callee)
            if callee is None:
                yield file.doc.problem(
                    where + ("workload",),
                    f"team {team.name!r} depends on {dependency.callee!r}, which does not exist",
                    _known(found, dependency.callee.split("/")[0]),
                )
            elif not callee.ports:
                yield file.doc.problem(
                    where + ("port" if dependency.port else "workload",),
                    f"team {team.name!r} depends on {dependency.callee!r}, which exposes no service port",
                    "the callee must declare service.ports",
                )
            elif dependency.port and dependency.port not in callee.ports:
                yield file.doc.problem(
                    where + ("port",),
                    f"team {team.name!r} depends on port {dependency.port!r} of {dependency.callee!r}, which does not expose it",
                    f"its ports: {', '.join(callee.ports)}",
                )


def _known(found: Workloads, team: str) -> str:
    names = sorted(key.split("/", 1)[1] for key in found.callees if key.startswith(f"{team}/"))
    if names:
        return f"team {team!r} has: {', '.join(names)}"
    teams = sorted({key.split("/", 1)[0] for key in found.callees})
    return f"there is no team {team!r} with apps; write `team/workload` of one of: {', '.join(teams)}"


@rule
def routes_within_hosts(found: Workloads) -> Iterator[SpecProblem]:
    """A route's host lies within the team's hosts (default: the gateway's) and the ingress gateway is on."""
    spec = found.spec
    gateway = spec.paas.gateway.hosts if spec.paas.gateway else ()
    for file, app in found.apps:
        if not app.route:
            continue
        team, where = found.team(file), ("resources", routes(file)[0])
        hosts, whose = (team.hosts, "the team's hosts") if team.hosts else (gateway, "paas.gateway.hosts")
        if not spec.mesh.ingress_gateway.enabled:
            yield file.doc.problem(
                where,
                f"team {team.name!r} routes {app.name!r} but the ingress gateway is disabled",
                "the platform team sets mesh.ingressGateway.enabled; remove the route",
            )
        elif not hosts:
            yield file.doc.problem(
                where,
                f"team {team.name!r} routes {app.name!r} but paas.gateway.hosts is not set",
                "the platform team adds paas.gateway.hosts covering this host",
            )
        elif not any(fnmatch.fnmatchcase(app.route.host, h) for h in hosts):
            yield file.doc.problem(
                where + ("params", "host"),
                f"team {team.name!r} may not route {app.route.host!r}: it matches none of {whose} ({', '.join(hosts)})",
                f"use a host within {', '.join(hosts)}",
            )


@rule
def routes_unique(found: Workloads) -> Iterator[SpecProblem]:
    """No two apps of the environment, inline or from Score files, share a route (host and path)."""
    taken: dict[tuple[str, str], str] = {}
    for team in found.spec.paas.teams:
        for app in () if team.owns_workloads else team.apps:
            if app.route:
                taken.setdefault(_route_key(app), f"{team.name}/{app.name}")
    for file, app in found.apps:
        if not app.route:
            continue
        team, key = found.team(file), _route_key(app)
        if key in taken:
            yield file.doc.problem(
                ("resources", routes(file)[0], "params", "host"),
                f"team {team.name!r}: route {app.route.host}{app.route.path} is already used by {taken[key]}",
                "use another host or path",
            )
        taken.setdefault(key, f"{team.name}/{app.name} ({file.doc.files[0]})")


def _route_key(app: App) -> tuple[str, str]:
    assert app.route is not None
    return app.route.host, app.route.path.rstrip("/") or "/"


@rule
def quotas_hold_workloads(found: Workloads) -> Iterator[SpecProblem]:
    """The team's workloads fit its quota: replicas x (requests + sidecar), canaries included; the problem is at the
    workload that first takes the running sum past it."""
    spec, doc = found.spec, found.doc
    by_team: dict[int, list[tuple[ScoreFile, App]]] = {}
    for file, app in found.apps:
        by_team.setdefault(file.team, []).append((file, app))
    for i, workloads in by_team.items():
        team = spec.paas.teams[i]
        quota = team.quota
        limits = {"cpu": millicores(quota.cpu), "memory": bytes_of(quota.memory), "pods": quota.pods}
        total = [0, 0, 0]
        reported: set[str] = set()
        for file, app in workloads:
            usage = app_usage(dataclasses.replace(team, apps=(app,)), spec)
            total = [a + b for a, b in zip(total, usage, strict=True)]
            for kind, used in zip(limits, total, strict=True):
                if used > limits[kind] and kind not in reported:
                    reported.add(kind)
                    yield _over_quota(file, app, team, kind, used, doc.position(("paas", "teams", i, "quota", kind)))


def _over_quota(file: ScoreFile, app: App, team: Team, kind: str, used: int, where: Position) -> SpecProblem:
    shown = {"cpu": format_cpu, "memory": format_memory, "pods": str}[kind](used)
    limit = getattr(team.quota, kind)
    what = f"run {shown} pods" if kind == "pods" else f"request {shown} {'CPU' if kind == 'cpu' else kind}"
    place = f"{where.file}:{where.line}:{where.column}"
    return file.doc.problem(
        ("metadata", "name"),
        f"the workloads of team {team.name!r} up to {app.name!r} {what} (sidecars and canaries included) but the team's quota.{kind} is {limit} ({place})",
        f"lower replicas or requests, or ask the platform team to raise quota.{kind} at {place}",
    )


@rule
def pod_security_admits(found: Workloads) -> Iterator[SpecProblem]:
    """Root and added capabilities stay within the environment's Pod Security level."""
    level = found.spec.paas.pod_security
    allowed = ALLOWED_CAPABILITIES.get(level)
    base = ("metadata", "meshinstall")
    for file, app in found.apps:
        team = found.team(file)
        if app.run_as_root and level == "restricted":
            yield file.doc.problem(
                base + ("runAsRoot",),
                f"team {team.name!r}: runAsRoot is refused under paas.podSecurity 'restricted'",
                "run the containers as a non-root user and remove runAsRoot",
            )
        for k, capability in enumerate(app.capabilities):
            if allowed is not None and capability not in allowed:
                yield file.doc.problem(
                    base + ("capabilities", k),
                    f"team {team.name!r}: capability {capability} is refused under paas.podSecurity {level!r}",
                    f"{level} allows: {', '.join(sorted(allowed))}",
                )

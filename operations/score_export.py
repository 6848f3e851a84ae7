"""`meshinstall teams export`: each team's inline apps written as Score files (`score.dev/v1b1`), one per app, for
the team to own in its `workloads` folder; the mapping is the Score contract of issue 27, so nothing deployed changes."""

from __future__ import annotations

import dataclasses
import itertools
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..errors import UsageError
from ..schemas.loader import display_name
from ..schemas.model import App, Spec, Team
from ..schemas.origins import origins

SCORE_API_VERSION = "score.dev/v1b1"
DEFAULT_FOLDER = "teams"  # beside the spec file
ENVIRONMENT_RESOURCE = "env"  # the `environment` resource secrets are read through: ${resources.env.VAR}
ROUTE_RESOURCE = "public"
RESOURCE_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,61}[a-z0-9]$")  # Score's names of resources (2-63 characters)


@dataclass(frozen=True)
class Workload:
    """One inline app as a Score document."""

    team: str
    name: str
    document: Mapping[str, Any]


@dataclass(frozen=True)
class Workloads:
    """The Score documents of a spec's inline apps, and what could not be carried over."""

    items: tuple[Workload, ...]
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class SpecChange:
    """The edit that hands a team's apps to its folder: in `file`, the team's `apps:` becomes `workloads: folder`."""

    team: str
    file: Path
    workloads: str


@dataclass(frozen=True)
class Exported:
    """The Score files written, the spec change each team needs, warnings, and teams that had nothing to export."""

    written: tuple[Path, ...]
    changes: tuple[SpecChange, ...]
    warnings: tuple[str, ...]
    skipped: tuple[str, ...]


def export(spec: Spec, out: Path | None = None, force: bool = False) -> Exported:
    """Write `out/<team>/<app>.yaml` (default `out`: teams/ beside the spec) for every inline app of `spec`; refuses
    to overwrite any file unless `force`, before writing one."""
    folder = out if out is not None else spec.base_dir / DEFAULT_FOLDER
    found = workloads(spec)
    targets = [(folder / item.team / f"{item.name}.yaml", item) for item in found.items]
    existing = [display_name(path) for path, _ in targets if path.exists()]
    if existing and not force:
        raise UsageError(f"{', '.join(existing)} exist{'s' if len(existing) == 1 else ''} (use --force to overwrite)")
    for path, item in targets:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(item, spec.name), encoding="utf-8")
    where, teams = origins(spec.source), exported_teams(spec)
    changes = tuple(
        SpecChange(team.name, where.team_file(team.name), _relative(folder / team.name, where.team_file(team.name)))
        for team in teams
    )
    skipped = tuple(team.name for team in spec.paas.teams if team not in teams)
    return Exported(tuple(path for path, _ in targets), changes, found.warnings, skipped)


def exported_teams(spec: Spec) -> tuple[Team, ...]:
    """The teams whose apps are written in the spec (not those that already read a `workloads` folder)."""
    return tuple(team for team in spec.paas.teams if team.apps and not team.owns_workloads)


def render(item: Workload, environment: str) -> str:
    """A Score document as YAML a person reads: block style, keys in the contract's order, a comment on top."""
    header = f"# {item.team}/{item.name}, exported from environment {environment} by `meshinstall teams export`.\n"
    return header + yaml.safe_dump(
        item.document, sort_keys=False, default_flow_style=False, allow_unicode=True, width=120
    )


def workloads(spec: Spec) -> Workloads:
    """Every inline app of `spec` as a Score document, and a warning for each thing Score cannot say."""
    teams = exported_teams(spec)
    calls, warnings = _calls(spec, teams)
    items = []
    for team in teams:
        for app in team.apps:
            document, left_out = score_document(team, app, calls.get((team.name, app.name), ()))
            items.append(Workload(team.name, app.name, document))
            warnings.extend(left_out)
    return Workloads(tuple(items), tuple(warnings))


def score_document(team: Team, app: App, callees: Sequence[tuple[Team, App]] = ()) -> tuple[dict[str, Any], list[str]]:
    """App `app` of `team` as a Score document (`callees`: the apps whose allowFrom names it), and what it leaves out."""
    document: dict[str, Any] = {"apiVersion": SCORE_API_VERSION, "metadata": _metadata(app)}
    variables, left_out = _variables(team, app)
    container: dict[str, Any] = {"image": app.image}
    if variables:
        container["variables"] = variables
    container["resources"] = {"requests": {"cpu": app.resources.cpu, "memory": score_memory(app.resources.memory)}}
    document["containers"] = {app.name: container}
    document["service"] = {"ports": {port_name(app): {"port": app.port, "targetPort": app.port}}}
    resources = _resources(team, app, callees)
    if resources:
        document["resources"] = resources
    return document, left_out


def port_name(app: App) -> str:
    """The name of the app's Service port, as the Service has always named it (`http-8080`)."""
    return f"{app.protocol}-{app.port}"


def score_memory(value: str) -> str:
    """A memory quantity as Score's schema writes it: `K`, not `k`, and no leading zeros (`0` is `0.0`)."""
    parts = re.fullmatch(r"([0-9]+)(\.[0-9]+)?(.*)", value)
    if parts is None:  # not a quantity the spec's schema takes: left as it is, for Score's schema to say so
        return value
    whole, fraction, unit = str(int(parts[1])), parts[2], parts[3]
    return whole + (fraction or (".0" if whole == "0" else "")) + ("K" if unit == "k" else unit)


def _metadata(app: App) -> dict[str, Any]:
    """`metadata`: the name, and meshinstall's extension block with what differs from its defaults."""
    extension: dict[str, Any] = {}
    if app.replicas != 1:
        extension["replicas"] = app.replicas
    if app.protocol != "http":
        extension["protocol"] = app.protocol
    if app.automount_service_account_token:
        extension["automountServiceAccountToken"] = True
    traffic = _camel(app.traffic)
    if traffic:
        extension["traffic"] = traffic
    return {"name": app.name, "meshinstall": extension} if extension else {"name": app.name}


def _variables(team: Team, app: App) -> tuple[dict[str, str], list[str]]:
    """`env` as is (`${` escaped as `$${`, so Score reads no placeholder), `secretEnv` from variables as `${resources.env.VAR}`;
    a secret read from a file has no Score form: left out, with a warning."""
    variables = {name: value.replace("${", "$${") for name, value in app.env.items()}
    left_out = []
    for name, ref in app.secret_env.items():
        if ref.from_env:
            variables[name] = f"${{resources.{ENVIRONMENT_RESOURCE}.{ref.from_env}}}"
        else:
            left_out.append(
                f"{team.name}/{app.name}: secretEnv {name} is read from a file ({ref.from_file}), which Score cannot "
                f"say: left out; read it from a variable instead ({name}: ${{resources.{ENVIRONMENT_RESOURCE}.VAR}})"
            )
    return variables, left_out


def _resources(team: Team, app: App, callees: Sequence[tuple[Team, App]]) -> dict[str, Any]:
    """The apps this one calls (`service-port`), its route, and the environment its secrets are read from."""
    resources: dict[str, Any] = {}
    for callee_team, callee in callees:
        name = _resource_name(callee_team, callee, {ROUTE_RESOURCE, ENVIRONMENT_RESOURCE, *resources})
        workload = callee.name if callee_team.name == team.name else f"{callee_team.name}/{callee.name}"
        resources[name] = {"type": "service-port", "params": {"workload": workload, "port": port_name(callee)}}
    if app.route:
        route = {"host": app.route.host, "path": app.route.path, "port": app.port}
        resources[ROUTE_RESOURCE] = {"type": "route", "params": route}
    if any(ref.from_env for ref in app.secret_env.values()):
        resources[ENVIRONMENT_RESOURCE] = {"type": "environment"}
    return resources


def _resource_name(team: Team, app: App, taken: set[str]) -> str:
    """The callee's name, else `team-name` when that is taken or too short for Score, else with a number."""
    base = f"{team.name}-{app.name}"
    for name in (app.name, base):
        if RESOURCE_NAME.match(name) and name not in taken:
            return name
    return next(f"{base}-{n}" for n in itertools.count(2) if f"{base}-{n}" not in taken)


def _calls(spec: Spec, teams: Sequence[Team]) -> tuple[dict[tuple[str, str], list[tuple[Team, App]]], list[str]]:
    """By caller (team, app): the apps whose `allowFrom` names it; a warning for each caller that is not exported."""
    inline = {(team.name, app.name) for team in teams for app in team.apps}
    owners = {team.name: team for team in spec.paas.teams}
    calls: dict[tuple[str, str], list[tuple[Team, App]]] = {}
    warnings = []
    for team in teams:
        for app in team.apps:
            for ref in dict.fromkeys(app.allow_from):
                caller_team, _, caller = ref.rpartition("/")
                caller_key = (caller_team or team.name, caller)
                if caller_key in inline:
                    if (team, app) not in calls.setdefault(caller_key, []):
                        calls[caller_key].append((team, app))
                    continue
                warnings.append(_caller_left_out(team, app, ref, owners.get(caller_key[0])))
    return calls, warnings


def _caller_left_out(team: Team, app: App, ref: str, caller_team: Team | None) -> str:
    """Why a caller of `app` gets no `service-port` resource, and what to write in its own Score file."""
    said = f"{team.name}/{app.name}: allowFrom {ref!r}"
    resource = f"{{type: service-port, params: {{workload: {team.name}/{app.name}, port: {port_name(app)}}}}}"
    if caller_team is not None and caller_team.owns_workloads:
        return f"{said} is a workload of team {caller_team.name}'s Score files: add to its resources {app.name}: {resource}"
    return f"{said} is not an app of the spec, so no Score file says it calls {app.name}"


def _camel(value: Any) -> Any:
    """A model value as the spec writes it: camelCase keys, fields left at their default (or None) left out."""
    if not dataclasses.is_dataclass(value):
        return value
    out = {}
    for spec_field in dataclasses.fields(value):
        item = getattr(value, spec_field.name)
        if item is None or item == spec_field.default:
            continue
        out[re.sub(r"_([a-z])", lambda m: m.group(1).upper(), spec_field.name)] = _camel(item)
    return out


def _relative(folder: Path, spec_file: Path) -> str:
    """`folder` as the spec file that declares the team writes it: relative to that file's folder."""
    return Path(os.path.relpath(folder.resolve(), spec_file.parent)).as_posix()

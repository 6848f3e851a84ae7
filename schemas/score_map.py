"""Maps a team's validated Score file onto `model.App`: containers, service ports, the `metadata.meshinstall`
extension for the loaded environment, and the resources' placeholders resolved (docs/score.md)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import SpecProblem
from . import loader, model
from .loader import Document, Path_
from .model import App, Container, Probe, Requests, Route, SecretRef, ServicePort, Spec, Team
from .quantity import bytes_of, format_cpu, format_memory, millicores
from .rules import SECRET_LOOKING
from .score_schema import memory_quantity

PLACEHOLDER = re.compile(r"\$\$\{|\$\{([^}]*)(\})?")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
DEFAULT_REQUESTS = Requests()
SECRET_HINT = "use ${resources.env.VAR} with an environment resource"
ENVIRONMENT: Mapping[str, str] = {}  # what an `environment` resource provides: secrets, each only as a whole value


@dataclass(frozen=True)
class ScoreFile:
    """One Score file of a team (by its index in `paas.teams`), parsed; `valid` when both schemas accept it."""

    team: int
    doc: Document
    valid: bool
    digest: str = ""  # score_cache.digest of its content ("" when it could not be read)

    @property
    def data(self) -> dict[str, Any]:
        """The file's mapping ({} when it is not one)."""
        return self.doc.data if isinstance(self.doc.data, dict) else {}

    @property
    def name(self) -> str | None:
        """The workload's `metadata.name`, when it has one."""
        metadata = self.data.get("metadata")
        name = metadata.get("name") if isinstance(metadata, dict) else None
        return name if isinstance(name, str) else None


@dataclass(frozen=True)
class Callee:
    """What a caller can know of a workload or inline app: its in-mesh host name and its named service ports."""

    host: str
    ports: Mapping[str, int]  # in order: the first is the default


@dataclass(frozen=True)
class Dependency:
    """A `service-port` resource: this workload calls `callee` (`team/workload`), at `port` (None: its first)."""

    resource: str
    callee: str
    port: str | None


def mesh_host(name: str, team: Team) -> str:
    """The in-mesh address of an app of `team`."""
    return f"{name}.{team.app_namespace}.svc.cluster.local"


def directory(spec: Spec, files: list[ScoreFile]) -> dict[str, Callee]:
    """Every app a workload may call, by `team/name`: inline apps and the workloads of every Score file read."""
    found: dict[str, Callee] = {}
    for team in spec.paas.teams:
        for app in team.apps:
            found[f"{team.name}/{app.name}"] = Callee(
                mesh_host(app.name, team), {f"{app.protocol}-{app.port}": app.port}
            )
    for file in files:
        team = spec.paas.teams[file.team]
        if file.name and f"{team.name}/{file.name}" not in found:
            found[f"{team.name}/{file.name}"] = Callee(mesh_host(file.name, team), _port_numbers(file.data))
    return found


def _port_numbers(data: dict[str, Any]) -> dict[str, int]:
    ports = _mapping(_mapping(data.get("service")).get("ports"))
    return {name: port["port"] for name, port in ports.items() if isinstance(_mapping(port).get("port"), int)}


def dependencies(file: ScoreFile, team: Team) -> Iterator[Dependency]:
    """The workload's `service-port` resources, each callee as `team/workload`."""
    for name, resource in _mapping(file.data.get("resources")).items():
        resource = _mapping(resource)
        params = _mapping(resource.get("params"))
        workload = params.get("workload")
        if resource.get("type") == "service-port" and isinstance(workload, str):
            callee = workload if "/" in workload else f"{team.name}/{workload}"
            port = params.get("port")
            yield Dependency(name, callee, port if isinstance(port, str) else None)


def routes(file: ScoreFile) -> list[str]:
    """The names of the workload's `route` resources."""
    found = _mapping(file.data.get("resources")).items()
    return [name for name, resource in found if _mapping(resource).get("type") == "route"]


def extension(data: dict[str, Any], environment: str) -> tuple[dict[str, Any], dict[str, Path_]]:
    """`metadata.meshinstall` with the environment's overrides applied, and where each overridden key was written."""
    ext = dict(data["metadata"].get("meshinstall") or {})
    override = ext.pop("environments", {}).get(environment, {})
    base: Path_ = ("metadata", "meshinstall")
    places = {key: base + ("environments", environment, key) for key in override}
    if "replicas" in override:
        ext["replicas"] = override["replicas"]
    if "traffic" in override:
        ext["traffic"] = loader.merge(ext.get("traffic", {}), override["traffic"])
        if "image" in override["traffic"].get("canary", {}):
            places["canary.image"] = places["traffic"] + ("canary", "image")
    return ext, places


def to_app(file: ScoreFile, spec: Spec, callees: Mapping[str, Callee]) -> tuple[App, list[SpecProblem]]:
    """The app a valid Score file describes in the loaded environment, and the problems of its values."""
    data, team, doc = file.data, spec.paas.teams[file.team], file.doc
    ext, places = extension(data, spec.name)
    outputs = _outputs(file, team, callees)
    problems: list[SpecProblem] = []
    secrets: dict[str, SecretRef] = {}
    containers = []
    for name, body in data["containers"].items():
        container = _container(doc, name, body, outputs, secrets, problems)
        containers.append(container)
    ports = tuple(
        ServicePort(name, p["port"], p.get("targetPort", p["port"]), p.get("protocol", "TCP"))
        for name, p in _mapping(data.get("service")).get("ports", {}).items()
    )
    traffic = model.build(model.TrafficPolicy, ext.get("traffic", {}))
    if traffic.canary and traffic.canary.image == containers[0].image:
        problems.append(
            doc.problem(
                places.get("canary.image", ("metadata", "meshinstall", "traffic", "canary", "image")),
                "the canary image is the first container's image",
                "set the new version's image, or remove the canary",
            )
        )
    route, route_problems = _route(file, ports)
    app = App(
        name=data["metadata"]["name"],
        image=containers[0].image,
        port=ports[0].port if ports else 0,
        protocol=ext.get("protocol", "http"),
        replicas=ext.get("replicas", 1),
        resources=_summed(containers),
        secret_env=secrets,
        automount_service_account_token=ext.get("automountServiceAccountToken", False),
        route=route,
        traffic=traffic,
        containers=tuple(containers),
        ports=ports,
        annotations=dict(data["metadata"].get("annotations", {})),
        run_as_root=ext.get("runAsRoot", False),
        capabilities=tuple(ext.get("capabilities", ())),
        source=doc.files[0],
    )
    return app, problems + route_problems


def _container(
    doc: Document,
    name: str,
    body: dict[str, Any],
    outputs: Mapping[str, Mapping[str, str] | None],
    secrets: dict[str, SecretRef],
    problems: list[SpecProblem],
) -> Container:
    """One container; its secret variables' sources go to `secrets`, the problems of its values to `problems`."""
    env: dict[str, str] = {}
    secret_names: list[str] = []
    for variable, value in body.get("variables", {}).items():
        path = ("containers", name, "variables", variable)
        secret = _secret(value, outputs)
        if secret is not None:
            problems.extend(_claim_secret(doc, path, variable, secret, secrets))
            secret_names.append(variable)
            continue
        resolved, problem = substitute(value, outputs, doc.data["metadata"]["name"])
        if problem is None and SECRET_LOOKING.search(variable):
            problem = (f"{variable} looks like a secret but is given in plaintext", SECRET_HINT)
        if problem is not None:
            problems.append(doc.problem(path, *problem))
        env[variable] = resolved
    resources = body.get("resources", {})
    requests, limits = resources.get("requests", {}), resources.get("limits", {})
    return Container(
        name=name,
        image=body["image"],
        command=tuple(body.get("command", ())),
        args=tuple(body.get("args", ())),
        env=env,
        secret_env=tuple(secret_names),
        resources=Requests(
            cpu=requests.get("cpu") or limits.get("cpu") or DEFAULT_REQUESTS.cpu,
            memory=memory_quantity(requests.get("memory") or limits.get("memory") or DEFAULT_REQUESTS.memory),
        ),
        cpu_limit=limits.get("cpu"),
        memory_limit=memory_quantity(limits["memory"]) if "memory" in limits else None,
        liveness=_probe(body.get("livenessProbe")),
        readiness=_probe(body.get("readinessProbe")),
    )


def _claim_secret(
    doc: Document, path: Path_, variable: str, secret: str, secrets: dict[str, SecretRef]
) -> Iterator[SpecProblem]:
    """Record `variable` as read from environment variable `secret`; a name two containers read from two sources
    cannot be one key of the app's Secret."""
    if not ENV_NAME.match(secret):
        yield doc.problem(path, f"{secret!r} is not an environment variable name", "letters, digits and '_'")
        return
    ref = SecretRef(from_env=secret)
    if secrets.setdefault(variable, ref) != ref:
        yield doc.problem(
            path,
            f"{variable} is already a secret read from {secrets[variable].from_env}, and the app has one Secret",
            "read the same variable in every container, or give this one another name",
        )


def _secret(value: str, outputs: Mapping[str, Mapping[str, str] | None]) -> str | None:
    """The environment variable a value reads when it is exactly `${resources.E.VAR}` of an environment resource."""
    match = re.fullmatch(r"\$\{resources\.([^.}]+)\.([^}]*)\}", value)
    if match and match[1] in outputs and outputs[match[1]] is ENVIRONMENT:
        return match[2]
    return None


def substitute(
    value: str, outputs: Mapping[str, Mapping[str, str] | None], name: str
) -> tuple[str, tuple[str, str] | None]:
    """`value` with its placeholders resolved, and the (message, hint) of the first that cannot be."""
    out, last, problem = [], 0, None
    for match in PLACEHOLDER.finditer(value):
        out.append(value[last : match.start()])
        last = match.end()
        if match[0] == "$${":
            out.append("${")
            continue
        resolved, trouble = _resolve(match[1], match[2] is not None, outputs, name)
        out.append(resolved if resolved is not None else match[0])
        problem = problem or trouble
    out.append(value[last:])
    return "".join(out), problem


def _resolve(
    expression: str, closed: bool, outputs: Mapping[str, Mapping[str, str] | None], name: str
) -> tuple[str | None, tuple[str, str] | None]:
    """One placeholder's value (None: unresolved), or why it cannot be resolved."""
    if not closed:
        return None, (f"'${{{expression}' is not closed", "end the placeholder with '}', or write $${ for a literal ${")
    parts = expression.split(".", 2)
    if expression == "metadata.name":
        return name, None
    if parts[0] != "resources" or len(parts) < 3:
        return None, (
            f"${{{expression}}} is not a placeholder meshinstall resolves",
            "use ${metadata.name} or ${resources.NAME.KEY}; write $${ for a literal ${",
        )
    resource, key = parts[1], parts[2]
    if resource not in outputs:
        known = ", ".join(sorted(outputs)) or "none"
        return None, (f"resource {resource!r} is not declared", f"declare it under resources (declared: {known})")
    provided = outputs[resource]
    if provided is ENVIRONMENT:
        return None, (
            f"the secret ${{{expression}}} is part of a longer value",
            "give the secret a variable of its own: NAME: ${resources." + resource + ".VAR}",
        )
    if provided is None:  # a callee that does not exist: reported at the resource
        return None, None
    if key not in provided:
        return None, (f"resource {resource!r} provides no {key!r}", f"use one of: {', '.join(provided)}")
    return provided[key], None


def _outputs(file: ScoreFile, team: Team, callees: Mapping[str, Callee]) -> dict[str, Mapping[str, str] | None]:
    """What each resource provides to placeholders (None: a callee that does not exist or lacks the port)."""
    found: dict[str, Mapping[str, str] | None] = {}
    for name, resource in file.data.get("resources", {}).items():
        params = resource.get("params", {})
        if resource["type"] == "environment":
            found[name] = ENVIRONMENT
        elif resource["type"] == "route":
            found[name] = {"host": params["host"], "path": params.get("path", "/")}
    for dependency in dependencies(file, team):
        callee = callees.get(dependency.callee)
        port = (dependency.port or next(iter(callee.ports), None)) if callee else None
        ok = callee is not None and port in callee.ports
        found[dependency.resource] = {"hostname": callee.host, "port": str(callee.ports[port])} if ok else None
    return found


def _route(file: ScoreFile, ports: tuple[ServicePort, ...]) -> tuple[Route | None, list[SpecProblem]]:
    """The workload's route: one `route` resource, to one of its service ports."""
    names, problems = routes(file), []
    if not names:
        return None, []
    for extra in names[1:]:
        problems.append(
            file.doc.problem(
                ("resources", extra), f"a second route (the first is {names[0]!r})", "a workload has one route"
            )
        )
    params = file.data["resources"][names[0]]["params"]
    numbers = [p.port for p in ports]
    where = ("resources", names[0], "params")
    if not numbers:
        problems.append(file.doc.problem(where, "a routed workload needs a service port", "add service.ports"))
    elif params.get("port", numbers[0]) not in numbers:
        problems.append(
            file.doc.problem(
                where + ("port",),
                f"{params['port']} is not one of the workload's service ports",
                f"use one of: {', '.join(map(str, numbers))}",
            )
        )
    return Route(params["host"], params.get("path", "/"), params.get("port")), problems


def _probe(body: dict[str, Any] | None) -> Probe | None:
    """A probe; with both `exec` and `httpGet`, the command (Score: prefer exec where both are supported)."""
    if not body:
        return None
    if "exec" in body:
        return Probe(command=tuple(body["exec"]["command"]))
    http = body["httpGet"]
    return Probe(
        path=http["path"],
        port=http["port"],
        scheme=http.get("scheme", "HTTP"),
        host=http.get("host"),
        headers=tuple((header["name"], header["value"]) for header in http.get("httpHeaders", ())),
    )


def _summed(containers: list[Container]) -> Requests:
    """The containers' requests added up (what the team's quota holds the workload to)."""
    cpu = sum(millicores(c.resources.cpu) for c in containers)
    memory = sum(bytes_of(c.resources.memory) for c in containers)
    return Requests(format_cpu(cpu), format_memory(memory))


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}

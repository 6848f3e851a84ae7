"""`meshinstall graph ENV`: the platform as the spec declares it, as a picture.

The gateway and its routes, each team as a box with its apps inside, who may call whom (`allowFrom`, and a Score
workload's `service-port` dependencies, which become the same), canary splits with their weights, the control plane
and monitoring. Drawn from the spec alone (no cluster, no state), as DOT or Mermaid text, or as SVG or PNG through
Graphviz's `dot` (Debian's `graphviz`)."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field

from ..errors import UsageError
from ..schemas.model import App, Spec, Team

FORMATS = ("dot", "mermaid", "svg", "png")


@dataclass(frozen=True)
class Node:
    id: str
    label: str
    shape: str = "box"  # box: a workload; ellipse: a platform part; diamond: the gateway


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    label: str = ""
    style: str = "solid"  # solid: traffic from the gateway or a canary split; dashed: a call allowed


@dataclass
class Graph:
    """Boxes (`clusters`: a title and the nodes inside), loose nodes and edges."""

    title: str
    clusters: dict[str, tuple[str, list[Node]]] = field(default_factory=dict)
    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)


def graph(spec: Spec, team: str | None = None) -> Graph:
    """The platform of `spec`; with `team`, that team's box, the routes into it and the calls in and out of it."""
    teams = spec.paas.teams
    if team is not None and team not in {t.name for t in teams}:
        raise UsageError(f"{spec.name} has no team {team!r} (its teams: {', '.join(t.name for t in teams)})")
    drawn = [t for t in teams if team in (None, t.name)]
    mesh = "Linkerd" if spec.mesh.linkerd else "Istio"
    result = Graph(f"{spec.name}: {mesh} {spec.mesh.version}" + (f", team {team}" if team else ""))
    gateway = spec.paas.gateway
    ingress = "Envoy Gateway" if spec.mesh.linkerd else "ingress gateway"
    result.nodes.append(Node("gateway", f"{ingress}\n" + ", ".join(gateway.hosts if gateway else ()), "diamond"))
    if team is None:
        result.clusters["control-plane"] = ("control plane", _control_plane(spec))
        result.clusters["monitoring"] = ("monitoring", _monitoring(spec))
    for each in drawn:
        result.clusters[f"team-{each.name}"] = (f"team {each.name} ({each.app_namespace})", _apps(each))
    ids = {f"{t.name}/{a.name}" for t in drawn for a in t.apps}
    for each in teams:
        for app in each.apps:
            me = f"{each.name}/{app.name}"
            if app.route and me in ids:
                result.edges.append(Edge("gateway", me, f"{app.route.host}{app.route.path}"))
            if app.traffic.canary and me in ids:
                weight = app.traffic.canary.weight
                result.edges.append(Edge(me, f"{me}@canary", f"{weight}%"))
            for caller in app.allow_from:
                source = caller if "/" in caller else f"{each.name}/{caller}"
                if source in ids or me in ids:
                    result.edges.append(Edge(source, me, "may call", "dashed"))
    outside = {e.source for e in result.edges} | {e.target for e in result.edges}
    outside -= ids | {f"{i}@canary" for i in ids} | {"gateway"}
    result.nodes += [Node(other, other) for other in sorted(outside)]  # another team's app, with --team
    return result


def _apps(team: Team) -> list[Node]:
    nodes = []
    for app in team.apps:
        me = f"{team.name}/{app.name}"
        nodes.append(Node(me, _app_label(app)))
        if app.traffic.canary:
            canary = app.traffic.canary
            nodes.append(Node(f"{me}@canary", f"{app.name} canary\n{canary.image.rsplit('/', 1)[-1]}"))
    return nodes


def _app_label(app: App) -> str:
    stable = f"\nstable {100 - app.traffic.canary.weight}%" if app.traffic.canary else ""
    return f"{app.name}\n{app.image.rsplit('/', 1)[-1]} ×{app.replicas}{stable}"


def _control_plane(spec: Spec) -> list[Node]:
    revision = f" (revision {spec.mesh.revision})" if spec.mesh.revision else ""
    if spec.mesh.linkerd:
        nodes = [Node("linkerd", f"linkerd {spec.mesh.version}\nmTLS always, deny by default", "ellipse")]
    else:
        nodes = [Node("istiod", f"istiod {spec.mesh.version}{revision}\nmTLS {spec.mesh.mtls}", "ellipse")]
    if spec.mesh.gateway_api.install:
        nodes.append(Node("gateway-api", "Gateway API CRDs", "ellipse"))
    return nodes


def _monitoring(spec: Spec) -> list[Node]:
    parts = [
        ("prometheus", f"Prometheus ({spec.monitoring.prometheus.retention})", spec.monitoring.prometheus.enabled),
        ("grafana", "Grafana", spec.monitoring.grafana.enabled),
        ("kiali", "Kiali", spec.monitoring.kiali.enabled),
        ("viz", "linkerd-viz", spec.mesh.linkerd and spec.monitoring.prometheus.enabled),
        ("tracing", spec.monitoring.tracing.backend.capitalize(), spec.monitoring.tracing.enabled),
    ]
    return [Node(node, label, "ellipse") for node, label, enabled in parts if enabled]


# --- formats ------------------------------------------------------------------------------------------------------


def dot(drawn: Graph) -> str:
    lines = [
        "digraph platform {",
        "  rankdir=LR;",
        f"  label={_quote(drawn.title)}; labelloc=t;",
        '  node [fontname="Helvetica", fontsize=11]; edge [fontname="Helvetica", fontsize=9];',
    ]
    lines += [f"  {_node(node)}" for node in drawn.nodes]
    for key, (title, nodes) in drawn.clusters.items():
        lines.append(f"  subgraph {_quote('cluster_' + key)} {{ label={_quote(title)}; style=rounded;")
        lines += [f"    {_node(node)}" for node in nodes]
        lines.append("  }")
    for edge in drawn.edges:
        style = f", style={edge.style}" if edge.style != "solid" else ""
        lines.append(f"  {_quote(edge.source)} -> {_quote(edge.target)} [label={_quote(edge.label)}{style}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def mermaid(drawn: Graph) -> str:
    ids = {node.id: f"n{i}" for i, node in enumerate(_all_nodes(drawn))}
    shapes = {"box": ("[", "]"), "ellipse": ("([", "])"), "diamond": ("{", "}")}

    def node(n: Node) -> str:
        opening, closing = shapes[n.shape]
        return f'{ids[n.id]}{opening}"{n.label.replace(chr(10), "<br/>")}"{closing}'

    lines = ["flowchart LR", f"  %% {drawn.title}"]
    lines += [f"  {node(n)}" for n in drawn.nodes]
    for key, (title, nodes) in drawn.clusters.items():
        lines.append(f'  subgraph {key}["{title}"]')
        lines += [f"    {node(n)}" for n in nodes]
        lines.append("  end")
    for edge in drawn.edges:
        arrow = "-.->" if edge.style == "dashed" else "-->"
        label = f'|"{edge.label}"|' if edge.label else ""
        lines.append(f"  {ids[edge.source]} {arrow}{label} {ids[edge.target]}")
    return "\n".join(lines) + "\n"


def rendered(drawn: Graph, kind: str) -> bytes:
    """SVG or PNG, drawn by Graphviz's `dot`."""
    program = shutil.which("dot")
    if program is None:
        raise UsageError(
            f"--format {kind} draws with Graphviz's `dot`, which is not installed (Debian: apt-get install graphviz); "
            "--format dot or mermaid needs nothing"
        )
    return subprocess.run([program, f"-T{kind}"], input=dot(drawn).encode(), capture_output=True, check=True).stdout


def _all_nodes(drawn: Graph) -> list[Node]:
    return [*drawn.nodes, *(node for _, nodes in drawn.clusters.values() for node in nodes)]


def _node(node: Node) -> str:
    return f"{_quote(node.id)} [label={_quote(node.label)}, shape={node.shape}];"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'

"""Handing a team's apps from the platform's stack to the team's own: when a team moves from inline `apps` to its
own Score files (`workloads`), the platform's state forgets the objects of those apps without deleting them, and the
team's stack takes them over as they are (server-side apply of the same objects: no Deployment is replaced)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

APP_COMPONENT = "meshinstall:components:App"
ALERT_RULES = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"


def _namespace(resource: Mapping[str, Any]) -> str | None:
    """The namespace of a namespaced Kubernetes object of the state (its id is `namespace/name`)."""
    ident = str(resource.get("id") or "")
    return ident.partition("/")[0] if "/" in ident else None


def handed_over(deployment: Mapping[str, Any], namespaces: Iterable[str]) -> list[str]:
    """The URNs of the platform's state that teams now owning their workloads take over: each App component with
    objects in their `namespaces`, everything under it, and the apps' alert rules there."""
    wanted = set(namespaces)
    resources = deployment.get("resources") or []
    children: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for resource in resources:
        children[resource.get("parent", "")].append(resource)
    taken: list[str] = []

    def take(resource: Mapping[str, Any]) -> None:
        taken.append(resource["urn"])
        for child in children[resource["urn"]]:
            take(child)

    for resource in resources:
        kind = resource.get("type")
        if kind == APP_COMPONENT and any(_namespace(c) in wanted for c in children[resource["urn"]]):
            take(resource)
        elif kind == ALERT_RULES and _namespace(resource) in wanted:
            taken.append(resource["urn"])
    return taken


def namespaces_of(urns: Iterable[str], deployment: Mapping[str, Any]) -> set[str]:
    """The namespaces the objects `urns` of the deployment are in."""
    wanted = set(urns)
    return {ns for r in deployment.get("resources") or [] if r["urn"] in wanted and (ns := _namespace(r))}


def without(deployment: Mapping[str, Any], urns: Iterable[str]) -> dict[str, Any]:
    """The deployment with the resources `urns` forgotten, and every reference the others hold to them dropped."""
    gone = set(urns)
    kept = []
    for resource in deployment.get("resources") or []:
        if resource["urn"] in gone:
            continue
        resource = dict(resource)
        if resource.get("dependencies"):
            resource["dependencies"] = [d for d in resource["dependencies"] if d not in gone]
        if resource.get("propertyDependencies"):
            resource["propertyDependencies"] = {
                key: [d for d in deps if d not in gone] for key, deps in resource["propertyDependencies"].items()
            }
        if resource.get("deletedWith") in gone:
            resource.pop("deletedWith")
        kept.append(resource)
    return {**deployment, "resources": kept}

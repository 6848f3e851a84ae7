"""What a team's objects look like: namespace labels, quota, limits and default-deny policies, as pure functions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .. import MESH_MEMBER_LABEL, TEAM_LABEL, labels

if TYPE_CHECKING:
    import pulumi


TEAM_QUOTA = "team-quota"  # the ResourceQuota in each of a team's namespaces

# Namespaced rights of a team's developers: explicit resources and verbs, never wildcards.
DEVELOPER_RULES: list[dict[str, Any]] = [
    {
        "apiGroups": [""],
        "resources": ["pods", "pods/log", "services", "endpoints", "configmaps", "events", "serviceaccounts"],
        "verbs": ["get", "list", "watch"],
    },
    {"apiGroups": [""], "resources": ["pods/portforward"], "verbs": ["create"]},
    {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create", "update", "patch", "delete"]},
    {"apiGroups": ["apps"], "resources": ["deployments", "replicasets"], "verbs": ["get", "list", "watch"]},
    {"apiGroups": ["apps"], "resources": ["deployments/scale"], "verbs": ["get", "update", "patch"]},
    {
        "apiGroups": ["networking.istio.io"],
        "resources": ["virtualservices", "destinationrules"],
        "verbs": ["get", "list", "watch"],
    },
    {
        "apiGroups": ["security.istio.io"],
        "resources": ["authorizationpolicies", "peerauthentications"],
        "verbs": ["get", "list", "watch"],
    },
]


@dataclass(frozen=True)
class Quota:
    """A team's ResourceQuota in each of its namespaces: requested CPU and memory, and pods."""

    cpu: str
    memory: str
    pods: int


@dataclass(frozen=True)
class TeamArgs:
    """A team's namespaces, groups, quota and the labels namespaces need."""

    name: str
    namespaces: tuple[str, ...]
    groups: tuple[str, ...]
    quota: Quota
    pod_security: str
    namespace_labels: Mapping[str, str] = field(default_factory=dict)  # e.g. sidecar injection
    default_request: Mapping[str, str] = field(default_factory=lambda: {"cpu": "100m", "memory": "128Mi"})
    after: tuple[pulumi.Resource, ...] = ()  # the Istio CRDs the namespace policies need
    namespace_annotations: Mapping[str, str] = field(default_factory=dict)  # Linkerd's injection and default policy
    mesh: str = "istio"


def namespace_labels(args: TeamArgs) -> dict[str, str]:
    """Labels of each team namespace: Pod Security, injection, team and mesh membership."""
    return labels(
        **{
            "pod-security.kubernetes.io/enforce": args.pod_security,
            "pod-security.kubernetes.io/enforce-version": "latest",
            "pod-security.kubernetes.io/warn": args.pod_security,
            TEAM_LABEL: args.name,
            MESH_MEMBER_LABEL: "true",
        },
        **args.namespace_labels,
    )


def quota_spec(quota: Quota) -> dict[str, Any]:
    """ResourceQuota on requests and pod count."""
    return {"hard": {"requests.cpu": quota.cpu, "requests.memory": quota.memory, "pods": str(quota.pods)}}


def limit_range_spec(args: TeamArgs) -> dict[str, Any]:
    """Default requests for containers that state none (so the quota admits them)."""
    return {"limits": [{"type": "Container", "defaultRequest": dict(args.default_request)}]}


def deny_all_authorization() -> dict[str, Any]:
    """An empty AuthorizationPolicy spec: deny every request in the namespace unless another policy allows it."""
    return {}


def network_policies() -> dict[str, dict[str, Any]]:
    """Default-deny ingress, then admit traffic from namespaces that are part of the mesh."""
    return {
        "default-deny": {"podSelector": {}, "policyTypes": ["Ingress"]},
        "allow-mesh": {
            "podSelector": {},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {MESH_MEMBER_LABEL: "true"}}}]}],
        },
    }

"""One team's slice of the platform: namespaces, quota, limits, access and default-deny policies."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import pulumi
import pulumi_kubernetes as k8s

from ..schemas.model import Quota
from . import MESH_MEMBER_LABEL, TEAM_LABEL, labels, metadata

# Namespaced rights of a team's developers: explicit resources and verbs, never wildcards.
DEVELOPER_RULES: list[dict[str, Any]] = [
    {"apiGroups": [""], "resources": ["pods", "pods/log", "services", "endpoints", "configmaps", "events", "serviceaccounts"], "verbs": ["get", "list", "watch"]},
    {"apiGroups": [""], "resources": ["pods/portforward"], "verbs": ["create"]},
    {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create", "update", "patch", "delete"]},
    {"apiGroups": ["apps"], "resources": ["deployments", "replicasets"], "verbs": ["get", "list", "watch"]},
    {"apiGroups": ["apps"], "resources": ["deployments/scale"], "verbs": ["get", "update", "patch"]},
    {"apiGroups": ["networking.istio.io"], "resources": ["virtualservices", "destinationrules"], "verbs": ["get", "list", "watch"]},
    {"apiGroups": ["security.istio.io"], "resources": ["authorizationpolicies", "peerauthentications"], "verbs": ["get", "list", "watch"]},
]


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


class TeamSpace(pulumi.ComponentResource):
    """A team's namespaces with quota, limit range, RBAC and default-deny policies in each."""

    namespaces: dict[str, k8s.core.v1.Namespace]  # by name

    def __init__(self, name: str, args: TeamArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("meshinstall:components:Team", name, None, opts)
        self.namespaces = {}
        for ns in args.namespaces:
            namespace = k8s.core.v1.Namespace(
                f"{ns}-ns", metadata=metadata(ns, None, namespace_labels(args)), opts=pulumi.ResourceOptions(parent=self)
            )
            self.namespaces[ns] = namespace
            self._namespace_objects(ns, args, pulumi.ResourceOptions(parent=self, depends_on=[namespace, *args.after]))
        self.register_outputs({"namespaces": [n.metadata.name for n in self.namespaces.values()]})

    def _namespace_objects(self, ns: str, args: TeamArgs, opts: pulumi.ResourceOptions) -> None:
        def meta(name: str) -> k8s.meta.v1.ObjectMetaArgs:
            return metadata(name, ns, labels(**{TEAM_LABEL: args.name}))

        k8s.core.v1.ResourceQuota(f"{ns}-quota", metadata=meta("team-quota"), spec=quota_spec(args.quota), opts=opts)
        k8s.core.v1.LimitRange(f"{ns}-limits", metadata=meta("team-defaults"), spec=limit_range_spec(args), opts=opts)
        role = k8s.rbac.v1.Role(f"{ns}-role", metadata=meta("team-developer"), rules=DEVELOPER_RULES, opts=opts)
        if args.groups:
            k8s.rbac.v1.RoleBinding(
                f"{ns}-rolebinding",
                metadata=meta("team-developer"),
                role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "team-developer"},
                subjects=[{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": g} for g in args.groups],
                opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[role])),
            )
        k8s.apiextensions.CustomResource(
            f"{ns}-deny-all", api_version="security.istio.io/v1", kind="AuthorizationPolicy", metadata=meta("default-deny"), spec=deny_all_authorization(), opts=opts
        )
        for policy_name, spec in network_policies().items():
            k8s.networking.v1.NetworkPolicy(f"{ns}-{policy_name}", metadata=meta(policy_name), spec=spec, opts=opts)

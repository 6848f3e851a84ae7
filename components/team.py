"""One team's slice of the platform: namespaces, quota, limits, access and default-deny policies."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from . import TEAM_LABEL, labels, metadata
from .manifests.team import (
    DEVELOPER_RULES,
    TEAM_QUOTA,
    TeamArgs,
    deny_all_authorization,
    limit_range_spec,
    namespace_labels,
    network_policies,
    quota_spec,
)


class TeamSpace(pulumi.ComponentResource):
    """A team's namespaces with quota, limit range, RBAC and default-deny policies in each."""

    namespaces: dict[str, k8s.core.v1.Namespace]  # by name

    def __init__(self, name: str, args: TeamArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("meshinstall:components:Team", name, None, opts)
        self.namespaces = {}
        for ns in args.namespaces:
            namespace = k8s.core.v1.Namespace(
                f"{ns}-ns",
                metadata=metadata(ns, None, namespace_labels(args), dict(args.namespace_annotations)),
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.namespaces[ns] = namespace
            self._namespace_objects(ns, args, pulumi.ResourceOptions(parent=self, depends_on=[namespace, *args.after]))
        self.register_outputs({"namespaces": [n.metadata.name for n in self.namespaces.values()]})

    def _namespace_objects(self, ns: str, args: TeamArgs, opts: pulumi.ResourceOptions) -> None:
        def meta(name: str) -> k8s.meta.v1.ObjectMetaArgs:
            return metadata(name, ns, labels(**{TEAM_LABEL: args.name}))

        k8s.core.v1.ResourceQuota(f"{ns}-quota", metadata=meta(TEAM_QUOTA), spec=quota_spec(args.quota), opts=opts)
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
        if args.mesh != "istio":  # Linkerd: the namespace's `deny` default inbound policy (its annotations)
            self._network_policies(ns, meta, opts)
            return
        k8s.apiextensions.CustomResource(
            f"{ns}-deny-all",
            api_version="security.istio.io/v1",
            kind="AuthorizationPolicy",
            metadata=meta("default-deny"),
            spec=deny_all_authorization(),
            opts=opts,
        )
        self._network_policies(ns, meta, opts)

    @staticmethod
    def _network_policies(ns: str, meta: Callable[[str], Any], opts: pulumi.ResourceOptions) -> None:
        for policy_name, spec in network_policies().items():
            k8s.networking.v1.NetworkPolicy(f"{ns}-{policy_name}", metadata=meta(policy_name), spec=spec, opts=opts)

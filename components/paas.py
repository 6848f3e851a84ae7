"""The PaaS layer: the shared ingress Gateway, every team's space and every team's apps."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import pulumi
import pulumi_kubernetes as k8s

from ..schemas.model import Paas
from . import INGRESS_NAMESPACE, SHARED_GATEWAY, metadata
from .app import AppDeployment
from .manifests.app import AppArgs
from .manifests.team import TeamArgs
from .team import TeamSpace


@dataclass(frozen=True)
class PaasArgs:
    """Teams and apps, the labels namespaces need, and the resolved secret env of each app."""

    paas: Paas
    namespace_labels: Mapping[str, str]
    default_request: Mapping[str, str]
    secret_values: Mapping[tuple[str, str], Mapping[str, pulumi.Input[str]]] = field(default_factory=dict)  # (team, app) -> env
    after: tuple[pulumi.Resource, ...] = ()  # what apps and mesh policies wait for (istiod, its webhook, the CRDs)
    team_namespace_labels: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # a team's own (its revision's injection)


def gateway_spec(paas: Paas) -> dict[str, Any]:
    """The shared ingress Gateway: HTTP for the hosts, or HTTPS with a redirect when TLS is set."""
    hosts = list(paas.gateway.hosts) if paas.gateway else []
    selector = {"istio": "ingressgateway"}
    if paas.gateway and paas.gateway.tls:
        return {
            "selector": selector,
            "servers": [
                {"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": hosts, "tls": {"httpsRedirect": True}},
                {"port": {"number": 443, "name": "https", "protocol": "HTTPS"}, "hosts": hosts, "tls": {"mode": "SIMPLE", "credentialName": paas.gateway.tls.secret_name}},
            ],
        }
    return {"selector": selector, "servers": [{"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": hosts}]}


class PaasLayer(pulumi.ComponentResource):
    """Teams' namespaces first, then their apps, then the shared Gateway routed apps bind to."""

    app_namespaces: dict[str, str]

    def __init__(self, name: str, args: PaasArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("meshinstall:components:Paas", name, None, opts)
        paas = args.paas
        self.app_namespaces = {team.name: team.app_namespace for team in paas.teams}
        self.teams: dict[str, TeamSpace] = {}
        for team in paas.teams:
            team_args = TeamArgs(
                team.name, team.namespaces, team.groups, team.quota, paas.pod_security, args.team_namespace_labels.get(team.name, args.namespace_labels),
                args.default_request, args.after
            )
            self.teams[team.name] = TeamSpace(team.name, team_args, pulumi.ResourceOptions(parent=self))
        self.apps: list[AppDeployment] = []
        for team in paas.teams:
            space = self.teams[team.name]
            for app in team.apps:
                secret_values = args.secret_values.get((team.name, app.name), {})
                app_args = AppArgs(app, team.name, team.app_namespace, secret_values, self.app_namespaces, (*space.namespaces.values(), *args.after))
                self.apps.append(AppDeployment(f"{team.name}-{app.name}", app_args, pulumi.ResourceOptions(parent=self)))
        if paas.gateway:
            k8s.apiextensions.CustomResource(
                "shared-gateway",
                api_version="networking.istio.io/v1",
                kind="Gateway",
                metadata=metadata(SHARED_GATEWAY, INGRESS_NAMESPACE),
                spec=gateway_spec(paas),
                opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.after)),
            )
        self.register_outputs({"teams": sorted(self.teams)})
